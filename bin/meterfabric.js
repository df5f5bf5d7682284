#!/usr/bin/env node
// Thin launcher: the CLI is TypeScript compiled to dist/ by `npm run build`.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('../dist/cluster/cli/main.js', import.meta.url));
if (!existsSync(main)) {
  console.error(
    'meterfabric: dist/ is missing. Run `npm run build` first (npm start and npm test do it for you).',
  );
  process.exit(2);
}
const { runCli } = await import(main);
process.exitCode = await runCli(process.argv.slice(2));
