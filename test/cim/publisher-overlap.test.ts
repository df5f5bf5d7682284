import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CimPublisher, messageXml, type PublishedMessage } from '../../actors/integration/cim-publisher.js';
import type { OutputBatch } from '../../actors/integration/output-batch.js';
import { WorkerPool } from '../../cluster/pool/pool.js';
import { ManualClock } from '../../core/clock.js';
import { hourlyReadings } from './support/hourly-readings.js';

/**
 * Overlapping CimPublisher.publish calls (several batches in flight): each batch is encoded at
 * once, but its files, its batches.log line and its announcement to subscribers come strictly in
 * call order, and a replay racing its original publishes once. The first batch is large and
 * encoded in real worker threads; the second is small and encoded inline, so it is ready first.
 */
const t0 = Date.UTC(2026, 2, 10);
const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

function batchOf(n: number, tag: string): OutputBatch {
  const readings = hourlyReadings(n, tag, 40, t0);
  return { csv: {}, readings, events: [] };
}

describe('CimPublisher with batches in flight', () => {
  it('writes, logs and announces overlapping batches in call order, and a racing replay once', async () => {
    const outDir = await mkdtemp(join(tmpdir(), 'mf-cim-overlap-'));
    dirs.push(outDir);
    const pool = new WorkerPool({ mode: 'workers', threads: 2 });
    try {
      const publisher = await CimPublisher.open({ outDir, source: 'n1', clock: new ManualClock(t0), pool });
      const heard: PublishedMessage[] = [];
      // Copied: bytes encoded in the pool are lent for the listener's call only.
      publisher.subscribe(0, (m) => heard.push({ ...m, bytes: m.bytes.slice() }));
      const results = await Promise.all([
        publisher.publish(batchOf(12_000, 'A'), 1),
        publisher.publish(batchOf(20, 'B'), 2),
        publisher.publish(batchOf(20, 'B'), 2),
        publisher.publish(batchOf(30, 'C'), 3),
      ]);
      expect(results.map((r) => r.length)).toEqual([3, 1, 0, 1]);
      const positions = heard.map((m) => m.position);
      expect(positions).toEqual([...positions].sort((a, b) => a - b));
      expect(heard.map((m) => Math.floor(m.position / 2 ** 20))).toEqual([1, 1, 1, 2, 3]);
      const log = await readFile(join(outDir, 'cim', 'batches.log'), 'utf8');
      expect(log).toBe('1 3 0\n2 1 0\n3 1 0\n');
      expect((await readdir(join(outDir, 'cim', 'MeterReadings'))).length).toBe(5);
      expect(publisher.lastPublishedSeq).toBe(3);
      // The retained window after a restart is the same messages, in the same order.
      const reopened = await CimPublisher.open({ outDir, source: 'n1', clock: new ManualClock(t0) });
      const restored: PublishedMessage[] = [];
      await reopened.subscribe(0, (m) => restored.push(m)).caughtUp;
      expect(restored.map((m) => [m.position, m.messageId, messageXml(m)])).toEqual(
        heard.map((m) => [m.position, m.messageId, messageXml(m)]),
      );
    } finally {
      await pool.close();
    }
  });
});
