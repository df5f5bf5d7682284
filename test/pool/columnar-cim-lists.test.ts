import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeMeterReadingsLeased, type MeterReadingsMessageJob } from '../../adapters/cim/columnar-pool.js';
import {
  packReadingLists,
  packReadings,
  readingListColumns,
  unpackReadings,
} from '../../adapters/cim/columnar-readings.js';
import { encodeMeterReadingsBytes } from '../../adapters/cim/meter-readings.js';
import { encodeMeterReadingListsInto, maxJobsPerTask } from '../../adapters/cim/pool-tasks.js';
import type { CollectedReading } from '../../adapters/field-data.js';
import { arenaMessage } from '../../cluster/pool/output-arena.js';
import { WorkerPool } from '../../cluster/pool/pool.js';
import { collectedReadings } from '../cim/support/reading-arbitrary.js';

/**
 * A pool task's messages packed as one batch (adapters/cim/columnar-readings.ts
 * `packReadingLists`, pool-tasks.ts `encodeMeterReadingListsInto`): the same readings per
 * message, the same bytes as the main thread, and a forged batch refused before anything is
 * written.
 */

const reading = collectedReadings({
  meterSerial: fc.constantFrom('M1', 'M2', 'M&3'),
  usagePoint: fc.option(fc.constantFrom('P1', 'P<2', ''), { nil: undefined }),
  value: fc.integer({ min: -1e9, max: 1e9 }),
  timestampMs: fc.integer({ min: Date.UTC(2020, 0, 1), max: Date.UTC(2030, 0, 1) }),
  qualities: fc.option(fc.array(fc.constantFrom('1.0.0', '1.4.5'), { maxLength: 2 }), { nil: undefined }),
});
const lists = fc.array(fc.array(reading, { maxLength: 12 }), { maxLength: 6 });

function meterReadings(count: number, meterPrefix: string): CollectedReading[] {
  return Array.from({ length: count }, (_, i) => ({
    meterSerial: `${meterPrefix}${i % 5}`,
    usagePoint: `POD${i % 5}`,
    kind: 'interval' as const,
    quantity: { source: 'profile' as const, quantity: 'activeImportInterval' as const },
    value: i,
    unit: 'Wh',
    timestampMs: Date.UTC(2026, 10, 22) + i * 900_000,
    intervalSeconds: 900,
  }));
}

const at = Date.UTC(2026, 10, 23);
const optionsOf = (i: number) => ({ source: 'n1', messageId: `m${i}`, timestampMs: at });

describe('reading lists packed as one batch', () => {
  const inline = new WorkerPool({ mode: 'inline', threads: 2 });
  afterAll(() => inline.close());

  it('gives back each list as the readings packReadings would give (property)', () => {
    fc.assert(
      fc.property(lists, (given) => {
        const batch = packReadingLists(given);
        expect(batch.ends).toHaveLength(given.length);
        for (const [i, list] of given.entries())
          expect(unpackReadings(readingListColumns(batch, i))).toEqual(unpackReadings(packReadings(list)));
      }),
      { numRuns: 200 },
    );
  });

  it('keeps one table for the whole batch: a string or type shared by lists is there once', () => {
    const batch = packReadingLists([meterReadings(10, 'A'), meterReadings(10, 'B'), meterReadings(10, 'A')]);
    // A0-A4, POD0-POD4, B0-B4: the second 'A' list and every POD reuse entries.
    expect(batch.columns.strings).toHaveLength(15);
    expect(batch.columns.types).toHaveLength(1);
    expect(batch.ends).toEqual([10, 20, 30]);
  });

  it('names the list and the reading whose value is not a number', () => {
    const bad = { ...meterReadings(1, 'A')[0]!, value: 'x' as unknown as number };
    expect(() => packReadingLists([meterReadings(2, 'A'), [meterReadings(1, 'B')[0]!, bad]])).toThrow(
      /reading 1 of list 1 \(meter A0\)/,
    );
  });

  it('encodes each list into the bytes encodeMeterReadingsBytes writes, empty lists included', () => {
    const given = [meterReadings(7, 'A'), [], meterReadings(30, 'B')];
    const batch = packReadingLists(given);
    const arena = new ArrayBuffer(1 << 20);
    const layout = encodeMeterReadingListsInto({
      ...batch,
      options: given.map((_, i) => optionsOf(i)),
      arena,
    }).value;
    for (const [i, readings] of given.entries()) {
      const expected = encodeMeterReadingsBytes(readings, {
        source: 'n1',
        messageId: `m${i}`,
        clock: { now: () => at },
      });
      expect(Buffer.from(arenaMessage(arena, layout, i)).equals(Buffer.from(expected))).toBe(true);
    }
  });

  it('refuses forged list ends with MF_POOL_BATCH_INVALID before writing anything', async () => {
    const batch = packReadingLists([meterReadings(4, 'A'), meterReadings(4, 'B')]);
    const forged: unknown[] = [
      [5, 4], // not in order
      [4, 7], // stops short of the batch
      [4, 9], // past the batch
      [4], // one end for two messages
      [4, 8, 8], // more ends than messages
      [4.5, 8], // not an integer
      '4,8',
    ];
    for (const ends of forged) {
      const arena = new ArrayBuffer(1 << 16);
      await expect(
        inline.run({
          module: 'adapters/cim/pool-tasks',
          fn: 'encodeMeterReadingListsInto',
          payload: { ...batch, ends, options: [optionsOf(0), optionsOf(1)], arena },
        }),
      ).rejects.toMatchObject({ code: 'MF_POOL_BATCH_INVALID' });
      expect(new Uint8Array(arena).every((b) => b === 0)).toBe(true);
    }
    const tooMany = Array.from({ length: maxJobsPerTask + 1 }, (_, i) => optionsOf(i));
    const empty = packReadingLists(tooMany.map(() => []));
    await expect(
      inline.run({
        module: 'adapters/cim/pool-tasks',
        fn: 'encodeMeterReadingListsInto',
        payload: { ...empty, options: tooMany, arena: new ArrayBuffer(1024) },
      }),
    ).rejects.toMatchObject({ code: 'MF_POOL_BATCH_INVALID' });
  });

  it('is what the leased pool path sends: one set of columns per task, the same bytes per message', async () => {
    const jobs: MeterReadingsMessageJob[] = Array.from({ length: 9 }, (_, i) => ({
      readings: meterReadings(300 + i, i % 2 ? 'A' : 'B'),
      options: optionsOf(i),
    }));
    const seen: { fn: string; buffers: number }[] = [];
    const spy = {
      threads: inline.threads,
      runPipelined: ((count, taskAt, options) =>
        inline.runPipelined(
          count,
          (i) => {
            const task = taskAt(i);
            seen.push({ fn: task.fn, buffers: task.transferList?.length ?? 0 });
            return task;
          },
          options,
        )) as WorkerPool['runPipelined'],
    };
    const lease = await encodeMeterReadingsLeased(spy, jobs, {
      taskSize: { minItemsPerTask: 1000, targetItemsPerTask: 1200 },
    });
    expect(seen.length).toBeGreaterThan(1);
    // Five column buffers and the arena per task, whatever the number of messages in it.
    for (const task of seen) expect(task).toEqual({ fn: 'encodeMeterReadingListsInto', buffers: 6 });
    for (const [i, job] of jobs.entries()) {
      const expected = encodeMeterReadingsBytes(job.readings, {
        source: 'n1',
        messageId: `m${i}`,
        clock: { now: () => at },
      });
      expect(Buffer.from(lease.bytes[i]!).equals(Buffer.from(expected))).toBe(true);
    }
    lease.release();
  });
});
