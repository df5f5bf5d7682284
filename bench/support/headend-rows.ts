import type { Span, TimedPorts } from './headend-probe.js';
import type { Scenario } from './headend-span.js';
import { type Measurement, printFigure, printRatios, rate } from './report.js';

/**
 * The cluster bench's result rows (bench/headend-cluster.bench.ts): one per measured span,
 * printed as readings/s against the replicated-write rate, readings per call, rounds of
 * commits per simulated hour and the target line.
 */

/** Driver-side counts of one or more runs (each run's own TimedPorts). */
export type Timing = { rounds: number; deviceCalls: number };

export type BenchRow = {
  name: string;
  span: Span;
  /** Undefined for the in-process run (no calls timed). */
  timing: Timing | undefined;
  scenario: Scenario;
};

export function timingOf(...runs: TimedPorts[]): Timing {
  let rounds = 0;
  let deviceCalls = 0;
  for (const run of runs) {
    rounds += run.rounds;
    deviceCalls += run.byActor.get('device (any)')?.calls ?? 0;
  }
  return { rounds, deviceCalls };
}

/** Two runs as one: counts and times summed, the simulated span their total. */
export function sumOf(a: Span, b: Span): Span {
  return {
    readings: a.readings + b.readings,
    elapsedMs: a.elapsedMs + b.elapsedMs,
    startMs: a.startMs,
    endMs: a.endMs + (b.endMs - b.startMs),
    calls: a.calls + b.calls,
    provisionMs: a.provisionMs,
    steps: a.steps + b.steps,
    activeSteps: a.activeSteps + b.activeSteps,
    activeMs: a.activeMs + b.activeMs,
    driverCpuMs: a.driverCpuMs + b.driverCpuMs,
    streamEntries: a.streamEntries + b.streamEntries,
    writeBusyMs: a.writeBusyMs + b.writeBusyMs,
  };
}

function measurementOf(row: BenchRow): Measurement {
  return { name: row.name, ops: row.span.readings, elapsedMs: row.span.elapsedMs, unit: 'readings/s' };
}

const hours = (sp: Span) => (sp.endMs - sp.startMs) / 3_600_000;

/** Every row against the replicated-write rate, then calls, driver CPU and rounds per row. */
export function printScenarioRows(replication: Measurement, rows: readonly BenchRow[]): void {
  printRatios(
    'end-to-end readings, simulated concentrators -> CSV + CIM, vs the runtime replicated-write rate (same run)',
    replication,
    rows.map(measurementOf),
  );
  console.log('calls per reading (driver-side counts; a collecting step is one where readings were written)');
  for (const { name, span: sp, timing, scenario } of rows) {
    if (!timing) continue;
    printFigure(
      `${name.trim().slice(0, 40)}: readings per call`,
      sp.readings / Math.max(1, sp.calls),
      'readings',
      `${((1000 * sp.calls) / Math.max(1, sp.readings)).toFixed(1)} calls per 1,000 readings, ${sp.calls} calls, ` +
        `${(timing.deviceCalls / Math.max(1, sp.activeSteps * scenario.concentrators)).toFixed(2)} device calls per concentrator per collecting step (${sp.activeSteps} steps), ` +
        `${((sp.calls * 1000) / sp.elapsedMs).toFixed(0)} calls/s`,
    );
  }
  console.log('driver process CPU (field simulation, links, calls, CSV and CIM writers) per reading');
  for (const { name, span: sp } of rows)
    printFigure(
      name.trim().slice(0, 48),
      (1000 * sp.driverCpuMs) / Math.max(1, sp.readings),
      'us',
      `${((100 * sp.driverCpuMs) / sp.elapsedMs).toFixed(0)}% of a core, ${sp.readings} readings; ` +
        `stream writes ${sp.streamEntries} entries, ${(sp.writeBusyMs / Math.max(1, sp.streamEntries)).toFixed(1)} ms under way per entry, ` +
        `under way ${((100 * sp.writeBusyMs) / sp.elapsedMs).toFixed(0)}% of the span`,
    );
  const inProcess = rows.find((r) => r.timing === undefined);
  if (inProcess) {
    const first = rows.find((r) => r.scenario === inProcess.scenario)!;
    printFigure(
      'cluster vs in-process, same span',
      rate(measurementOf(first)) / rate(measurementOf(inProcess)),
      'x',
    );
  }
  const timed = rows.filter((r) => r.timing !== undefined);
  if (timed.length > 0) {
    const best = timed.reduce((a, b) => (rate(measurementOf(b)) > rate(measurementOf(a)) ? b : a));
    printFigure(
      'target 100,000 readings/s reached at',
      (100 * rate(measurementOf(best))) / 100_000,
      '%',
      `best scenario: ${best.name.trim()}`,
    );
  }
  console.log('rounds of commits per simulated hour (longest chain of calls one after another)');
  for (const { name, span: sp, timing } of rows)
    if (timing)
      printFigure(
        name.trim().slice(0, 48),
        timing.rounds / hours(sp),
        'rounds',
        `${((sp.readings * 1000) / sp.elapsedMs).toFixed(0)} readings/s, ${sp.calls} calls, ${(sp.elapsedMs / Math.max(1, timing.rounds)).toFixed(0)} ms per round`,
      );
}
