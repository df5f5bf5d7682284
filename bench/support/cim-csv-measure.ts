/**
 * How the cim-csv bench measures: subjects interleaved step by step (so load drift hits all
 * alike), CPU time of all threads and of the main thread alone per subject, and the printers
 * of pool-versus-main figures (wall clock, CPU per item, what CPU per item projects for idle cores).
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { type Measurement, printFigure, rate } from './report.js';

export type Subject = { name: string; unit: string; opsPerStep: number; step: () => unknown };

/**
 * Runs one step of each subject per round for about `durationMs` and sums each one's time. On a
 * shared, busy machine the load drifts within seconds; interleaving exposes every subject to
 * the same drift, which back-to-back blocks would not. Every subject does the same number of
 * items per step (`sameWorkPerStep`).
 */
export async function interleaved<const S extends readonly Subject[]>(
  durationMs: number,
  given: S,
): Promise<{ -readonly [K in keyof S]: CpuMeasurement }> {
  const subjects = sameWorkPerStep([...given]);
  const totals = subjects.map((s) => ({
    name: s.name,
    unit: s.unit,
    ops: 0,
    elapsedMs: 0,
    cpuMs: 0,
    mainCpuMs: 0,
  }));
  const start = performance.now();
  // A subject pays for garbage the one before it left (V8 collects later), so the order is
  // shuffled every round (seeded, so runs are comparable): each follows every other alike.
  let seed = 0x9e3779b9;
  const random = (n: number): number => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) % n;
  };
  const order = subjects.map((_, i) => i);
  while (performance.now() - start < durationMs) {
    for (let k = order.length - 1; k > 0; k--) {
      const j = random(k + 1);
      [order[k], order[j]] = [order[j]!, order[k]!];
    }
    for (const i of order) {
      const subject = subjects[i]!;
      const t0 = performance.now();
      const cpu0 = process.cpuUsage();
      const main0 = mainThreadCpuMs();
      await subject.step();
      const cpu = process.cpuUsage(cpu0);
      totals[i]!.elapsedMs += performance.now() - t0;
      totals[i]!.cpuMs += (cpu.user + cpu.system) / 1000;
      totals[i]!.mainCpuMs += mainThreadCpuMs() - main0;
      totals[i]!.ops += subject.opsPerStep;
    }
  }
  // One measurement per subject, in their order: the tuple type the caller destructures.
  return totals as { -readonly [K in keyof S]: CpuMeasurement };
}

/**
 * Every subject repeated to the same items per step as the largest. Why: a subject's first
 * batch after another subject's step runs slower (caches and the young generation hold the
 * other's data), so a subject with short steps pays that more often. Session 19 measured it:
 * the main thread running the workers' encoder one 61,440-reading batch per step reached
 * 3.5M readings/s beside the pool's 4-batch streams, and 4.2M at 4 batches per step (CPU
 * 0.30-0.32 against 0.25 ms per 1000), which flattered every pool / main ratio by ~15%.
 */
export function sameWorkPerStep(subjects: Subject[]): Subject[] {
  const most = Math.max(...subjects.map((s) => s.opsPerStep));
  return subjects.map((subject) => {
    const times = most / subject.opsPerStep;
    if (!Number.isInteger(times))
      throw new Error(
        `bench: ${subject.name} does ${subject.opsPerStep} items per step, not a divisor of ${most}`,
      );
    if (times === 1) return subject;
    return {
      ...subject,
      opsPerStep: most,
      step: async () => {
        for (let i = 0; i < times; i++) await subject.step();
      },
    };
  });
}

/** A measurement with the CPU time all threads of this process spent on it, and the main thread alone. */
export type CpuMeasurement = Measurement & { cpuMs: number; mainCpuMs: number };

const clockTicksMs = 10; // USER_HZ is 100 on Linux
/**
 * CPU time of the main thread alone (Linux /proc, 10 ms resolution; NaN elsewhere): what the
 * pool costs the thread that also has to run everything else, and, on 2 cores, the workers.
 */
export function mainThreadCpuMs(): number {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * clockTicksMs;
  } catch {
    return Number.NaN;
  }
}

/**
 * On a shared box the wall-clock ratio says more about the neighbours than about the pool, so
 * the CPU time (all threads, process.cpuUsage) per operation is printed too, and from it what
 * the pool would reach with all cores to itself: cores x (main CPU per op) / (pool CPU per op).
 * This is a projection from measured CPU time, not a measurement of idle cores.
 */
export function printCpu(
  main: CpuMeasurement,
  pooled: readonly CpuMeasurement[],
  cores: number,
  per: number,
): void {
  const perOps = (m: CpuMeasurement) => (m.cpuMs * per) / m.ops;
  printFigure(`CPU ms per ${per} ops, ${main.name}`, perOps(main), 'ms');
  // The main-thread encode is not one core's work: V8's GC and compiler threads run beside it
  // on the otherwise idle core. Whatever it keeps busy beyond 1 core, 2 cores of pool workers
  // cannot beat: at best cores / (busy cores) of its rate, before any cost of the pool's own.
  const mainCores = main.cpuMs / main.elapsedMs;
  printFigure(
    '  cores the main-thread encode keeps busy',
    mainCores,
    'cores',
    '(its own thread + V8 helpers)',
  );
  printFigure(`  so at best, pool / main on ${cores} cores`, cores / mainCores, 'x');
  for (const m of pooled) {
    printFigure(`CPU ms per ${per} ops, ${m.name}`, perOps(m), 'ms', '(all threads)');
    printFigure(
      '  of which the main thread',
      (m.mainCpuMs * per) / m.ops,
      'ms',
      '(packing, task bookkeeping)',
    );
    printFigure(`  projected pool / main on ${cores} idle cores`, (cores * perOps(main)) / perOps(m), 'x');
  }
}

/** Each pool variant's rate against the main thread's, and CPU per item: the same for CIM and CSV. */
export function printPoolAgainstMain(
  main: CpuMeasurement,
  pool: {
    bytes: CpuMeasurement;
    ahead: CpuMeasurement;
    queuedAhead: CpuMeasurement;
    text?: CpuMeasurement;
    pre: CpuMeasurement;
  },
  threads: number,
  more: {
    /**
     * When the target is judged on another row (CIM: the publisher's path): what the rows that
     * return bytes of their own stand for, printed instead of the target.
     */
    bytesOfTheirOwn?: string;
    /** More pooled rows for the CPU lines (main's printed once). */
    extra?: readonly CpuMeasurement[];
  } = {},
): void {
  const note = more.bytesOfTheirOwn
    ? `bytes of their own (${more.bytesOfTheirOwn})`
    : 'target >= 1.6x on 2 cores';
  printFigure('pool (one call at a time) / main thread', rate(pool.bytes) / rate(main), 'x', note);
  printFigure('pool (encoding ahead) / main thread', rate(pool.ahead) / rate(main), 'x', note);
  printFigure(
    'pool (ahead, 2 tasks per worker) / main thread',
    rate(pool.queuedAhead) / rate(main),
    'x',
    'tasksPerWorker 2 (not the default)',
  );
  if (pool.text) printFigure('pool (text) / main thread', rate(pool.text) / rate(main), 'x');
  printFigure('pool (pre-packed) / main thread', rate(pool.pre) / rate(main), 'x');
  const extra = (more.extra ?? []).filter((m) => m !== pool.bytes && m !== pool.ahead && m !== pool.pre);
  printCpu(main, [pool.bytes, pool.ahead, pool.queuedAhead, pool.pre, ...extra], threads, 1000);
}

/** CPU ms per 1000 items of `work` on this thread, run for about `durationMs`. */
export function cpuPer1000(items: number, durationMs: number, work: () => unknown): number {
  for (let i = 0; i < 3; i++) work();
  const start = performance.now();
  const cpu0 = process.cpuUsage();
  let done = 0;
  while (performance.now() - start < durationMs) {
    work();
    done += items;
  }
  const cpu = process.cpuUsage(cpu0);
  return ((cpu.user + cpu.system) / 1000 / done) * 1000;
}

export const loadAverage = () => `load average (1 min): ${loadavg()[0]!.toFixed(1)}`;
