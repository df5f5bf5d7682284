/**
 * A typical LFP open-circuit voltage curve per cell (SOC % → V). Not from the GTX2500 manual,
 * which gives only the 45.6–56.16 V window; the end points are chosen so 16 cells span it
 * (0 % ≈ 2.85 V × 16 = 45.6 V, 100 % ≈ 3.5 V × 16 = 56.0 V). The simulator needs *a* curve so
 * that voltage protections happen at the ends of the SOC range, as on a real pack.
 */
const cellCurve: readonly [number, number][] = [
  [0, 2.85],
  [5, 3.05],
  [10, 3.18],
  [20, 3.24],
  [40, 3.28],
  [60, 3.3],
  [80, 3.32],
  [90, 3.34],
  [97, 3.38],
  [100, 3.5],
];

export function cellOpenCircuitVoltageV(socPct: number): number {
  const soc = Math.min(100, Math.max(0, socPct));
  for (let i = 1; i < cellCurve.length; i++) {
    const [s1, v1] = cellCurve[i]!;
    const [s0, v0] = cellCurve[i - 1]!;
    if (soc <= s1) return v0 + ((v1 - v0) * (soc - s0)) / (s1 - s0);
  }
  return cellCurve[cellCurve.length - 1]![1];
}
