import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError } from '../../core/errors.js';
import { formatSummary, runDemoDay } from './run-day.js';

/**
 * `meterfabric demo` (or `node dist/actors/demo/cli.js`): one simulated day through the
 * head-end, CSV + CIM under --out. The hook `meterfabric up` can call is `runDemoDay`.
 */
export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      out: { type: 'string', default: './out' },
      concentrators: { type: 'string', default: '100' },
      meters: { type: 'string', default: '20' },
      speed: { type: 'string', default: '1440' },
    },
  });
  const concentrators = Number(values.concentrators);
  const meters = Number(values.meters);
  const speed = Number(values.speed);
  const problems: string[] = [];
  if (!(Number.isInteger(concentrators) && concentrators > 0 && concentrators <= 100_000))
    problems.push('--concentrators must be an integer 1..100000');
  if (!(Number.isInteger(meters) && meters > 0 && meters <= 1_000))
    problems.push('--meters must be an integer 1..1000');
  if (!(speed > 0)) problems.push('--speed must be positive (1440 runs a day in a minute)');
  if (problems.length > 0) throw new ConfigError(problems);
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort());
  const summary = await runDemoDay({
    outDir: resolve(values.out),
    concentrators,
    metersPerConcentrator: meters,
    speed,
    signal: controller.signal,
  });
  process.stdout.write(`${formatSummary(summary)}\n`);
  return 0;
}

if (process.argv[1]?.endsWith('/actors/demo/cli.js')) {
  run(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
