import { encodeCanet } from '../adapters/battery/can/canet.js';
import { type CanFrame, parseCandump } from '../adapters/battery/can/frame.js';
import {
  type CanTelemetryColumns,
  decodeCanetTelemetry,
  decodeCanFrames,
  decodeRs485Frames,
} from '../adapters/battery/pool-tasks.js';
import { WorkerPool } from '../cluster/pool/pool.js';
import { measure, printFigure, printRatios, rate } from './support/report.js';

/**
 * Battery frame decoding: frames per second on the main thread and through the worker pool,
 * against a loop that only copies each frame's bytes (the floor any decoder pays), all in the
 * same run. The corpus is the reference captures plus one corrupt frame in every hundred, so the
 * error path is in the mix.
 */
const captures = [
  '351#1402740E740ECC01',
  '355#58005E00',
  '356#7A13F2FE6B01',
  '359#0000000006504E',
  '35C#C000',
  '35E#50594C4F4E202020',
];
const frameCount = 20_000;
const canCorpus: CanFrame[] = Array.from({ length: frameCount }, (_, i) =>
  i % 100 === 99 ? parseCandump('356#7A13F2') : parseCandump(captures[i % captures.length]!),
);
const rs485Corpus: string[] = Array.from({ length: 2_000 }, (_, i) =>
  i % 2 === 0
    ? '~20024600F07A00020F0D170D140D150D150D180D170D140D150D150D180D170D140D150D150D18050C0B0BEF0BF00BED0C0B00C9C447FFFF04FFFF00120172B90186A0E2D1\r'
    : '~20024600B01402D002AFC800C8FE0CC0F915\r',
);
const durationMs = 3_000;

let sink = 0;
const copyOnly = await measure('copy bytes only (baseline)', durationMs, frameCount, () => {
  for (const frame of canCorpus) sink += new Uint8Array(frame.data).length;
});
copyOnly.unit = 'frames/s';
const mainThread = await measure('CAN decode, main thread', durationMs, frameCount, () => {
  sink += decodeCanFrames(canCorpus).length;
});
mainThread.unit = 'frames/s';

const threads = 2;
const pool = new WorkerPool({ mode: 'workers', threads });
const address = { module: 'adapters/battery/pool-tasks', fn: 'decodeCanFrames' };
await pool.runBatches(address, canCorpus.slice(0, 100), { batchSize: 50 }); // warm the workers
const pooled = await measure(
  `CAN decode, pool (${threads} workers, batches of 2000)`,
  durationMs,
  frameCount,
  async () => {
    sink += (await pool.runBatches(address, canCorpus, { batchSize: 2_000 })).length;
  },
);
pooled.unit = 'frames/s';
// The same frames packed as 13-byte CANET records, 2000 per buffer: one buffer crosses the
// thread boundary per task instead of 2000 small objects.
const packedBatches: Uint8Array[] = [];
for (let i = 0; i < canCorpus.length; i += 2_000)
  packedBatches.push(Buffer.concat(canCorpus.slice(i, i + 2_000).map(encodeCanet)));
const packedAddress = { module: 'adapters/battery/pool-tasks', fn: 'decodeCanetRecords' };
const pooledPacked = await measure(
  `CAN decode, pool, packed CANET buffers`,
  durationMs,
  frameCount,
  async () => {
    const results = await Promise.all(
      packedBatches.map((payload) => pool.run<unknown[]>({ ...packedAddress, payload }, { wait: true })),
    );
    sink += results.length;
  },
);
pooledPacked.unit = 'frames/s';
// Telemetry columns out instead of one object per frame: the same function on the main thread
// and in the pool (packed buffers copied in, so they can be reused; columns moved back).
const columnsMain = await measure('CAN telemetry columns, main thread', durationMs, frameCount, () => {
  for (const bytes of packedBatches) sink += decodeCanetTelemetry(bytes).value.count;
});
columnsMain.unit = 'frames/s';
const columnsPool = await measure(
  `CAN telemetry columns, pool (${threads} workers)`,
  durationMs,
  frameCount,
  async () => {
    const results = await pool.runPipelined<CanTelemetryColumns>(packedBatches.length, (i) => ({
      module: 'adapters/battery/pool-tasks',
      fn: 'decodeCanetTelemetry',
      payload: packedBatches[i]!,
    }));
    for (const r of results) sink += r.count;
  },
);
columnsPool.unit = 'frames/s';
await pool.close();

printRatios('battery CAN frames decoded per second', copyOnly, [
  mainThread,
  pooled,
  pooledPacked,
  columnsMain,
  columnsPool,
]);
printFigure('pool / main thread, telemetry columns', rate(columnsPool) / rate(columnsMain), 'x');

const rsCopy = await measure('RS485 copy text only (baseline)', durationMs, rs485Corpus.length, () => {
  for (const text of rs485Corpus) sink += Buffer.from(text, 'latin1').length;
});
rsCopy.unit = 'frames/s';
const rsDecode = await measure(
  'RS485 frame decode + checksums, main thread',
  durationMs,
  rs485Corpus.length,
  () => {
    sink += decodeRs485Frames(rs485Corpus).length;
  },
);
rsDecode.unit = 'frames/s';
printRatios('battery RS485 frames decoded per second', rsCopy, [rsDecode]);
printFigure('checksum of work done (keeps the loops honest)', sink % 1000, '');
