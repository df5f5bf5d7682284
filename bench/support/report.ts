/**
 * Benchmarks print figures as ratios against a baseline measured in the same run, so that a
 * slow or busy machine shifts both numbers together. Every bench uses these helpers so the
 * output reads the same everywhere.
 */
export type Measurement = { name: string; ops: number; elapsedMs: number; unit?: string };

export function rate(m: Measurement): number {
  return (m.ops * 1000) / m.elapsedMs;
}

/** Runs `step` (which performs `opsPerStep` operations) repeatedly for about `durationMs`. */
export async function measure(
  name: string,
  durationMs: number,
  opsPerStep: number,
  step: () => unknown | Promise<unknown>,
): Promise<Measurement> {
  const start = performance.now();
  let ops = 0;
  while (performance.now() - start < durationMs) {
    await step();
    ops += opsPerStep;
  }
  return { name, ops, elapsedMs: performance.now() - start };
}

export function percentile(sortedMs: readonly number[], p: number): number {
  if (sortedMs.length === 0) return Number.NaN;
  const index = Math.min(sortedMs.length - 1, Math.max(0, Math.ceil((p / 100) * sortedMs.length) - 1));
  return sortedMs[index]!;
}

function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (n >= 100) return Math.round(n).toLocaleString('en-US');
  return n.toFixed(n >= 10 ? 1 : 2);
}

/** Prints one table: each row's rate and its ratio to the baseline row. */
export function printRatios(title: string, baseline: Measurement, rows: readonly Measurement[]): void {
  const base = rate(baseline);
  console.log(title);
  for (const m of [baseline, ...rows]) {
    const r = rate(m);
    const ratio = m === baseline ? 'baseline' : `${(r / base).toFixed(3)}x baseline`;
    console.log(`  ${m.name.padEnd(48)} ${fmt(r).padStart(12)} ${m.unit ?? 'ops/s'}   ${ratio}`);
  }
}

/** Prints a labelled figure that is not a rate (latency, memory, time). */
export function printFigure(label: string, value: number, unit: string, note = ''): void {
  console.log(`  ${label.padEnd(48)} ${fmt(value).padStart(12)} ${unit}${note ? `   ${note}` : ''}`);
}
