/**
 * The test-only hooks behind the injected-bug chaos tests: the controlled node clock
 * (MF_CHAOS_CLOCK_CONTROL) and the ack-before-persist write-back window. Each is off unless
 * its switch names it; on, it does what the chaos nemeses rely on and nothing worse.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ControlledClock, chaosClockFromEnv } from '../../cluster/node/chaos-clock.js';
import { ACK_BEFORE_PERSIST_FLUSH_MS, parseFaults } from '../../cluster/replicator/faults.js';
import { encodeStateOp } from '../../cluster/replicator/state-ops.js';
import { enc, removeNodeData, startNode, type TestNode } from '../replicator/support.js';
import { waitFor } from '../support/wait.js';

const dirs: string[] = [];
let nodes: TestNode[] = [];
afterEach(async () => {
  for (const n of nodes) await n.stop().catch(() => {});
  for (const n of nodes) removeNodeData(n);
  nodes = [];
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'mf-chaos-hooks-'));
  dirs.push(dir);
  return dir;
}

describe('controlled node clock (MF_CHAOS_CLOCK_CONTROL, test-only)', () => {
  it('is off unless the variable names a folder', () => {
    expect(chaosClockFromEnv('n1', {})).toBeUndefined();
    expect(chaosClockFromEnv('n1', { MF_CHAOS_CLOCK_CONTROL: tempDir() })).toBeInstanceOf(ControlledClock);
  });

  it('runs at the rate in <dir>/<node>.rate, never goes back, and returns to real time when the file goes', () => {
    const dir = tempDir();
    const file = join(dir, 'n1.rate');
    let real = 1_000_000;
    const clock = new ControlledClock(file, () => real);
    expect(clock.now()).toBe(1_000_000); // no file: real time
    real += 1_000;
    expect(clock.now()).toBe(1_001_000);
    writeFileSync(file, '0.1\n');
    real += 100; // past the re-read interval: the new rate applies from here
    const slowedAt = clock.now();
    expect(slowedAt).toBe(1_001_100);
    real += 10_000;
    expect(clock.now()).toBe(slowedAt + 1_000); // ten times slower
    writeFileSync(file, 'not a number');
    real += 1_000;
    const back = clock.now(); // unreadable: real time again, from where it was (no jump back)
    expect(back).toBeGreaterThanOrEqual(slowedAt + 1_000);
    rmSync(file);
    real += 2_000;
    expect(clock.now()).toBe(back + 2_000);
  });
});

const entries = (from: number, count: number, epoch: number) =>
  Array.from({ length: count }, (_, i) => ({
    lsn: from + i,
    epoch,
    ops: [encodeStateOp({ kind: 'put', key: `k${from + i}`, value: enc('v') })],
  }));

describe('ack-before-persist write-back window (MF_FAULT_INJECT, test-only)', () => {
  it('acknowledges at once, persists only at the lazy flush; a truncate after it still lands last on disk', async () => {
    const liar = await startNode('liar', {}, parseFaults('ack-before-persist'));
    nodes = [liar];
    const replica = await liar.host.replica('g/lazy');
    const { token } = await replica.secondary.accept(1, 'p', () => {});
    const acked = await replica.secondary.receive(token, {
      epoch: 1,
      entries: entries(1, 50, 1),
      commitLsn: 0,
      compactBelowLsn: 0,
    });
    expect(acked).toBe(50);
    // acknowledged, yet not even handed to the disk writer for a while
    await new Promise((r) => setTimeout(r, ACK_BEFORE_PERSIST_FLUSH_MS / 5));
    expect(replica.log.persistedLsn).toBe(0);
    await waitFor(() => replica.log.persistedLsn === 50, 'the lazy flush', 10_000);
    // a second lazy batch, then a cut: the cut is written after the batch it follows
    await replica.secondary.receive(token, {
      epoch: 1,
      entries: entries(51, 10, 1),
      commitLsn: 0,
      compactBelowLsn: 0,
    });
    expect(replica.log.persistedLsn).toBe(50);
    await replica.secondary.truncate(token, 1, 40);
    await new Promise((r) => setTimeout(r, ACK_BEFORE_PERSIST_FLUSH_MS * 2));
    expect(replica.log.lastLsn).toBe(40);
    await liar.stop();
    await liar.restart();
    const reopened = await liar.host.replica('g/lazy');
    expect(reopened.log.lastLsn).toBe(40);
    expect(reopened.log.persistedLsn).toBe(40);
  });

  it('off, a secondary acknowledges only what is on disk', async () => {
    const honest = await startNode('honest');
    nodes = [honest];
    const replica = await honest.host.replica('g/honest');
    const { token } = await replica.secondary.accept(1, 'p', () => {});
    const acked = await replica.secondary.receive(token, {
      epoch: 1,
      entries: entries(1, 20, 1),
      commitLsn: 0,
      compactBelowLsn: 0,
    });
    expect(acked).toBe(20);
    expect(replica.log.persistedLsn).toBe(20);
  });
});
