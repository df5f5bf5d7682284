import { readdirSync, readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeCsvFile, localizeRow, parseCsvFile } from '../../adapters/csv/codec.js';
import { DailyCsvWriter } from '../../adapters/csv/daily-writer.js';
import { csvFormats } from '../../adapters/csv/formats.js';
import { formatCsvLocalTimestamp, parseCsvLocalTimestamp } from '../../adapters/csv/local-time.js';
import { writeReport } from '../../adapters/csv/reports.js';
import { tempDirs } from './support/files.js';

/**
 * `*local` columns on the concentrator's wall clock. Expected texts come from the zone rules
 * (EU summer time: from 01:00 UTC on the last Sunday of March to 01:00 UTC on the last Sunday
 * of October; Rome is UTC+1 in winter, UTC+2 in summer), not from the formatter itself.
 */
const tempDir = tempDirs('mf-csv-local-');
const rome = 'Europe/Rome';
const h = (day: string, hhmm: string) => Date.parse(`${day}T${hhmm}:00Z`);

const dcInfoRow = (closureMs: number, updateMs: number) => ({
  concentrator: 'C1',
  macaddress: '',
  serialnumber: 'M1',
  versionapp1: '1.0',
  tabletype: 'active',
  description: 'Active Energy Import',
  lastclosuredatelocal: closureMs,
  errordesc: '',
  isunreachable: '0',
  iserror: '0',
  lastupdateutc: updateMs,
});

describe('local time columns', () => {
  it('the report columns named *local are the local ones; *utc and the others stay UTC', () => {
    expect(csvFormats.MeterAggregatedInfo.localTimeColumns).toEqual([
      'lastreadingdatelocal',
      'lastcedatarunlocal',
    ]);
    expect(csvFormats.MeterDCInfo.localTimeColumns).toEqual(['lastclosuredatelocal']);
    expect(csvFormats.S.localTimeColumns).toEqual([]);
  });

  it('writes *local in the given zone and *utc in UTC; without a zone, *local is UTC (the documented default)', () => {
    const closure = h('2026-07-01', '22:00'); // local midnight of 2 July in Rome (UTC+2)
    const update = h('2026-07-02', '00:15');
    const [local] = parseCsvFile(
      'MeterDCInfo',
      encodeCsvFile('MeterDCInfo', [localizeRow('MeterDCInfo', dcInfoRow(closure, update), rome)]),
    );
    expect(local!.lastclosuredatelocal).toBe('2026-07-02 00:00:00.000');
    expect(local!.lastupdateutc).toBe('2026-07-02 00:15:00.000');
    const [utc] = parseCsvFile('MeterDCInfo', encodeCsvFile('MeterDCInfo', [dcInfoRow(closure, update)]));
    expect(utc!.lastclosuredatelocal).toBe('2026-07-01 22:00:00.000');
    const [batchZone] = parseCsvFile(
      'MeterDCInfo',
      encodeCsvFile('MeterDCInfo', [dcInfoRow(closure, update)], { timeZone: rome }),
    );
    expect(batchZone!.lastclosuredatelocal).toBe('2026-07-02 00:00:00.000');
  });

  it('rows of concentrators in different zones each carry their own wall clock in one report file', async () => {
    const dir = tempDir();
    const instant = h('2026-01-15', '23:30');
    const path = await writeReport(
      dir,
      'MeterDCInfo',
      [
        localizeRow('MeterDCInfo', dcInfoRow(instant, instant), rome),
        localizeRow('MeterDCInfo', dcInfoRow(instant, instant), 'America/Sao_Paulo'),
        localizeRow('MeterDCInfo', dcInfoRow(instant, instant), 'UTC'),
      ],
      instant,
    );
    const rows = parseCsvFile('MeterDCInfo', readFileSync(path, 'utf8'));
    expect(rows.map((r) => r.lastclosuredatelocal)).toEqual([
      '2026-01-16 00:30:00.000', // UTC+1
      '2026-01-15 20:30:00.000', // UTC-3
      '2026-01-15 23:30:00.000',
    ]);
    expect(new Set(rows.map((r) => r.lastupdateutc))).toEqual(new Set(['2026-01-15 23:30:00.000']));
  });

  it("writeReport puts each row's *local columns on its own concentrator's clock via timeZoneOf; an unknown concentrator stays UTC", async () => {
    const dir = tempDir();
    const instant = h('2026-01-15', '23:30');
    const zones: Record<string, string> = { C1: rome, C2: 'America/Sao_Paulo' };
    const path = await writeReport(
      dir,
      'MeterDCInfo',
      ['C1', 'C2', 'C9'].map((c) => ({ ...dcInfoRow(instant, instant), concentrator: c })),
      instant,
      { timeZoneOf: (row) => zones[String(row.concentrator)] },
    );
    const rows = parseCsvFile('MeterDCInfo', readFileSync(path, 'utf8'));
    expect(rows.map((r) => [r.concentrator, r.lastclosuredatelocal, r.lastupdateutc])).toEqual([
      ['C1', '2026-01-16 00:30:00.000', '2026-01-15 23:30:00.000'],
      ['C2', '2026-01-15 20:30:00.000', '2026-01-15 23:30:00.000'],
      ['C9', '2026-01-15 23:30:00.000', '2026-01-15 23:30:00.000'],
    ]);
  });

  it('spring: the skipped hour never appears (01:59 is followed by 03:00) and reading 02:30 back is refused', () => {
    const texts = ['00:00', '00:30', '00:59', '01:00', '01:30'].map((t) =>
      formatCsvLocalTimestamp(h('2026-03-29', t), rome),
    );
    expect(texts).toEqual([
      '2026-03-29 01:00:00.000',
      '2026-03-29 01:30:00.000',
      '2026-03-29 01:59:00.000',
      '2026-03-29 03:00:00.000',
      '2026-03-29 03:30:00.000',
    ]);
    expect(() => parseCsvLocalTimestamp('2026-03-29 02:30:00.000', rome)).toThrow(
      expect.objectContaining({
        code: 'MF_CSV_TIME_ZONE',
        message: expect.stringMatching(/does not exist in Europe\/Rome/),
      }),
    );
    expect(parseCsvLocalTimestamp('2026-03-29 03:00:00.000', rome)).toBe(h('2026-03-29', '01:00'));
  });

  it('autumn: the repeated hour is written twice (02:00-02:59 summer time, then again winter time) and reading it back needs a choice', () => {
    const instants = ['23:30', '00:00', '00:30', '01:00', '01:30', '02:00'].map((t, i) =>
      h(i === 0 ? '2026-10-24' : '2026-10-25', t),
    );
    expect(instants.map((t) => formatCsvLocalTimestamp(t, rome))).toEqual([
      '2026-10-25 01:30:00.000',
      '2026-10-25 02:00:00.000',
      '2026-10-25 02:30:00.000',
      '2026-10-25 02:00:00.000',
      '2026-10-25 02:30:00.000',
      '2026-10-25 03:00:00.000',
    ]);
    expect(() => parseCsvLocalTimestamp('2026-10-25 02:30:00.000', rome)).toThrow(
      /happened twice in Europe\/Rome/,
    );
    expect(parseCsvLocalTimestamp('2026-10-25 02:30:00.000', rome, 'earlier')).toBe(h('2026-10-25', '00:30'));
    expect(parseCsvLocalTimestamp('2026-10-25 02:30:00.000', rome, 'later')).toBe(h('2026-10-25', '01:30'));
    expect(parseCsvLocalTimestamp('2026-10-25 03:00:00.000', rome)).toBe(h('2026-10-25', '02:00'));
  });

  it("names daily files by the calendar day of the writer's zone when given one (UTC by default)", async () => {
    const collected = h('2026-03-28', '23:30'); // 00:30 on 29 March in Rome
    const inRome = tempDir();
    const rows = [{ serialnumber: 'M', pod: 'P', value: 1, state: 0, cimcode: 'c', sampledate: collected }];
    const local = await DailyCsvWriter.open({ dir: inRome, kind: 'S', server: 'n1', timeZone: rome });
    await local.append(rows, { seq: 1, collectedAtMs: collected });
    await local.close();
    expect(readdirSync(inRome).filter((f) => f.endsWith('.csv'))).toEqual(['S_2026-03-29_n1.csv']);
    const inUtc = tempDir();
    const utc = await DailyCsvWriter.open({ dir: inUtc, kind: 'S', server: 'n1' });
    await utc.append(rows, { seq: 1, collectedAtMs: collected });
    await utc.close();
    expect(readdirSync(inUtc).filter((f) => f.endsWith('.csv'))).toEqual(['S_2026-03-28_n1.csv']);
    await expect(
      DailyCsvWriter.open({ dir: inUtc, kind: 'S', server: 'n2', timeZone: 'Rome' }),
    ).rejects.toMatchObject({
      code: 'MF_CSV_TIME_ZONE',
    });
  });

  it('keeps milliseconds, also before 1970', () => {
    expect(formatCsvLocalTimestamp(Date.UTC(2026, 5, 1, 10, 0, 0, 7), rome)).toBe('2026-06-01 12:00:00.007');
    expect(formatCsvLocalTimestamp(-1, 'UTC')).toBe('1969-12-31 23:59:59.999');
  });

  it('an unknown zone is refused with MF_CSV_TIME_ZONE naming it, before anything is written', async () => {
    const dir = tempDir();
    expect(() => localizeRow('MeterDCInfo', dcInfoRow(0, 0), 'Mars/Olympus_Mons')).toThrow(
      expect.objectContaining({
        code: 'MF_CSV_TIME_ZONE',
        message: expect.stringMatching(/Mars\/Olympus_Mons/),
      }),
    );
    await expect(
      writeReport(dir, 'MeterDCInfo', [dcInfoRow(0, 0)], 0, { timeZone: 'Nowhere' }),
    ).rejects.toMatchObject({
      code: 'MF_CSV_TIME_ZONE',
    });
    expect(() =>
      encodeCsvFile('MeterDCInfo', [{ ...dcInfoRow(0, 0), lastclosuredatelocal: 'yesterday' }]),
    ).toThrow(expect.objectContaining({ code: 'MF_CSV_ROW' }));
  });

  it('property: a local text read back gives the instant (one of the two in a repeated hour)', () => {
    const zones = [
      'Europe/Rome',
      'America/Sao_Paulo',
      'Australia/Lord_Howe',
      'Asia/Kolkata',
      'America/New_York',
      'UTC',
    ];
    fc.assert(
      fc.property(
        fc.integer({ min: Date.UTC(1990, 0, 1), max: Date.UTC(2040, 0, 1) }),
        fc.constantFrom(...zones),
        (t, zone) => {
          const text = formatCsvLocalTimestamp(t, zone);
          const earlier = parseCsvLocalTimestamp(text, zone, 'earlier');
          const later = parseCsvLocalTimestamp(text, zone, 'later');
          expect([earlier, later]).toContain(t);
          expect(formatCsvLocalTimestamp(earlier, zone)).toBe(text);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
