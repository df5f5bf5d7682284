/**
 * The workloads of one chaos run, together: counter increments, list appends (Elle-style) and
 * the head-end day, each optional. One history holds the counter and list operations (their
 * history processes and keys are disjoint, so each checker is given only its own keys); the
 * head-end is judged by its outputs against the simulated field's ground truth.
 */
import { join } from 'node:path';
import { ActorProxyPorts } from '../../actors/host/service-ports.js';
import { defaultManifestPaths, loadManifests } from '../../cluster/config/manifest.js';
import { ConfigError } from '../../core/errors.js';
import { packageRoot } from '../../core/paths.js';
import { checkCounter } from '../checkers/counter-checker.js';
import type { CheckResult, HistoryEvent, HistoryRecorder } from '../checkers/history.js';
import { checkListAppend } from '../checkers/list-append-checker.js';
import type { ChaosCluster } from './chaos-cluster.js';
import { HeadendDay } from './headend-workload.js';
import { ListWorkload, listRead } from './list-workload.js';
import type { Prng } from './prng.js';
import { CounterWorkload, counterRead, recordRead } from './workload.js';

export type WorkloadName = 'counter' | 'list' | 'headend';
export const workloadNames: readonly WorkloadName[] = ['counter', 'list', 'headend'];

/** `counter,list` -> the names; unknown or repeated names are a ConfigError listing the valid ones. */
export function parseWorkloads(text: string): WorkloadName[] {
  const names = text
    .split(',')
    .map((n) => n.trim())
    .filter((n) => n !== '');
  const problems: string[] = [];
  for (const name of names)
    if (!(workloadNames as readonly string[]).includes(name))
      problems.push(`--workloads: unknown workload "${name}"; choose from ${workloadNames.join(', ')}`);
  if (names.length === 0) problems.push('--workloads: name at least one workload');
  if (new Set(names).size !== names.length) problems.push(`--workloads: "${text}" names a workload twice`);
  if (problems.length > 0) throw new ConfigError(problems);
  return names as WorkloadName[];
}

/** Every head-end service as the cluster's actors (what `npm start` runs). */
export const headendManifest = join(packageRoot, 'actors', 'hosting', 'headend-services.json');
/**
 * A head-end service call may wait out a fault and the failover after it (ActorProxy retries
 * inside), a quorum loss included (every node killed at once: the replicas return on restart):
 * the collection day is a batch process, its next step waits for this one.
 */
const headendCallDeadlineMs = 120_000;

/**
 * The manifests the nodes need: the default ones, plus the head-end's services when the
 * head-end runs (unless a default manifest already declares them). Undefined: defaults.
 */
export function manifestsFor(workloads: readonly WorkloadName[]): string[] | undefined {
  if (!workloads.includes('headend')) return undefined;
  const defaults = defaultManifestPaths();
  if (loadManifests(defaults).some((s) => s.name === 'jobs-manager')) return defaults;
  return [...defaults, headendManifest];
}

export type ChaosWorkloadsOptions = {
  cluster: ChaosCluster;
  history: HistoryRecorder;
  rng: Prng;
  workloads: readonly WorkloadName[];
  seed: number;
  outDir: string;
  /** Counter processes (the list workload runs half as many, at least one). */
  processes: number;
  counterKeys: number;
  rounds: number;
};

/** History process ids of the list workload start here (counter processes and final reads stay below). */
const listFirstProcess = 1_000;
const finalReadDeadlineMs = 30_000;

export class ChaosWorkloads {
  readonly counterKeys: string[];
  readonly listKeys: string[];
  private counter: CounterWorkload | undefined;
  private list: ListWorkload | undefined;
  private headend: HeadendDay | undefined;
  private headendSlice: Promise<void> = Promise.resolve();
  private readonly listProcesses: number;

  private constructor(private readonly options: ChaosWorkloadsOptions) {
    this.counterKeys = options.workloads.includes('counter')
      ? Array.from({ length: options.counterKeys }, (_, i) => `chaos-${options.seed}-${i}`)
      : [];
    this.listKeys = options.workloads.includes('list')
      ? Array.from({ length: 3 }, (_, i) => `chaos-list-${options.seed}-${i}`)
      : [];
    this.listProcesses = Math.max(1, Math.floor(options.processes / 2));
  }

  /** Starts every chosen workload (the head-end provisions and runs its first step). */
  static async start(options: ChaosWorkloadsOptions): Promise<ChaosWorkloads> {
    const w = new ChaosWorkloads(options);
    const { cluster, history, rng, workloads } = options;
    // Forks are taken in a fixed order whatever the selection, so a seed replays the same way.
    const counterRng = rng.fork();
    const listRng = rng.fork();
    if (workloads.includes('headend')) {
      w.headend = new HeadendDay({
        ports: new ActorProxyPorts(await cluster.actorProxy(2000, true), {
          deadlineMs: headendCallDeadlineMs,
        }),
        name: `chaos-${options.seed}`,
        outDir: join(options.outDir, 'headend'),
        seed: options.seed,
      });
      await w.headend.open();
    }
    if (workloads.includes('counter')) {
      w.counter = new CounterWorkload({
        proxy: await cluster.actorProxy(),
        history,
        rng: counterRng,
        processes: options.processes,
        keys: w.counterKeys,
        callDeadlineMs: 5_000,
        thinkMs: 20,
        readFraction: 0.2,
      });
      w.counter.start();
    }
    if (workloads.includes('list')) {
      w.list = new ListWorkload({
        proxy: await cluster.actorProxy(),
        history,
        rng: listRng,
        firstProcess: listFirstProcess,
        processes: w.listProcesses,
        keys: w.listKeys,
        callDeadlineMs: 5_000,
        thinkMs: 20,
        readFraction: 0.25,
      });
      w.list.start();
    }
    return w;
  }

  get operations(): number {
    return (this.counter?.operations ?? 0) + (this.list?.operations ?? 0);
  }

  /** A line for the progress output: the head-end's simulated time. */
  get headendProgress(): string | undefined {
    if (!this.headend) return undefined;
    return `head-end day at ${new Date(this.headend.nowMs).toISOString().slice(11, 16)}Z, ${this.headend.serviceCalls} service calls`;
  }

  /** Round `round` of `rounds` begins: the head-end day runs its next slice (while the fault is in place). */
  beginRound(round: number): void {
    const day = this.headend;
    if (!day) return;
    // Slices leave the last tenth of the day for after the faults: closures and late gaps are
    // still collected under the final, healthy cluster only if the faults never stalled it.
    this.headendSlice = day.advanceTo((0.9 * round) / this.options.rounds);
  }

  /** Waits for the head-end's slice of this round to finish. */
  endRound(): Promise<void> {
    return this.headendSlice;
  }

  private eventsOf(keys: readonly string[]): HistoryEvent[] {
    const set = new Set(keys);
    return this.options.history.events.filter((e) => set.has(e.key));
  }

  /** The history checks (counter, list-append) on what has been recorded so far. */
  historyChecks(): CheckResult[] {
    const checks: CheckResult[] = [];
    if (this.counter) checks.push(checkCounter(this.eventsOf(this.counterKeys)));
    if (this.list) checks.push(checkListAppend(this.eventsOf(this.listKeys)));
    return checks;
  }

  /** Stops the client loops (each in-flight operation completes or times out). */
  async stop(): Promise<void> {
    await Promise.all([this.counter?.stop(), this.list?.stop(), this.headendSlice]);
  }

  /** After the faults: the head-end runs the rest of its day on the healed cluster. */
  async finishHeadend(): Promise<void> {
    await this.headendSlice;
    await this.headend?.finish();
  }

  /** After recovery: every key read once more with a long deadline, so losses become visible. */
  async finalReads(): Promise<void> {
    const { history, processes } = this.options;
    const reads: Promise<void>[] = [];
    if (this.counter) {
      const proxy = await this.options.cluster.actorProxy();
      reads.push(
        ...this.counterKeys.map((key, i) =>
          recordRead(proxy, history, processes + i, key, finalReadDeadlineMs, counterRead),
        ),
      );
    }
    if (this.list) {
      const proxy = await this.options.cluster.actorProxy();
      const first = listFirstProcess + this.listProcesses;
      reads.push(
        ...this.listKeys.map((key, i) =>
          recordRead(proxy, history, first + i, key, finalReadDeadlineMs, listRead),
        ),
      );
    }
    await Promise.all(reads);
  }

  /** Every workload's checks: history checkers, then the head-end day and its outputs. */
  async checks(): Promise<CheckResult[]> {
    return [...this.historyChecks(), ...((await this.headend?.check()) ?? [])];
  }
}
