#!/usr/bin/env node
// Runs every compiled benchmark (dist/bench/*.js) in its own process, one after another, so
// that each measures its baseline and its subject in the same run on an otherwise idle box.
// `npm run bench -- knx cim` runs only the benchmarks whose file name contains a given word.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('../dist/bench/', import.meta.url));
if (!existsSync(dir)) {
  console.error('bench: dist/bench is missing; run `npm run build` first');
  process.exit(2);
}
const filters = process.argv.slice(2);
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.js'))
  .filter((f) => filters.length === 0 || filters.some((w) => f.includes(w)))
  .sort();
let failed = 0;
for (const file of files) {
  console.log(`\n=== ${file.replace(/\.bench\.js$/, '')} ===`);
  const result = spawnSync(process.execPath, ['--expose-gc', dir + file], {
    stdio: 'inherit',
    env: { ...process.env, MF_LOG_LEVEL: 'warn' },
  });
  if (result.status !== 0) {
    failed++;
    console.error(`bench ${file} exited with ${result.status ?? result.signal}`);
  }
}
process.exit(failed === 0 ? 0 : 1);
