// Child process for the make-directory tests: runs the compiled makeDirectory (async, all
// paths at once) or makeDirectorySync (one after the other) and prints one JSON line with an
// outcome per path. In a child so that a regression to a looping mkdir is killed by the
// parent's timeout instead of hanging vitest. argv: sync|async path...
import { makeDirectory, makeDirectorySync } from '../../../dist/core/fs/make-directory.js';

const [mode, ...paths] = process.argv.slice(2);

function outcome(err) {
  if (err === undefined) return { ok: true };
  return { ok: false, code: err.code, message: err.message, details: err.details ?? {} };
}

let results;
if (mode === 'sync') {
  results = paths.map((path) => {
    try {
      makeDirectorySync(path);
      return outcome(undefined);
    } catch (err) {
      return outcome(err);
    }
  });
} else {
  results = await Promise.all(
    paths.map((path) => makeDirectory(path).then(() => outcome(undefined), outcome)),
  );
}
process.stdout.write(`${JSON.stringify(results)}\n`);
