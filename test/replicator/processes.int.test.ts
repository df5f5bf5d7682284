import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ReplicaControlClient } from '../../cluster/replicator/grpc/control-service.js';
import { standaloneReplicaSpawnPlan } from '../../cluster/replicator/standalone-spawn.js';
import { encodeStateOp } from '../../cluster/replicator/state-ops.js';
import { distPath } from '../../core/paths.js';
import { consecutiveFreePorts } from '../support/ports.js';
import { waitFor } from '../support/wait.js';
import { config, dec, enc, removeNodeData, startNode, type TestNode } from './support.js';

const MAIN = distPath('cluster', 'replicator', 'standalone-main.js');

type Proc = { id: string; address: string; dataDir: string; child: ChildProcess | null };

function launch(p: Proc): Promise<void> {
  // Tied to this test process (as TestCluster ties its nodes): a killed run leaves no replica.
  const plan = standaloneReplicaSpawnPlan(['--id', p.id, '--listen', p.address, '--data', p.dataDir]);
  const child = spawn(plan.command, plan.args, {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, MF_LOG_LEVEL: 'warn' },
    detached: plan.detached,
  });
  p.child = child;
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${p.id} exited early with ${code}`)));
    child.stdout!.on('data', (chunk: Buffer) => {
      if (chunk.toString().startsWith('ready')) resolve();
    });
  });
}

function kill(p: Proc): Promise<void> {
  const child = p.child;
  p.child = null;
  if (!child || child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

const put = (key: string, value: string) => encodeStateOp({ kind: 'put', key, value: enc(value) });
const procs: Proc[] = [];
const clients: ReplicaControlClient[] = [];
let primaryNode: TestNode | null = null;
let base = '';

beforeAll(() => {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` first`);
});

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const p of procs.splice(0)) await kill(p);
  if (primaryNode) {
    await primaryNode.stop().catch(() => {});
    removeNodeData(primaryNode);
    primaryNode = null;
  }
  if (base) rmSync(base, { recursive: true, force: true });
});

describe('replication with secondaries in separate processes (SIGKILL, SIGSTOP)', () => {
  it('commits with 2 of 3 after a SIGKILL, refuses writes at quorum loss, and the killed secondary recovers from its disk', async () => {
    base = mkdtempSync(join(tmpdir(), 'mf-repl-proc-'));
    for (const id of ['s1', 's2']) {
      procs.push({
        id,
        address: `127.0.0.1:${await consecutiveFreePorts(1)}`,
        dataDir: join(base, id),
        child: null,
      });
    }
    await Promise.all(procs.map(launch));
    const [s1, s2] = procs as [Proc, Proc];
    primaryNode = await startNode('p', { writeTimeoutMs: 3_000, quorumLossGraceMs: 500 });
    const addresses: Record<string, string> = { p: primaryNode.address, s1: s1.address, s2: s2.address };
    const primary = await primaryNode.host.replica('proc/0');
    await primary.becomePrimary(config('proc/0', 1, 'p', ['p', 's1', 's2']), (n) => addresses[n]);

    const acked: number[] = [];
    const writeBatch = async (from: number, count: number) => {
      const results = await Promise.allSettled(
        Array.from({ length: count }, (_, i) => primary.replicate([put(`k${from + i}`, `v${from + i}`)])),
      );
      results.forEach((r, i) => {
        if (r.status === 'fulfilled') acked.push(from + i);
      });
      return results;
    };
    expect((await writeBatch(0, 100)).every((r) => r.status === 'fulfilled')).toBe(true);
    // SIGKILL one secondary while writes are in flight: every write still commits with 2 of 3
    const inFlight = writeBatch(100, 100);
    await kill(s1);
    expect((await inFlight).every((r) => r.status === 'fulfilled')).toBe(true);
    expect((await writeBatch(200, 100)).every((r) => r.status === 'fulfilled')).toBe(true);

    // the second secondary dies too: quorum loss, a clear error, nothing acknowledged is lost
    await kill(s2);
    const refused = await writeBatch(300, 10);
    for (const r of refused) {
      expect(r.status).toBe('rejected');
      expect((r as PromiseRejectedResult).reason.code).toMatch(/^MF_(NO_WRITE_QUORUM|QUORUM_LOSS)$/);
    }
    await waitFor(
      () =>
        primary.replicate([put('probe', 'x')]).then(
          () => false,
          (e: { code: string; message: string }) =>
            e.code === 'MF_QUORUM_LOSS' && /lost its write quorum/.test(e.message),
        ),
      'quorum loss reported',
    );
    for (const i of acked) expect(dec(await primary.get(`k${i}`))).toBe(`v${i}`);

    // s1 restarts from its data directory: it catches up and writes resume
    await launch(s1);
    const control = new ReplicaControlClient(s1.address);
    clients.push(control);
    await waitFor(
      () =>
        primary.replicate([put('resumed', 'yes')]).then(
          () => true,
          () => false,
        ),
      'writes resume once s1 is back',
      20_000,
    );
    const committed = primary.status().committedLsn;
    await waitFor(
      async () => (await control.status('proc/0')).appliedLsn >= committed,
      's1 applies up to the commit LSN',
      20_000,
    );
    const status = await control.status('proc/0');
    expect(status).toMatchObject({ role: 'active-secondary', epoch: 1, lastPersistedEpoch: 1 });
    expect(acked.length).toBe(300);
  });

  it('a paused secondary (SIGSTOP) does not block commits; after SIGCONT it catches up', async () => {
    base = mkdtempSync(join(tmpdir(), 'mf-repl-proc-'));
    for (const id of ['s1', 's2']) {
      procs.push({
        id,
        address: `127.0.0.1:${await consecutiveFreePorts(1)}`,
        dataDir: join(base, id),
        child: null,
      });
    }
    await Promise.all(procs.map(launch));
    const [s1, s2] = procs as [Proc, Proc];
    primaryNode = await startNode('p', { writeTimeoutMs: 3_000 });
    const addresses: Record<string, string> = { p: primaryNode.address, s1: s1.address, s2: s2.address };
    const primary = await primaryNode.host.replica('proc/1');
    await primary.becomePrimary(config('proc/1', 1, 'p', ['p', 's1', 's2']), (n) => addresses[n]);
    await primary.replicate([put('before', '1')]);
    s2.child!.kill('SIGSTOP');
    try {
      for (let i = 0; i < 50; i++) await primary.replicate([put(`k${i}`, `${i}`)]);
      expect(dec(await primary.get('k49'))).toBe('49');
    } finally {
      s2.child!.kill('SIGCONT');
    }
    const control = new ReplicaControlClient(s2.address);
    clients.push(control);
    const committed = primary.status().committedLsn;
    await waitFor(
      async () => (await control.status('proc/1')).appliedLsn >= committed,
      's2 catches up after SIGCONT',
      20_000,
    );
  });
});
