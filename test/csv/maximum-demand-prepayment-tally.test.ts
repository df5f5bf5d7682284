import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { truthKey } from '../../actors/simulation/ground-truth.js';
import { encodeCsvFile } from '../../adapters/csv/codec.js';
import { prepaymentRows } from '../../adapters/csv/prepayment-rows.js';
import { csvDir } from '../../adapters/csv/reports.js';
import { maximumPowerRows } from '../../adapters/csv/rows.js';
import type { CollectedReading } from '../../adapters/field-data.js';
import { compare, csvTally } from '../headend/output-check.js';
import { tempDirs } from './support/files.js';

/**
 * The exactly-once check the end-to-end tests use (test/headend/output-check.ts) reads MP_ and
 * PP_ files back into ground-truth keys. Here it is shown to catch what it must: a value
 * written twice, a value missing, a wrong value, and MP_ rows of on-demand register reads
 * (which are not closure values) left out of the tally.
 */
const tempDir = tempDirs('mf-csv-tally-');
const serial = 'UAAEEDN17204600001';
const closureMs = Date.UTC(2026, 2, 10, 23);
const peakMs = Date.UTC(2026, 2, 10, 19, 15);
const reading = (
  code: string,
  kind: 'dailyClosure' | 'register',
  value: number,
  unit: string,
  timestampMs: number,
) =>
  ({
    meterSerial: serial,
    kind,
    quantity: { source: 'obis', code },
    value,
    unit,
    timestampMs,
  }) as CollectedReading;

const closure = [
  reading('1.6.0', 'dailyClosure', 3.456, 'kW', peakMs),
  reading('19.10.0', 'dailyClosure', 23.45, 'EUR', closureMs),
  reading('19.20.0', 'dailyClosure', 1.07, 'EUR', closureMs),
];
const truth = new Map([
  [truthKey({ kind: 'dailyClosure', meterSerial: serial, code: '1.6.0', timestampMs: peakMs }), 3.456],
  [truthKey({ kind: 'dailyClosure', meterSerial: serial, code: '19.10.0', timestampMs: closureMs }), 23.45],
  [truthKey({ kind: 'dailyClosure', meterSerial: serial, code: '19.20.0', timestampMs: closureMs }), 1.07],
]);

function write(out: string, readings: CollectedReading[]): void {
  for (const [kind, rows] of [
    ['MP', maximumPowerRows(readings)],
    ['PP', prepaymentRows(readings)],
  ] as const) {
    const dir = csvDir(out, 'IT', kind);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${kind}_2026-03-11_n1.csv`), encodeCsvFile(kind, rows));
  }
}

describe('MP_ / PP_ in the exactly-once tally', () => {
  it('counts each closure value once, and ignores the MP_ row of an on-demand read', async () => {
    const out = tempDir();
    write(out, [...closure, reading('1.6.0', 'register', 2.1, 'kW', closureMs + 3_600_000)]);
    expect(compare(truth, await csvTally(out, 'IT'), ['dailyClosure'])).toEqual({
      missing: [],
      twice: [],
      extra: [],
    });
  });

  it('reports a duplicated row, a missing row and a wrong value', async () => {
    const out = tempDir();
    write(out, [closure[0]!, closure[0]!, { ...closure[1]!, value: 23.44 }]);
    const result = compare(truth, await csvTally(out, 'IT'), ['dailyClosure']);
    expect(result.twice).toEqual([
      truthKey({ kind: 'dailyClosure', meterSerial: serial, code: '1.6.0', timestampMs: peakMs }),
    ]);
    expect(result.missing).toEqual([
      truthKey({ kind: 'dailyClosure', meterSerial: serial, code: '19.20.0', timestampMs: closureMs }),
    ]);
    expect(result.extra).toEqual([
      `${truthKey({ kind: 'dailyClosure', meterSerial: serial, code: '19.10.0', timestampMs: closureMs })}=23.44 (truth 23.45)`,
    ]);
  });
});
