import { createSocket } from 'node:dgram';
import { parseGroupAddress } from '../adapters/knx/address.js';
import { fromHex } from '../adapters/knx/bytes.js';
import { encodeDpt } from '../adapters/knx/dpt.js';
import {
  decodeFrames,
  decodeTelegramColumns,
  packFrames,
  type TelegramColumns,
} from '../adapters/knx/pool-tasks.js';
import { GatewaySimulator } from '../adapters/knx/simulator/gateway-simulator.js';
import { TunnelClient } from '../adapters/knx/tunnel-client.js';
import { WorkerPool } from '../cluster/pool/pool.js';
import { measure, printFigure, printRatios, rate } from './support/report.js';

/**
 * KNXnet/IP: (1) frames decoded per second on the main thread and through the worker pool,
 * against a loop that only copies each datagram (the floor any decoder pays); the corpus is
 * golden frames from the reference plus one truncated frame in every hundred, so the error path
 * is in the mix. (2) Confirmed GroupValue_Writes per second through a tunnel to the gateway
 * simulator (one request outstanding, ACK + L_Data.con each), against a plain UDP ping-pong on
 * loopback (one datagram each way, the floor of any request/response over UDP).
 */
const golden = [
  '06 10 04 20 00 15 04 01 17 00 11 00 BC E0 00 00 48 08 01 00 81',
  '06 10 04 21 00 0A 04 2A 17 00',
  '06 10 05 30 00 15 29 00 BC D0 12 02 01 51 05 00 80 12 34 56 78',
  '06 10 04 20 00 19 04 01 00 00 29 00 BC D0 11 FC 29 15 05 00 80 45 9C 40 00',
  '06 10 02 06 00 14 01 00 08 01 C0 A8 2A 0A 0E 57 04 04 11 FF',
  '06 10 02 08 00 08 01 00',
].map(fromHex);
const truncated = fromHex('06 10 04 20 00 15 04');
// The corpus must hold exactly the intended share of bad frames: check before measuring.
const goldenResults = decodeFrames(golden);
if (!goldenResults.every((r) => r.ok)) throw new Error('bench corpus: a golden frame does not decode');
const frameCount = 20_000;
const corpus = Array.from({ length: frameCount }, (_, i) =>
  i % 100 === 99 ? truncated : golden[i % golden.length]!,
);
const durationMs = 3_000;

let sink = 0;
const copyOnly = await measure('copy datagram bytes only (baseline)', durationMs, frameCount, () => {
  for (const frame of corpus) sink += new Uint8Array(frame).length;
});
copyOnly.unit = 'frames/s';
const chunks = Array.from({ length: frameCount / 2_000 }, (_, i) => corpus.slice(i * 2_000, (i + 1) * 2_000));
const mainThread = await measure('decodeFrame, main thread', durationMs, frameCount, () => {
  for (const chunk of chunks) sink += decodeFrames(chunk).length;
});
mainThread.unit = 'frames/s';

const threads = 2;
const pool = new WorkerPool({ mode: 'workers', threads });
const address = { module: 'adapters/knx/pool-tasks', fn: 'decodeFrames' };
await pool.runBatches(address, corpus.slice(0, 100), { batchSize: 50 }); // warm the workers
const pooled = await measure(
  `decodeFrame, pool (${threads} workers, batches of 2000)`,
  durationMs,
  frameCount,
  async () => {
    sink += (await pool.runBatches(address, corpus, { batchSize: 2_000 })).length;
  },
);
pooled.unit = 'frames/s';
const packedChunks = chunks.map(packFrames);
const packed = await measure(
  `decodeFrame, pool, packed input (${threads} workers)`,
  durationMs,
  frameCount,
  async () => {
    const results = await Promise.all(
      packedChunks.map((payload) =>
        pool.run<unknown[]>({ module: 'adapters/knx/pool-tasks', fn: 'decodePackedFrames', payload }),
      ),
    );
    for (const r of results) sink += r.length;
  },
);
packed.unit = 'frames/s';
// Columns out instead of one object per frame: the same function on the main thread and in
// the pool, each packing its chunk from the datagrams first (the caller holds datagrams).
const columnsMain = await measure('decodeTelegramColumns, main thread', durationMs, frameCount, () => {
  for (const chunk of chunks) sink += decodeTelegramColumns(packFrames(chunk)).value.count;
});
columnsMain.unit = 'frames/s';
const columnsPool = await measure(
  `decodeTelegramColumns, pool (${threads} workers, moved both ways)`,
  durationMs,
  frameCount,
  async () => {
    const results = await pool.runPipelined<TelegramColumns>(chunks.length, (i) => {
      const payload = packFrames(chunks[i]!);
      return {
        module: 'adapters/knx/pool-tasks',
        fn: 'decodeTelegramColumns',
        payload,
        transferList: [payload.bytes.buffer as ArrayBuffer],
      };
    });
    for (const r of results) sink += r.count;
  },
);
columnsPool.unit = 'frames/s';
await pool.close();
printRatios('KNXnet/IP frame decoding', copyOnly, [mainThread, pooled, packed, columnsMain, columnsPool]);
printFigure('pool / main thread, columns', rate(columnsPool) / rate(columnsMain), 'x');

// (2) through a tunnel.
const echo = createSocket('udp4');
await new Promise<void>((resolve) => echo.bind(0, '127.0.0.1', () => resolve()));
echo.on('message', (msg, rinfo) => echo.send(msg, rinfo.port, rinfo.address));
const pinger = createSocket('udp4');
await new Promise<void>((resolve) => pinger.bind(0, '127.0.0.1', () => resolve()));
const ping = fromHex('06 10 04 21 00 0A 04 2A 17 00');
const echoPort = echo.address().port;
const pingPong = await measure('UDP ping-pong on loopback (baseline)', durationMs, 1, () => {
  return new Promise<void>((resolve) => {
    pinger.once('message', () => resolve());
    pinger.send(ping, echoPort, '127.0.0.1');
  });
});
pingPong.unit = 'round trips/s';
echo.close();
pinger.close();

const sim = new GatewaySimulator({});
await sim.start();
const client = new TunnelClient({ gateway: sim.address, localAddress: '127.0.0.1' });
await client.connect();
const ga = parseGroupAddress('5/1/21');
let watt = 0;
const writes = await measure('confirmed GroupValue_Write through a tunnel', durationMs, 1, () =>
  client.groupWrite(ga, encodeDpt('14.056', watt++)),
);
writes.unit = 'telegrams/s';
const pipelined = await measure('GroupValue_Write, 50 queued at a time', durationMs, 50, () =>
  Promise.all(Array.from({ length: 50 }, () => client.groupWrite(ga, encodeDpt('14.056', watt++)))),
);
pipelined.unit = 'telegrams/s';
await client.close();
await sim.stop();
printRatios('KNXnet/IP tunnel to the gateway simulator', pingPong, [writes, pipelined]);
if (sink < 0) console.log(sink);
