// Child process for the crash tests: appends S_ batches with the compiled writer and kills
// itself with SIGKILL at a chosen stage of a chosen batch (or runs until killed from outside).
// argv: dir crashStage crashSeq batches rowsPerBatch maxPartBytes [pool]
// pool 'workers': the writer encodes in a real worker pool (2 threads), as a node does.
import { DailyCsvWriter } from '../../../dist/adapters/csv/daily-writer.js';
import { WorkerPool } from '../../../dist/cluster/pool/pool.js';

const [dir, crashStage, crashSeqText, batchesText, rowsText, maxPartText, poolMode] = process.argv.slice(2);
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
for (let seq = Math.max(1, writer.lastSeq + 1); seq <= batches; seq++)
  await writer.append(batch(seq), { seq, collectedAtMs: seq <= batches / 2 ? DAY1_MS : DAY2_MS });
await pool?.close();
process.stdout.write('done\n');
