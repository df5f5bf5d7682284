import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeCsvFile } from '../../adapters/csv/codec.js';
import { type CsvKind, csvFormats, dailyKinds, reportKinds } from '../../adapters/csv/formats.js';
import { packageRoot } from '../../core/paths.js';

/**
 * The column lists checked against the seed's own text (../shared/seeds/smmeplus-architecture.txt
 * §2.5.1.1), not against a copy typed into a test: every kind marked `fromSeed` must list
 * exactly the columns the seed names, in the seed's order.
 */
const seedText = readFileSync(
  join(packageRoot, '..', 'shared', 'seeds', 'smmeplus-architecture.txt'),
  'utf8',
);
const lines = seedText.split(/\r?\n/).map((l) => l.trim());

/** The line after a file-name heading that is a `;`-separated header. */
function dailyHeader(heading: RegExp): string[] {
  const at = lines.findIndex((l) => heading.test(l));
  expect(at).toBeGreaterThanOrEqual(0);
  const header = lines.slice(at).find((l) => /^serialnumber;/.test(l));
  expect(header).toBeDefined();
  return header!.split(';');
}

/** Column names of an extraction report: its parenthesised groups and bare comma lists. */
function reportColumns(heading: string): string[] {
  const at = lines.findIndex((l) => l.startsWith(`${heading} report contains`));
  expect(at).toBeGreaterThanOrEqual(0);
  const columns: string[] = [];
  for (const line of lines.slice(at + 1)) {
    if (/report contains|^STATUS WORD FOLDER/.test(line)) break;
    const group = /\(([^)]*)\)/.exec(line);
    const bare = /^-?\s*([a-z0-9_]+(?:\s*,\s*[a-z0-9_]+)*)\s*,?$/.exec(line);
    const list = group?.[1] ?? bare?.[1];
    if (list)
      columns.push(
        ...list
          .split(',')
          .map((c) => c.trim())
          .filter(Boolean),
      );
  }
  return columns;
}

const fromSeedText: Partial<Record<CsvKind, string[]>> = {
  S: dailyHeader(/^The format of the file is the following$/),
  DC: dailyHeader(/^DC_yyyy-mm-dd_server\.csv$/),
  VV: dailyHeader(/^VV_yyyy-mm-dd_server\.csv$/),
  MeterAggregatedInfo: reportColumns('MeterAggregatedInfo'),
  MeterInFieldReport: reportColumns('MeterInfieldReport'),
  MeterDCInfo: reportColumns('MeterDCInfo'),
  MeterReport: reportColumns('MeterReport'),
  ConcentratorInFieldReport: reportColumns('ConcentratorInField'),
};

describe("CSV columns against the seed's text", () => {
  it('the seed text yields the lists this test relies on (guards the extraction itself)', () => {
    expect(fromSeedText.S).toEqual(['serialnumber', 'pod', 'value', 'state', 'cimcode', 'sampledate']);
    expect(fromSeedText.MeterReport).toHaveLength(8);
    expect(fromSeedText.ConcentratorInFieldReport?.[0]).toBe('name');
    expect(fromSeedText.ConcentratorInFieldReport?.at(-1)).toBe('isreachable');
  });

  for (const [kind, columns] of Object.entries(fromSeedText) as [CsvKind, string[]][])
    it(`${kind}: columns and header line exactly as the seed lists them`, () => {
      expect(csvFormats[kind].fromSeed).toBe(true);
      expect(csvFormats[kind].columns).toEqual(columns);
      expect(encodeCsvFile(kind, [])).toBe(`${columns.join(';')}\n`);
    });

  it('only the kinds whose columns the seed does not list are marked as our own choice', () => {
    const own = [...dailyKinds, ...reportKinds].filter((k) => !csvFormats[k].fromSeed).sort();
    const listed = Object.keys(fromSeedText);
    expect(own).toEqual([...dailyKinds, ...reportKinds].filter((k) => !listed.includes(k)).sort());
  });
});
