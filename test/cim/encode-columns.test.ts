import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ByteSink } from '../../adapters/cim/byte-sink.js';
import { packReadings } from '../../adapters/cim/columnar-readings.js';
import {
  encodeMeterReadings,
  encodeMeterReadingsByModel,
  encodeMeterReadingsBytes,
  type MeterReadingsOptions,
} from '../../adapters/cim/meter-readings.js';
import type { CollectedReading } from '../../adapters/field-data.js';
import { collectedReadings, unknownQuantityReading } from './support/reading-arbitrary.js';
import { validateXml } from './support/xsd.js';

// The columnar encoder (meter-readings-xml.ts) against the model path it replaced, which stays
// the reference: same bytes for any readings, the same error for the same first bad reading.

// Serials with what XML must escape or replace (markup, C0 controls, lone surrogates) and
// repeats, so meters and usage points group.
const name = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.stringMatching(/^[A-Za-z0-9&<>"';\n _.-]{1,16}$/),
  fc.constantFrom('M1', 'M2', 'M3', 'P1', ''),
);
const timestampMs = fc.oneof(
  fc.integer({ min: Date.UTC(2000, 0, 1), max: Date.UTC(2040, 0, 1) }),
  fc.constantFrom(Date.UTC(2026, 0, 1), Date.UTC(2026, 0, 1, 1), Date.UTC(2026, 0, 1, 0, 0, 0, 250)),
  // Out of Date's range: both paths must refuse it alike.
  fc.constantFrom(8.64e15 + 1),
);

const reading = collectedReadings({
  meterSerial: name,
  usagePoint: fc.option(name, { nil: undefined }),
  value: fc.oneof(
    fc.integer({ min: -1e9, max: 1e12 }),
    fc.double({ noNaN: false, noDefaultInfinity: false }),
    fc.constantFrom(0, -0, 1e21, 5e-324, 123.456, 14631.051, 1e15, -1e15, 999999999999999),
  ),
  timestampMs,
  qualities: fc.option(fc.array(fc.constantFrom('1.0.0', '1.4.5', '1.2.32', '3.8.0'), { maxLength: 2 }), {
    nil: undefined,
  }),
  // A unit other than the code's (kWh under a Wh code) makes the encoder scale the value.
  unitPrefixes: ['', 'k', 'M'],
});

const options: fc.Arbitrary<MeterReadingsOptions> = fc.record({
  source: name,
  messageId: name,
  correlationId: fc.option(name, { nil: undefined }),
  profile: fc.constantFrom('standard' as const, 'seed-compat' as const),
  clock: fc.constant({ now: () => Date.UTC(2026, 0, 2) }),
});

function outcome(encode: () => string): string {
  try {
    return encode();
  } catch (err) {
    return `threw ${(err as Error).name} ${(err as { code?: string }).code ?? ''}: ${(err as Error).message}`;
  }
}

const interval = (meterSerial: string, usagePoint: string | undefined, hour: number, value: number) => {
  const r: CollectedReading = {
    meterSerial,
    kind: 'interval',
    quantity: { source: 'profile', quantity: 'activeImportInterval' },
    value,
    unit: 'Wh',
    timestampMs: Date.UTC(2026, 0, 1, hour),
    intervalSeconds: 3600,
  };
  if (usagePoint !== undefined) r.usagePoint = usagePoint;
  return r;
};

describe('MeterReadings encoded from columns', () => {
  it('writes byte for byte what the model path writes, and fails where it fails (property)', () => {
    fc.assert(
      fc.property(fc.array(reading, { maxLength: 60 }), options, (readings, o) => {
        expect(outcome(() => encodeMeterReadings(readings, o))).toBe(
          outcome(() => encodeMeterReadingsByModel(readings, o)),
        );
      }),
      { numRuns: 400 },
    );
  });

  it('writes as bytes exactly the UTF-8 of the text (property)', () => {
    const decoder = new TextDecoder('utf-8', { fatal: true });
    fc.assert(
      fc.property(fc.array(reading, { maxLength: 30 }), options, (readings, o) => {
        const text = outcome(() => encodeMeterReadings(readings, o));
        const bytes = outcome(() => decoder.decode(encodeMeterReadingsBytes(readings, o)));
        expect(bytes).toBe(text);
      }),
      { numRuns: 200 },
    );
  });

  it('writes integers digit by digit exactly as String(n) does', () => {
    fc.assert(
      fc.property(fc.integer({ min: -(1e15 - 1), max: 1e15 - 1 }), (n) => {
        const sink = new ByteSink();
        sink.putInteger(n);
        expect(sink.takeText()).toBe(String(n));
      }),
      { numRuns: 2000 },
    );
    for (const n of [0, -0, 9, 10, 99, 100, 999999999999999, -999999999999999]) {
      const sink = new ByteSink();
      sink.putInteger(n);
      expect(sink.takeText()).toBe(String(n));
    }
  });

  it('a message larger than the reused buffer grows it and comes out whole', () => {
    const readings = Array.from({ length: 4000 }, (_, i) => interval(`M${i % 50}`, `P${i % 50}`, i % 24, i));
    const o = { messageId: 'm-big', clock: { now: () => 0 } };
    const bytes = encodeMeterReadingsBytes(readings, o);
    expect(bytes.byteLength).toBeGreaterThan(256 * 1024);
    expect(new TextDecoder().decode(bytes)).toBe(encodeMeterReadingsByModel(readings, o));
    // The next, small message is not polluted by the big one's leftovers.
    expect(encodeMeterReadings(readings.slice(0, 3), o)).toBe(
      encodeMeterReadingsByModel(readings.slice(0, 3), o),
    );
  });

  it('instants cached across messages stay right past the cache bound (4096) and after an out-of-range one', () => {
    // 6,000 distinct instants (the cache is emptied when full), then messages reusing early
    // ones: every message is what the model path writes.
    const at = (k: number) => Date.UTC(2026, 0, 1) + k * 900_000;
    const many = Array.from({ length: 6000 }, (_, k) => ({
      ...interval('M1', 'P1', 0, k),
      timestampMs: at(k),
    }));
    const o = { messageId: 'm-times', clock: { now: () => 0 } };
    expect(encodeMeterReadings(many, o)).toBe(encodeMeterReadingsByModel(many, o));
    const again = [0, 1, 4095, 4096, 5999].map((k) => ({
      ...interval('M2', undefined, 0, k),
      timestampMs: at(k),
    }));
    expect(encodeMeterReadings(again, o)).toBe(encodeMeterReadingsByModel(again, o));
    const outOfRange = [{ ...interval('M3', undefined, 0, 1), timestampMs: 9e15 }];
    let modelError = '';
    try {
      encodeMeterReadingsByModel(outOfRange, o);
    } catch (err) {
      modelError = (err as Error).message;
    }
    expect(modelError).not.toBe('');
    expect(() => encodeMeterReadings(outOfRange, o)).toThrow(modelError);
    expect(encodeMeterReadings(again, o)).toBe(encodeMeterReadingsByModel(again, o));
  });

  it('groups by meter and usage point, sorts each block by time (stably), and validates', () => {
    const readings = [
      interval('M1', 'P1', 3, 30),
      interval('M2', undefined, 1, 10),
      interval('M1', 'P1', 1, 10),
      interval('M1', 'P1', 1, 11), // same time: stays after the one that came first
      interval('M1', '', 2, 20), // '' groups with no usage point... of M1, a different group than P1
      interval('M1', undefined, 0, 5),
      {
        meterSerial: 'M1',
        usagePoint: 'P1',
        kind: 'register' as const,
        quantity: { source: 'obis' as const, code: '1.8.0' },
        value: 14.631051, // MWh under a kWh code: x1000, binary noise rounded away
        unit: 'MWh',
        timestampMs: Date.UTC(2026, 0, 1),
      },
    ];
    const o = { messageId: 'm-1', clock: { now: () => Date.UTC(2026, 0, 2) } };
    const xml = encodeMeterReadings(readings, o);
    expect(xml).toBe(encodeMeterReadingsByModel(readings, o));
    expect(validateXml(xml).output).toMatch(/^OK/);
    expect(xml.match(/<MeterReading>/g)).toHaveLength(3);
    const m1p1 = xml.slice(xml.indexOf('<MeterReading>'), xml.indexOf('</MeterReading>'));
    expect([...m1p1.matchAll(/<value>([^<]+)<\/value>/g)].map((m) => m[1])).toEqual([
      '10',
      '11',
      '30',
      '14631.051',
    ]);
    // '' and no usage point are one group, with no UsagePoint element (the first had none).
    expect(xml.match(/<UsagePoint>/g)).toHaveLength(1);
  });

  it('writes an empty MeterReadings for no readings, as the model path does', () => {
    const o = { messageId: 'm-0', clock: { now: () => 0 } };
    expect(encodeMeterReadings([], o)).toBe(encodeMeterReadingsByModel([], o));
    expect(encodeMeterReadings([], o)).toContain(
      '<MeterReadings xmlns="http://iec.ch/TC57/2011/MeterReadings#"/>',
    );
  });

  it('takes the model path for readings the columns cannot carry, with the same result', () => {
    const odd = { ...interval('M1', 'P1', 1, 0), value: '12' as unknown as number };
    expect(() => packReadings([odd])).toThrow(/not a number/);
    const o = { messageId: 'm-2', clock: { now: () => 0 } };
    expect(encodeMeterReadings([odd], o)).toBe(encodeMeterReadingsByModel([odd], o));
    expect(encodeMeterReadings([odd], o)).toContain('<value>12</value>');
  });

  it('names an unknown quantity with the same error as the model path, nothing written', () => {
    const bad = unknownQuantityReading();
    const o = { messageId: 'x', clock: { now: () => 0 } };
    const ours = outcome(() => encodeMeterReadings([interval('M1', 'P1', 1, 1), bad], o));
    expect(ours).toMatch(/^threw \S+ MF_/);
    expect(ours).toBe(outcome(() => encodeMeterReadingsByModel([interval('M1', 'P1', 1, 1), bad], o)));
  });
});
