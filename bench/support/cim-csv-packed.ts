/**
 * The cim-csv bench's CIM rows whose input is not reading objects: the cluster's packed stream
 * form (actors/hosting/compact-records.ts, what the integration stream stores) and columns a
 * caller built itself ("pre-packed"), both through the output arenas the production pool
 * paths use. Each side of a ratio takes the SAME input and gives the same bytes (checked).
 */
import { packValue, unpackValue } from '../../actors/hosting/compact-records.js';
import type { TLogRecord } from '../../actors/tlog/records.js';
import { recordId } from '../../actors/tlog/records.js';
import { classify } from '../../actors/tlog/router.js';
import {
  cimArenaSizing,
  cimOutputArenas,
  encodeMeterReadingsPackedLeased,
  type MeterReadingsMessageJob,
} from '../../adapters/cim/columnar-pool.js';
import { encodeMeterReadingsBytes } from '../../adapters/cim/meter-readings.js';
import { encodeMeterReadingsPackedBytes, type PackedReadings } from '../../adapters/cim/packed-readings.js';
import type { ColumnarMeterReadingsJob, PackedMeterReadingsJob } from '../../adapters/cim/pool-tasks.js';
import type { CollectedReading } from '../../adapters/field-data.js';
import { encodeAhead } from '../../cluster/pool/encode-ahead.js';
import { type ArenaLayout, arenaMessage } from '../../cluster/pool/output-arena.js';
import type { WorkerPool } from '../../cluster/pool/pool.js';
import { clockOf, DAY_MS } from './cim-csv-data.js';
import { interleaved, printCpu } from './cim-csv-measure.js';
import { printFigure, printRatios, rate } from './report.js';

const decoder = new TextDecoder();

/**
 * Pre-packed columns through the arenas, as `encodeMeterReadingsLeased` runs them but without
 * packing: the columns are copied into each task (not moved) so they serve step after step.
 */
export async function prePackedLeased(pool: WorkerPool, groups: ColumnarMeterReadingsJob[][]): Promise<void> {
  await pool.runPipelined<ArenaLayout>(
    groups.length,
    (g) => {
      const readings = groups[g]!.reduce((n, j) => n + j.columns.count, 0);
      const arena = cimOutputArenas.acquire(
        readings * cimArenaSizing.bytesPerItem + groups[g]!.length * 4096,
      );
      return {
        module: 'adapters/cim/pool-tasks',
        fn: 'encodeMeterReadingsColumnarInto',
        payload: { jobs: groups[g]!, arena },
        transferList: [arena],
      };
    },
    {
      onResult: (layout, g) => {
        // Taken out as a writer would, then the arena (moved back) goes back.
        for (let i = 0; i < groups[g]!.length; i++) arenaMessage(layout.arena, layout, i);
        cimOutputArenas.release(layout.arena);
        return layout;
      },
    },
  );
}

/** Each message's readings as the integration stream holds them: routed reading records, packed (level 2). */
export function packedJobsFor(jobs: readonly MeterReadingsMessageJob[]): PackedMeterReadingsJob[] {
  return jobs.map((job) => {
    const routed = job.readings.map((reading) => {
      const record: TLogRecord = { type: 'reading', reading, concentratorId: 'C1', collectedAtMs: DAY_MS };
      return { id: recordId(record), ...classify(record), record };
    });
    const packed = packValue(routed) as PackedReadings;
    if (packed?.['~rl'] !== 2) throw new Error('bench: the routed records did not pack as a level-2 list');
    return { packed, options: job.options };
  });
}

/** The main thread's production path from the stream: unpack the records, take their readings, encode. */
function unpackAndEncode(job: PackedMeterReadingsJob): Uint8Array {
  const records = unpackValue<{ record: TLogRecord }[]>(job.packed);
  const readings: CollectedReading[] = [];
  for (const { record } of records) if (record.type === 'reading') readings.push(record.reading);
  return encodeMeterReadingsBytes(readings, { ...job.options, clock: clockOf(DAY_MS) });
}

/**
 * CIM from the packed stream form: the main thread's two paths (the production one, unpacking
 * reading objects; and the fastest, runs straight into columns) against the pool encoding ahead
 * from the same packed lists, leased. The pool is judged against the faster main-thread path.
 */
export async function packedTable(
  pool: WorkerPool,
  jobs: readonly MeterReadingsMessageJob[],
  threads: number,
  durationMs: number,
  streamBatches: number,
): Promise<void> {
  const packed = packedJobsFor(jobs);
  const readingsPerStep = jobs.reduce((n, j) => n + j.readings.length, 0);
  const want = jobs.map((j) =>
    decoder.decode(encodeMeterReadingsBytes(j.readings, { ...j.options, clock: clockOf(DAY_MS) })),
  );
  const lease = await encodeMeterReadingsPackedLeased(pool, packed);
  for (const [i, job] of packed.entries())
    if (
      decoder.decode(unpackAndEncode(job)) !== want[i] ||
      decoder.decode(
        encodeMeterReadingsPackedBytes(job.packed, { ...job.options, clock: clockOf(DAY_MS) }),
      ) !== want[i] ||
      decoder.decode(lease.bytes[i]!) !== want[i]
    )
      throw new Error('bench: a path from the packed form does not give the same XML');
  lease.release();
  const stream = Array.from({ length: streamBatches }, () => packed);
  console.log(
    `\nCIM from the packed stream form (routed reading records, level 2), ${jobs.length} lists per batch`,
  );
  const [unpacking, direct, pooled] = await interleaved(durationMs * 3, [
    {
      name: 'main thread: unpack records, encodeMeterReadingsBytes',
      unit: 'readings/s',
      opsPerStep: readingsPerStep,
      step: () => {
        for (const job of packed) unpackAndEncode(job);
      },
    },
    {
      name: 'main thread: encodeMeterReadingsPackedBytes',
      unit: 'readings/s',
      opsPerStep: readingsPerStep,
      step: () => {
        for (const job of packed)
          encodeMeterReadingsPackedBytes(job.packed, { ...job.options, clock: clockOf(DAY_MS) });
      },
    },
    {
      name: `pool, ${threads} workers, packed, encoding ahead, leased`,
      unit: 'readings/s',
      opsPerStep: readingsPerStep * streamBatches,
      step: () =>
        encodeAhead(
          stream,
          (batch) => encodeMeterReadingsPackedLeased(pool, batch),
          (l) => l.release(),
        ),
    },
  ]);
  printRatios('CIM from packed lists (all rows produce UTF-8 bytes)', unpacking, [direct, pooled]);
  const best = rate(direct) > rate(unpacking) ? direct : unpacking;
  printFigure(
    'pool (packed) / the faster main-thread path',
    rate(pooled) / rate(best),
    'x',
    `target >= 1.6x on 2 cores; against ${best.name.replace('main thread: ', '')}`,
  );
  printFigure('pool (packed) / main thread unpacking', rate(pooled) / rate(unpacking), 'x');
  printCpu(best, [pooled], threads, 1000);
}
