import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { portFree } from '../../cluster/cli/up-ports.js';
import { meterfabricBin } from '../headend/support/up-process.js';
import { startTestEtcd, type TestEtcd } from '../support/etcd.js';
import { freePort } from '../support/ports.js';
import { listeningPorts } from '../support/proc.js';
import { type ProcessWithOutput, spawnWithOutput } from '../support/spawn-output.js';
import { waitFor } from '../support/wait.js';

/**
 * `meterfabric node` started against an etcd that accepts connections but never answers (frozen
 * by SIGSTOP, as a network black hole looks: the kernel completes the TCP handshakes, nothing
 * replies). Before, start() waited forever for the lease grant with no word: the process never
 * became ready nor exited, and systemd showed the unit "activating" indefinitely. Now the
 * etcd steps of the start share one deadline (cluster/node/start-steps.ts): the node says
 * MF_ETCD_UNREACHABLE naming the endpoint, stops what it had acquired (its ports, its stores)
 * and exits 1. An etcd that is gone (connection refused) fails the start at once, with the same
 * code rather than an uncaught gRPC error and its stack. Real etcd (frozen and thawed by its
 * PID) and real node processes (needs dist/: npm test builds first).
 */

/** The node's bound, given through the environment as an operator would (the default is 30 s). */
const etcdJoinTimeoutMs = 4_000;
/**
 * From the node's "listening" line to its exit, the worst case by design: the join deadline,
 * then stop()'s one etcd step that waits on a frozen etcd, the membership close (the lease
 * revoke awaits a grant that never comes; cluster/node/stop-steps.ts: 2 s). Plus 8 s for a
 * loaded box (2 shared cores).
 */
const exitWithinMs = etcdJoinTimeoutMs + 2_000 + 8_000;
/** How long the test waits before it calls a node that has not exited hung (and SIGKILLs it). */
const hungAfterMs = exitWithinMs + 30_000;

describe('starting a node while etcd does not answer, or is gone', () => {
  let etcd: TestEtcd | undefined;
  let frozen = false;
  let node: ProcessWithOutput | undefined;
  let dataDir: string | undefined;
  afterEach(async () => {
    if (node && node.child.exitCode === null && node.child.signalCode === null) {
      node.child.kill('SIGKILL');
      await node.exited;
    }
    node = undefined;
    // Thawed first: a frozen etcd ignores the SIGTERM its cleanup sends.
    if (etcd && frozen) process.kill(etcd.pid, 'SIGCONT');
    frozen = false;
    await etcd?.cleanup();
    etcd = undefined;
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    dataDir = undefined;
  });

  /** `meterfabric node` n1 on ports the OS picks, a fresh data directory, `etcd` as its etcd. */
  function spawnNode(etcdEndpoint: string, env: NodeJS.ProcessEnv = {}): ProcessWithOutput {
    dataDir = mkdtempSync(join(tmpdir(), 'mf-start-etcd-'));
    const args = ['node', '--id', 'n1', '--listen', '127.0.0.1:0', '--metrics', '127.0.0.1:0'];
    args.push('--data', join(dataDir, 'n1'), '--etcd', etcdEndpoint);
    node = spawnWithOutput(process.execPath, [meterfabricBin, ...args], {
      env: { ...process.env, MF_LOG_LEVEL: 'info', ...env },
    });
    return node;
  }

  it('exits 1 within its bound with MF_ETCD_UNREACHABLE naming etcd and the endpoint, after releasing its ports and stores', {
    timeout: 120_000,
  }, async () => {
    etcd = await startTestEtcd();
    process.kill(etcd.pid, 'SIGSTOP');
    frozen = true;
    const started = spawnNode(etcd.endpoint, { MF_ETCD_JOIN_TIMEOUT_MS: String(etcdJoinTimeoutMs) });
    const pid = started.child.pid!;
    await waitFor(() => started.stdout().includes('"event":"listening"'), 'the node to bind its gRPC port');
    const listeningAtMs = Date.now();
    // Its gRPC and metrics ports, both bound before it turns to etcd.
    const ports = await waitFor(() => {
      const bound = listeningPorts(pid);
      return bound.length >= 2 ? bound : undefined;
    }, 'the node to bind its gRPC and metrics ports');

    let hung: NodeJS.Timeout | undefined;
    const code = await Promise.race([
      started.exited,
      new Promise<'hung'>((resolve) => {
        hung = setTimeout(() => resolve('hung'), hungAfterMs);
      }),
    ]);
    clearTimeout(hung);
    const tookMs = Date.now() - listeningAtMs;
    console.log(`n1 ${code === 'hung' ? 'still running' : 'exited'} ${tookMs} ms after it bound its port`);
    const tail = started.output().split('\n').slice(-8).join('\n');
    expect(code, `the node exits; its output ends:\n${tail}`).toBe(1);
    expect(tookMs).toBeLessThan(exitWithinMs);
    expect(tookMs).toBeGreaterThanOrEqual(etcdJoinTimeoutMs - 500);
    expect(started.stderr()).toContain(
      `meterfabric node: etcd at ${etcd.endpoint} did not answer within ${etcdJoinTimeoutMs} ms while this node was joining (step: membership (lease grant, registration, member watch))`,
    );
    expect(started.stderr()).toContain('[MF_ETCD_UNREACHABLE]');
    expect(started.stdout()).not.toContain('"event":"ready"');
    // The log says why, then the failure path runs to its end (server shut down, stores
    // closed), and nothing it bound is still held.
    const log = started.stdout();
    const failedAt = log.indexOf('"code":"MF_ETCD_UNREACHABLE"');
    expect(failedAt, 'the log names the failure').toBeGreaterThan(-1);
    expect(log.slice(failedAt)).toContain(`etcd at ${etcd.endpoint} did not answer`);
    expect(log.indexOf('"msg":"node stopped"')).toBeGreaterThan(failedAt);
    expect(log).not.toContain('closing replicas failed');
    for (const port of ports) expect(await portFree(port), `port ${port} free`).toBe(true);
  });

  it('etcd gone (nothing listens on its port): exits 1 at once with MF_ETCD_UNREACHABLE naming the endpoint, not after the bound', {
    timeout: 60_000,
  }, async () => {
    const endpoint = `127.0.0.1:${await freePort()}`;
    const startedAtMs = Date.now();
    const started = spawnNode(endpoint);
    const code = await started.exited;
    const tookMs = Date.now() - startedAtMs;
    expect(code, `the node exits 1; its output:\n${started.output()}`).toBe(1);
    // Far below the 30 s default bound: a refused connection is an answer.
    expect(tookMs).toBeLessThan(15_000);
    expect(started.stderr()).toContain(
      `meterfabric node: cannot reach etcd at ${endpoint} while this node was joining (step: membership (lease grant, registration, member watch))`,
    );
    expect(started.stderr()).toContain('[MF_ETCD_UNREACHABLE]');
    // A typed error, not an uncaught one with Node's stack.
    expect(started.stderr()).not.toContain('    at ');
    expect(started.stdout()).toContain('"msg":"node stopped"');
  });
});
