// Child process for the crash tests: appends S_ batches with the compiled writer and kills
// itself with SIGKILL at a chosen stage of a chosen batch (or runs until killed from outside).
// argv: dir crashStage crashSeq batches rowsPerBatch maxPartBytes [pool] [inFlight]
// pool 'workers': the writer encodes in a real worker pool (2 threads), as a node does.
// inFlight > 1: that many appends are kept in flight (group commit), and the seq of each
// append is printed as `ack <seq>` the moment its promise resolves (stdout to a pipe is
// synchronous on Linux, so an ack the test read was given before any kill).
import { DailyCsvWriter } from '../../../dist/adapters/csv/daily-writer.js';
import { WorkerPool } from '../../../dist/cluster/pool/pool.js';

const [dir, crashStage, crashSeqText, batchesText, rowsText, maxPartText, poolMode, inFlightText] =
  process.argv.slice(2);
const inFlight = Number(inFlightText ?? 1);
const pool = poolMode === 'workers' ? new WorkerPool({ mode: 'workers', threads: 2 }) : undefined;
const crashSeq = Number(crashSeqText);
const batches = Number(batchesText);
const rowsPerBatch = Number(rowsText);
const DAY1_MS = Date.UTC(2026, 10, 22, 12);
const DAY2_MS = Date.UTC(2026, 10, 23, 12);

function batch(seq) {
  return Array.from({ length: rowsPerBatch }, (_, i) => ({
    serialnumber: `M${seq}-${i}`,
    pod: `POD;${seq}`,
    value: seq * 1000 + i,
    state: 0,
    cimcode: '0.0.7.4.1.1.12.0.0.0.0.0.0.0.0.0.72.0',
    sampledate: DAY1_MS - 3_600_000 * i,
  }));
}

const writer = await DailyCsvWriter.open({
  dir,
  kind: 'S',
  server: 'n1',
  maxPartBytes: Number(maxPartText),
  // Every batch through the pool, small as they are here (the default sends small ones inline).
  ...(pool ? { pool, poolMinRows: 1 } : {}),
  faultHook: (stage, seq) => {
    if (stage === crashStage && seq === crashSeq) process.kill(process.pid, 'SIGKILL');
  },
});
// The test times its kills from here: starting the process and its workers is not writing.
process.stdout.write('ready\n');
let next = Math.max(1, writer.lastSeq + 1);
// `inFlight` loops, each handing in the next seq when its last append resolved: appends are
// called in seq order, and with more than one loop they arrive while a commit is in flight.
await Promise.all(
  Array.from({ length: inFlight }, async () => {
    while (next <= batches) {
      const seq = next++;
      await writer.append(batch(seq), { seq, collectedAtMs: seq <= batches / 2 ? DAY1_MS : DAY2_MS });
      if (inFlight > 1) process.stdout.write(`ack ${seq}\n`);
    }
  }),
);
await pool?.close();
process.stdout.write('done\n');
