// Child process for daily-writer-uncreatable-dir.test.ts: opens the compiled DailyCsvWriter on
// the directory given and prints one JSON line, {ok} or the error's code and message. In a child
// so that a writer stuck creating its directory is killed by the test's timeout. argv: dir
import { DailyCsvWriter } from '../../../dist/adapters/csv/daily-writer.js';

const [dir] = process.argv.slice(2);
try {
  const writer = await DailyCsvWriter.open({ dir, kind: 'S', server: 'n1' });
  await writer.close();
  process.stdout.write(`${JSON.stringify({ ok: true })}\n`);
} catch (err) {
  process.stdout.write(`${JSON.stringify({ ok: false, code: err.code, message: err.message })}\n`);
}
