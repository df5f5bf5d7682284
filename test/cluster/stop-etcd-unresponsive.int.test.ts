import { afterEach, describe, expect, it } from 'vitest';
import { TestCluster } from './support/test-cluster.js';

/**
 * A node stopped while etcd accepts connections but never answers (a frozen etcd: SIGSTOP, as
 * a network black hole would look): the kernel still completes etcd's TCP handshakes and takes
 * the bytes sent, so no call is refused and none is answered. Unlike a SIGKILLed etcd
 * (drain-etcd-gone.int.test.ts) nothing fails fast: every step of stop() that waits for etcd
 * (cancelling a watch, revoking the lease) would wait forever. The node must still exit, name
 * the steps it gave up on, and close its stores cleanly. Real etcd and node processes (needs
 * dist/: npm test builds first); etcd is frozen and thawed by its PID.
 */

const leaseTtlMs = 3_000;
/**
 * From SIGTERM to exit, the worst case by design: the drain ends once the lease is no longer
 * valid (at most TTL − margin after the last answered keepalive, < 3 s), the FM resignation
 * gives up after 2 s, then each of the four etcd steps of stop() after its own 2 s
 * (cluster/node/stop-steps.ts: stopStepTimeoutMs): 13 s; measured 12.1 s. Plus 5 s for a
 * loaded box (2 shared cores). Without the bounds the node never exits.
 */
const exitWithinMs = leaseTtlMs + 2_000 + 4 * 2_000 + 5_000;
/** How long the test waits before it calls a node that has not exited hung (and SIGKILLs it). */
const hungAfterMs = exitWithinMs + 20_000;
/** The etcd steps of stop() that wait forever on a frozen etcd, as the node's log names them. */
const etcdSteps = [
  'actor proxy close (etcd watches, peer channels)',
  'FM election close (etcd watch)',
  'configuration watch cancel (etcd)',
  'membership close (etcd watch, lease revoke)',
];

describe('stopping a node while etcd does not answer', () => {
  let started: TestCluster | undefined;
  let frozenEtcdPid: number | undefined;
  afterEach(async () => {
    // Thawed first: a frozen etcd ignores the SIGTERM its cleanup sends.
    if (frozenEtcdPid !== undefined) {
      try {
        process.kill(frozenEtcdPid, 'SIGCONT');
      } catch {
        // already gone
      }
      frozenEtcdPid = undefined;
    }
    await started?.stop();
    started = undefined;
  });

  it('SIGTERM with etcd frozen: the node exits within its bound, logs each etcd step it gave up on, closes its stores, and restarts on them with its data', {
    timeout: 240_000,
  }, async () => {
    const c = await TestCluster.start({ nodes: 1, leaseTtlMs, env: { MF_INITIAL_CLUSTER_SIZE: '1' } });
    started = c;
    await c.waitStable(1);
    const proxy = await c.proxy();
    const keys = ['bh-a', 'bh-b', 'bh-c', 'bh-d', 'bh-e', 'bh-f', 'bh-g', 'bh-h'];
    for (const [i, key] of keys.entries())
      await proxy.call('counter', key, 'increment', { by: i + 1 }, { idempotencyKey: `bh-${key}` });

    process.kill(c.etcd.pid, 'SIGSTOP');
    frozenEtcdPid = c.etcd.pid;
    const proc = c.nodes.get('n1')!.proc!;
    const signalledAtMs = Date.now();
    const exited = c.signal('n1', 'SIGTERM');
    let hung: NodeJS.Timeout | undefined;
    const code = await Promise.race([
      exited,
      new Promise<'hung'>((resolve) => {
        hung = setTimeout(() => resolve('hung'), hungAfterMs);
      }),
    ]);
    clearTimeout(hung);
    const tookMs = Date.now() - signalledAtMs;
    console.log(
      `n1 ${code === 'hung' ? 'still running' : 'exited'} ${tookMs} ms after SIGTERM with etcd frozen`,
    );
    if (code === 'hung') proc.kill('SIGKILL');
    const log = c.log('n1');
    expect(code, `n1 exits; its log ends:\n${log.split('\n').slice(-8).join('\n')}`).toBe(0);
    expect(tookMs).toBeLessThan(exitWithinMs);
    expect(log).toContain('drain: lease lost; stopping with primaries here');
    for (const step of etcdSteps)
      expect(log).toContain(`stop: ${step} did not finish within 2000 ms; going on`);
    // The stores are closed after the last network step; the node says so once they are.
    const stoppedAt = log.indexOf('"msg":"node stopped"');
    expect(stoppedAt).toBeGreaterThan(log.indexOf(`stop: ${etcdSteps.at(-1)}`));
    expect(log).not.toContain('closing replicas failed');

    // Thawed, etcd answers again: the node restarts on the same data directory and every
    // counter reads what was acknowledged before the stop.
    process.kill(c.etcd.pid, 'SIGCONT');
    frozenEtcdPid = undefined;
    const firstRunChars = log.length;
    await c.startNode('n1');
    await c.waitStable(1);
    for (const [i, key] of keys.entries()) {
      const got = await proxy.call<{ value: number }>('counter', key, 'get', null);
      expect(got.value, key).toBe(i + 1);
    }
    const restartLog = c.log('n1').slice(firstRunChars);
    expect(restartLog).toContain('node started');
    expect(restartLog).not.toMatch(/corrupt|replica log write failed|"level":50|"level":60/i);
  });
});
