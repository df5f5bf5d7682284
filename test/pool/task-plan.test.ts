import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeMeterReadingsInPool } from '../../adapters/cim/columnar-pool.js';
import { encodeMeterReadings } from '../../adapters/cim/meter-readings.js';
import { encodeCsvRows } from '../../adapters/csv/codec.js';
import { csvChunkRows, encodeCsvRowsInPool } from '../../adapters/csv/columnar-pool.js';
import type { CollectedReading } from '../../adapters/field-data.js';
import { WorkerPool } from '../../cluster/pool/pool.js';
import { groupStarts, taskCountFor } from '../../cluster/pool/task-plan.js';

const limits = { minItemsPerTask: 2000, maxItemsPerTask: 20_000 };

describe('task plan: how many tasks a batch becomes', () => {
  it('gives one task per thread for a batch that fits, a multiple of the threads for a big one, one for a small one', () => {
    expect(taskCountFor(7680, 2, limits)).toBe(2);
    expect(taskCountFor(100_000, 2, limits)).toBe(6); // 2 x ceil(100,000 / 40,000)
    expect(taskCountFor(100_000, 4, limits)).toBe(8);
    expect(taskCountFor(1500, 2, limits)).toBe(1); // below 2 x minItemsPerTask: splitting costs more than it saves
    expect(taskCountFor(0, 2, limits)).toBe(0);
  });

  it('cuts units into contiguous, non-empty groups of about equal weight, never more than asked unless a group would be too long (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.nat(5000), { minLength: 1, maxLength: 60 }),
        fc.integer({ min: 1, max: 10 }),
        fc.integer({ min: 1, max: 30 }),
        (weights, tasks, maxUnits) => {
          const starts = groupStarts(weights, tasks, maxUnits);
          expect(starts[0]).toBe(0);
          const ends = [...starts.slice(1), weights.length];
          for (const [g, start] of starts.entries()) {
            expect(ends[g]!).toBeGreaterThan(start);
            expect(ends[g]! - start).toBeLessThanOrEqual(maxUnits);
          }
          const minimumGroups = Math.max(
            Math.min(tasks, weights.length),
            Math.ceil(weights.length / maxUnits),
          );
          expect(starts.length).toBeGreaterThanOrEqual(Math.ceil(weights.length / maxUnits));
          if (maxUnits >= weights.length) expect(starts.length).toBe(Math.min(tasks, weights.length));
          expect(starts.length).toBeLessThanOrEqual(
            Math.max(minimumGroups, tasks + Math.ceil(weights.length / maxUnits)),
          );
        },
      ),
    );
  });

  it('splits eight messages of 960 readings into two tasks of four on two threads', () => {
    expect(groupStarts(Array(8).fill(960), taskCountFor(7680, 2, limits))).toEqual([0, 4]);
  });
});

const DAY_MS = Date.UTC(2026, 10, 22);
function messageOf(n: number, readings: number): CollectedReading[] {
  return Array.from({ length: readings }, (_, i) => ({
    meterSerial: `M${n}-${i % 7}`,
    usagePoint: `P${i % 7}`,
    kind: 'interval' as const,
    quantity: { source: 'profile' as const, quantity: 'activeImportInterval' as const },
    value: i,
    unit: 'Wh',
    timestampMs: DAY_MS + i * 900_000,
    intervalSeconds: 900,
  }));
}

describe('grouped pool encoding (inline pool: same task functions, counted tasks)', () => {
  it('encodes eight CIM messages in two tasks on two threads, each message byte-identical to the main thread', async () => {
    const pool = new WorkerPool({ mode: 'inline', threads: 2 });
    try {
      const jobs = Array.from({ length: 8 }, (_, n) => ({
        readings: messageOf(n, 960),
        options: { source: 't', messageId: `m${n}`, timestampMs: DAY_MS },
      }));
      const bytes = await encodeMeterReadingsInPool(pool, jobs);
      expect(pool.completed).toBe(2);
      expect(bytes).toHaveLength(8);
      for (const [i, job] of jobs.entries()) {
        const main = encodeMeterReadings(job.readings, { ...job.options, clock: { now: () => DAY_MS } });
        expect(Buffer.from(bytes[i]!).toString('utf8')).toBe(main);
      }
    } finally {
      await pool.close();
    }
  });

  it('encodes CSV rows in one chunk per thread by default, together exactly encodeCsvRows', async () => {
    const pool = new WorkerPool({ mode: 'inline', threads: 2 });
    try {
      const rows = messageOf(0, 7680).map((r) => ({
        serialnumber: r.meterSerial,
        pod: r.usagePoint!,
        value: r.value,
        state: 0,
        cimcode: '0.0.7.4.1.1.12.0.0.0.0.0.0.0.0.0.72.0',
        sampledate: r.timestampMs,
      }));
      expect(csvChunkRows(rows.length, 2)).toBe(3840);
      const chunks = await encodeCsvRowsInPool(pool, 'S', rows);
      expect(pool.completed).toBe(2);
      expect(Buffer.concat(chunks).toString('utf8')).toBe(encodeCsvRows('S', rows));
    } finally {
      await pool.close();
    }
  });
});
