import type { CsvRow } from '../../../adapters/csv/codec.js';

/** Deterministic S_ batches shared by the crash child and the test: batch k holds rows `k-0 .. k-(n-1)`. */
export const DAY1_MS = Date.UTC(2026, 10, 22, 12);
export const DAY2_MS = Date.UTC(2026, 10, 23, 12);

export function batch(seq: number, rowsPerBatch: number): CsvRow[] {
  return Array.from({ length: rowsPerBatch }, (_, i) => ({
    serialnumber: `M${seq}-${i}`,
    pod: `POD;${seq}`,
    value: seq * 1000 + i,
    state: 0,
    cimcode: '0.0.7.4.1.1.12.0.0.0.0.0.0.0.0.0.72.0',
    sampledate: DAY1_MS - 3_600_000 * i,
  }));
}

/** Batches collected on the first day up to half, then on the second. */
export function collectedAt(seq: number, batches: number): number {
  return seq <= batches / 2 ? DAY1_MS : DAY2_MS;
}
