import { afterEach, describe, expect, it } from 'vitest';
import { keys } from '../../cluster/membership/etcd-client.js';
import type { NodeRecord } from '../../cluster/membership/membership.js';
import { waitFor } from '../support/wait.js';
import { TestCluster } from './support/test-cluster.js';

/**
 * A node told to drain while etcd is gone (SIGKILLed, as when `up` is killed and etcd, tied to
 * it, exits): no failover manager can move its primaries, so `ClusterNode.drain` stops waiting
 * as soon as it can tell, not after its 20 s bound. Real etcd and node processes (needs dist/:
 * npm test builds first); etcd is killed by its PID.
 */

/** `ClusterNode.drain`'s own bound: without the early stop the node exits only after it. */
const drainTimeoutMs = 20_000;
/**
 * What the node may take from etcd's death to its exit: its lease stays valid at most TTL −
 * margin (2.5 s) after the last keepalive etcd answered, then stop() takes ms (each etcd call is
 * refused at once); plus 7 s for a loaded box (2 shared cores). Well below drainTimeoutMs.
 */
const exitWithinMs = (leaseTtlMs: number) => leaseTtlMs + 7_000;

const cluster = 'meterfabric';

describe('a drain while etcd is gone', () => {
  let started: TestCluster | undefined;
  afterEach(async () => {
    await started?.stop();
    started = undefined;
  });

  /** Three stable nodes; the one with the most primaries, and the others. */
  async function startWithVictim(): Promise<{ c: TestCluster; victim: string; others: string[] }> {
    const c = await TestCluster.start({ nodes: 3 });
    started = c;
    const configs = await c.waitStable(3);
    const primaries = new Map<string, number>();
    for (const config of configs.values())
      primaries.set(config.primary!, (primaries.get(config.primary!) ?? 0) + 1);
    const [victim] = [...primaries].sort((a, b) => b[1] - a[1])[0]!;
    expect(primaries.get(victim)).toBeGreaterThan(0);
    return { c, victim, others: [...c.nodes.keys()].filter((id) => id !== victim) };
  }

  it('etcd dying after the node marked itself draining: it stops waiting once its lease is no longer valid, exits well within the 20 s bound, and logs why', {
    timeout: 240_000,
  }, async () => {
    const { c, victim, others } = await startWithVictim();
    // Frozen, the other nodes move nothing (neither as FM nor as fenced new primaries), yet
    // their records stay for a lease TTL, so the victim still sees nodes that could take over:
    // only etcd's death can end its drain early.
    for (const id of others) await c.signal(id, 'SIGSTOP');
    const exited = c.signal(victim, 'SIGTERM');
    await waitFor(
      async () => {
        const value = await c.client.get(keys.node(cluster, victim)).string();
        return value !== null && (JSON.parse(value) as NodeRecord).draining;
      },
      `${victim}'s draining mark in etcd`,
      10_000,
      20,
    );
    const members = await c.client.getAll().prefix(keys.nodes(cluster)).keys();
    expect(members.length, 'the frozen nodes are still members when etcd dies').toBe(3);

    process.kill(c.etcd.pid, 'SIGKILL');
    const killedAtMs = Date.now();
    expect(await exited).toBe(0);
    const tookMs = Date.now() - killedAtMs;
    console.log(`${victim} exited ${tookMs} ms after etcd's SIGKILL`);

    expect(tookMs).toBeLessThan(exitWithinMs(c.leaseTtlMs));
    expect(exitWithinMs(c.leaseTtlMs)).toBeLessThan(drainTimeoutMs);
    const log = c.log(victim);
    expect(log).toContain('drain: lease lost; stopping with primaries here');
    expect(log).not.toContain('drain timed out');
    expect(log).toContain('node stopped');
  });

  it('etcd gone before the drain began: the node cannot mark itself draining, stops at once and logs why', {
    timeout: 240_000,
  }, async () => {
    const { c, victim } = await startWithVictim();
    process.kill(c.etcd.pid, 'SIGKILL');
    const killedAtMs = Date.now();
    expect(await c.signal(victim, 'SIGTERM')).toBe(0);
    const tookMs = Date.now() - killedAtMs;
    console.log(`${victim} exited ${tookMs} ms after etcd's SIGKILL`);

    expect(tookMs).toBeLessThan(exitWithinMs(c.leaseTtlMs));
    const log = c.log(victim);
    expect(log).toContain('drain: cannot mark this node draining in etcd; stopping with primaries here');
    expect(log).toContain('node stopped');
  });
});
