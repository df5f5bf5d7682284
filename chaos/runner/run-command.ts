/**
 * `meterfabric chaos run <scenario> [--rounds N] [--seed S] [--out DIR] [--lease-ttl-ms MS]`:
 * runs a seeded chaos scenario against a fresh three-node cluster, prints progress and the
 * report, and exits 0 only with zero anomalies and full recovery.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { leaseTtlMsRange } from '../../cluster/config/node-config.js';
import {
  exitCodes,
  type NumberFlagRange,
  numberFlagProblem,
  parseCommandLine,
} from '../../core/command-line.js';
import { ConfigError, UsageError } from '../../core/errors.js';
import { seedFrom } from './prng.js';
import { renderReport } from './report.js';
import { runScenario } from './run-scenario.js';
import { scenarios } from './scenarios.js';
import { parseWorkloads, type WorkloadName } from './workloads.js';

const usage = `usage: meterfabric chaos run <scenario> [--rounds 20] [--seed S] [--out ./data/chaos/<scenario>-<seed>]
  [--lease-ttl-ms 3000] [--recovery-deadline-ms 60000] [--clients 4] [--stop-on-anomaly]
  [--network proxies|netns]   (netns: kernel partitions with iptables; root only; scenario "kernel")
  [--workloads counter,list,headend]   (default: the scenario's; mixed runs all three)
  [--fault-inject ack-before-persist|skip-epoch-fencing|double-apply-retries]   (TEST ONLY: nodes with an injected bug)
scenarios: ${Object.keys(scenarios).join(', ')}
The seed (a number or any text) fixes every random choice; the same scenario and seed replay the same faults.
`;

/** The numeric flags' ranges; every value outside is listed in one ConfigError before a node starts. */
const numberFlags = {
  // A round is a fault and its recovery (seconds each): 100 000 rounds already run for days.
  rounds: { min: 1, max: 100_000, meaning: 'fault rounds' },
  // The nodes' own range (cluster/config/node-config.ts): outside it every node would refuse
  // to start, after the run had begun.
  'lease-ttl-ms': { ...leaseTtlMsRange, meaning: "the nodes' etcd lease, ms" },
  // Each client is one history process; the list workload's processes are numbered from 1000.
  clients: { min: 1, max: 256, meaning: 'concurrent client processes' },
  'recovery-deadline-ms': {
    min: 1,
    max: 3_600_000,
    meaning: 'ms the cluster may take to recover after a fault',
  },
} satisfies Record<string, NumberFlagRange>;

function numberFlag(
  flag: keyof typeof numberFlags,
  text: string | undefined,
  fallback: number,
  problems: string[],
): number {
  if (text === undefined) return fallback;
  const problem = numberFlagProblem(`--${flag}`, text, numberFlags[flag]);
  if (problem !== undefined) problems.push(problem);
  return Number(text);
}

/** Flag and scenario errors are thrown (`UsageError`, `ConfigError`: exit 2) before any node starts. */
export async function runScenarioCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine('chaos run', {
    args: argv,
    allowPositionals: true,
    options: {
      rounds: { type: 'string' },
      seed: { type: 'string' },
      out: { type: 'string' },
      'lease-ttl-ms': { type: 'string' },
      'recovery-deadline-ms': { type: 'string' },
      'fault-inject': { type: 'string' },
      clients: { type: 'string' },
      network: { type: 'string', default: 'proxies' },
      workloads: { type: 'string' },
      'stop-on-anomaly': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(usage);
    return exitCodes.ok;
  }
  if (positionals.length !== 1) {
    process.stderr.write(usage);
    return exitCodes.usage;
  }
  const scenario = positionals[0] as string;
  // A scenario name is part of the command line: a usage error (exit 2), not a failed run.
  if (!Object.hasOwn(scenarios, scenario))
    throw new UsageError(
      `unknown chaos scenario "${scenario}"; choose one of: ${Object.keys(scenarios).join(', ')}`,
    );
  const problems: string[] = [];
  const rounds = numberFlag('rounds', values.rounds, 20, problems);
  const leaseTtlMs = numberFlag('lease-ttl-ms', values['lease-ttl-ms'], 3000, problems);
  const clients = numberFlag('clients', values.clients, 4, problems);
  const recoveryDeadlineMs = numberFlag(
    'recovery-deadline-ms',
    values['recovery-deadline-ms'],
    60_000,
    problems,
  );
  const network = values.network;
  if (network !== 'proxies' && network !== 'netns')
    problems.push(`--network must be proxies or netns, got "${network}"`);
  let workloads: WorkloadName[] | undefined;
  try {
    if (values.workloads !== undefined) workloads = parseWorkloads(values.workloads);
  } catch (err) {
    problems.push(...((err as ConfigError).details.problems as string[]));
  }
  if (problems.length > 0) throw new ConfigError(problems);
  const seedText = values.seed ?? String(Date.now() % 1_000_000);
  const seed = seedFrom(seedText);
  const outDir = values.out ?? join('data', 'chaos', `${scenario}-${seed}`);
  // The run's nodes keep their data under outDir: an earlier run's would be reused, and the
  // checkers would count its writes as this run's (false duplicates, two primaries).
  if (existsSync(outDir) && readdirSync(outDir).length > 0)
    throw new ConfigError([
      `${outDir} already holds an earlier run: remove it or pass another --out (a run needs a fresh cluster)`,
    ]);
  const report = await runScenario({
    scenario,
    rounds,
    seed,
    outDir,
    leaseTtlMs,
    recoveryDeadlineMs,
    stopOnAnomaly: values['stop-on-anomaly'],
    processes: clients,
    network: network as 'proxies' | 'netns',
    ...(workloads ? { workloads } : {}),
    ...(values['fault-inject'] ? { faultInject: values['fault-inject'] } : {}),
    onProgress: (line) => process.stdout.write(`${line}\n`),
  });
  process.stdout.write(`\n${renderReport(report)}`);
  return report.valid ? 0 : 1;
}
