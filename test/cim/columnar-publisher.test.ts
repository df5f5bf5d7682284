import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CimPublisher, type PublishedMessage } from '../../actors/integration/cim-publisher.js';
import type { OutputBatch } from '../../actors/integration/output-batch.js';
import {
  cimOutputArenas,
  encodeMeterReadingsMessagesBytes,
  encodeMeterReadingsMessagesLeased,
} from '../../adapters/cim/columnar-pool.js';
import { encodeMeterReadings } from '../../adapters/cim/meter-readings.js';
import type { CollectedReading } from '../../adapters/field-data.js';
import { WorkerPool } from '../../cluster/pool/pool.js';
import { ManualClock } from '../../core/clock.js';

/**
 * CimPublisher with the node's worker pool: MeterReadings messages encoded in the workers are
 * the same text, files and MessageIDs as encoded inline.
 */
const t0 = Date.UTC(2026, 2, 10);
const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

function readings(n: number): CollectedReading[] {
  return Array.from({ length: n }, (_, i) => ({
    meterSerial: `M<${i % 50}>&`,
    usagePoint: `P${i % 50}`,
    kind: 'interval' as const,
    quantity: { source: 'profile' as const, quantity: 'activeImportInterval' as const },
    value: i / 4,
    unit: 'Wh',
    timestampMs: t0 + 900_000 * (i % 96),
    intervalSeconds: 900,
  }));
}

async function filesOf(dir: string): Promise<Map<string, string>> {
  const sub = join(dir, 'cim', 'MeterReadings');
  const out = new Map<string, string>();
  for (const f of (await readdir(sub)).sort()) out.set(f, await readFile(join(sub, f), 'utf8'));
  return out;
}

/** Bytes as a string of one char per byte: byte-exact, and compared fast (deep-equal over bytes is slow). */
const latin1 = (bytes: Uint8Array) =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
const comparable = (m: PublishedMessage) => ({ ...m, bytes: latin1(m.bytes) });

describe('CIM MeterReadings through the worker pool', () => {
  it('encodeMeterReadingsMessagesBytes gives the UTF-8 bytes of what encodeMeterReadings gives, with and without a pool', async () => {
    const pool = new WorkerPool({ mode: 'inline', threads: 2 });
    try {
      const clock = new ManualClock(t0 + 86_400_000);
      const jobs = [0, 1, 2].map((k) => ({
        readings: readings(700 + k * 900),
        options: { messageId: `m${k}`, source: 'n1', clock, profile: 'seed-compat' as const },
      }));
      const want = jobs.map((j) => latin1(Buffer.from(encodeMeterReadings(j.readings, j.options), 'utf8')));
      const asBuffers = (list: Uint8Array[]) => list.map(latin1);
      const before0 = pool.completed;
      expect(asBuffers(await encodeMeterReadingsMessagesBytes(pool, jobs))).toEqual(want);
      expect(pool.completed).toBeGreaterThan(before0); // through the pool's tasks
      expect(asBuffers(await encodeMeterReadingsMessagesBytes(undefined, jobs))).toEqual(want);
      // Lent (the publisher with an out dir): the same bytes, read before the release.
      for (const p of [pool, undefined]) {
        const lease = await encodeMeterReadingsMessagesLeased(p, jobs);
        expect(asBuffers(lease.bytes)).toEqual(want);
        lease.release();
      }
      // Fewer readings than minReadings: encoded inline, not a task more.
      const before = pool.completed;
      expect(asBuffers(await encodeMeterReadingsMessagesBytes(pool, jobs, 10_000))).toEqual(want);
      expect(pool.completed).toBe(before);
    } finally {
      await pool.close();
    }
  });

  it('CimPublisher writes the same MeterReadings files and announces the same messages with a worker pool (bytes lent, arenas reused)', async () => {
    const pool = new WorkerPool({ mode: 'workers', threads: 2 });
    try {
      const [pooledDir, plainDir] = [
        await mkdtemp(join(tmpdir(), 'mf-cim-pool-')),
        await mkdtemp(join(tmpdir(), 'mf-cim-plain-')),
      ];
      dirs.push(pooledDir, plainDir);
      const clock = new ManualClock(t0 + 86_400_000);
      const common = { source: 'n1', clock, maxReadingsPerMessage: 2000 };
      const pooled = new CimPublisher({ ...common, outDir: pooledDir, pool });
      const plain = new CimPublisher({ ...common, outDir: plainDir });
      // Live subscribers take what they keep during the call: the pooled bytes are lent from the arenas.
      const heard = (p: CimPublisher) => {
        const out: ReturnType<typeof comparable>[] = [];
        p.subscribe(0, (m) => out.push(comparable(m)));
        return out;
      };
      const [heardPooled, heardPlain] = [heard(pooled), heard(plain)];
      let arenasAfterFirst = 0;
      for (let seq = 1; seq <= 3; seq++) {
        const batch: OutputBatch = { csv: {}, readings: readings(5000), events: [] };
        const a = await pooled.publish(batch, seq);
        const b = await plain.publish(batch, seq);
        expect(a).toEqual(b);
        expect(a).toHaveLength(3);
        if (seq === 1) arenasAfterFirst = cimOutputArenas.created;
      }
      expect(heardPooled).toHaveLength(9);
      expect(heardPooled).toEqual(heardPlain);
      // Released after each batch was written and announced: the next batches reuse the arenas.
      expect(cimOutputArenas.created).toBe(arenasAfterFirst);
      // And a resuming subscriber reads the same bytes back from the files.
      const resumed: ReturnType<typeof comparable>[] = [];
      await pooled.subscribe(0, (m) => resumed.push(comparable(m))).caughtUp;
      expect(resumed).toEqual(heardPlain);
      // 3 messages a batch (2000 + 2000 + 1000 readings), grouped into one task per worker.
      expect(pool.completed).toBe(3 * 2);
      const want = await filesOf(plainDir);
      expect(want.size).toBe(9);
      expect(await filesOf(pooledDir)).toEqual(want);
    } finally {
      await pool.close();
    }
  });
});
