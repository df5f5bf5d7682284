import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeEndDeviceEvents, parseEndDeviceEventsMessage } from '../../adapters/cim/end-device-events.js';
import { deviceEventKeys, eventTypeFor } from '../../adapters/cim/event-type-map.js';
import { encodeMeterReadings, parseMeterReadingsMessage } from '../../adapters/cim/meter-readings.js';
import type { DeviceEvent } from '../../adapters/field-data.js';
import { ManualClock } from '../../core/clock.js';
import { collectedReadings } from './support/reading-arbitrary.js';
import { validateXml } from './support/xsd.js';

// Names with XML-special characters, so escaping is exercised against the validator.
// Identifiers never start or end with blanks (the reader trims text), but may hold them inside.
const name = fc.stringMatching(/^[A-Za-z0-9&<>"'_.-]([A-Za-z0-9 &<>"'_.-]{0,18}[A-Za-z0-9&<>"'_.-])?$/);
const timestampMs = fc
  .integer({ min: Date.UTC(2000, 0, 1), max: Date.UTC(2040, 0, 1) })
  .map((ms) => ms - (ms % 1000));

const reading = collectedReadings({
  meterSerial: name,
  usagePoint: fc.option(name, { nil: undefined }),
  value: fc.oneof(
    fc.integer({ min: -1e9, max: 1e12 }),
    fc.double({ min: -1e6, max: 1e6, noNaN: true, noDefaultInfinity: true }),
  ),
  timestampMs,
  qualities: fc.option(
    fc.array(fc.constantFrom('1.0.0', '1.4.5', '1.2.32', '3.8.0'), { minLength: 1, maxLength: 2 }),
    { nil: undefined },
  ),
});

const event: fc.Arbitrary<DeviceEvent & { usagePoint?: string }> = fc
  .record({
    deviceId: name,
    key: fc.constantFrom(...deviceEventKeys),
    phase: fc.constantFrom('raised', 'cleared', 'occurred'),
    timestampMs,
    details: fc.dictionary(fc.stringMatching(/^[A-Z]{1,10}$/), name, { maxKeys: 3 }),
    usagePoint: fc.option(name, { nil: undefined }),
  })
  .filter((e) => {
    try {
      eventTypeFor(e.key, e.phase);
      return true;
    } catch {
      return false;
    }
  })
  .map((e) => {
    const out: DeviceEvent & { usagePoint?: string } = {
      deviceId: e.deviceId,
      deviceKind: 'meter',
      key: e.key,
      phase: e.phase,
      timestampMs: e.timestampMs,
      details: e.details,
    };
    if (e.usagePoint) out.usagePoint = e.usagePoint;
    return out;
  });

const clock = new ManualClock(Date.UTC(2026, 0, 1));

describe('every message meterfabric writes validates against the XSDs', () => {
  it('MeterReadings from generated readings (registers, closures, intervals, instantaneous)', () => {
    fc.assert(
      fc.property(fc.array(reading, { minLength: 1, maxLength: 30 }), (readings) => {
        const xml = encodeMeterReadings(readings, {
          clock,
          source: 'meterfabric-test',
          correlationId: 'c-1',
        });
        const result = validateXml(xml);
        expect(result.output).toMatch(/^OK/);
        const parsed = parseMeterReadingsMessage(xml);
        const values = parsed.meterReadings.flatMap((m) => [
          ...m.readings.map((r) => r.value),
          ...m.intervalBlocks.flatMap((b) => b.intervalReadings.map((r) => r.value)),
        ]);
        expect(values).toHaveLength(readings.length);
        expect(values.every((v) => v !== undefined && !/e/i.test(v) && Number.isFinite(Number(v)))).toBe(
          true,
        );
        expect(new Set(parsed.meterReadings.map((m) => m.meter?.names[0]))).toEqual(
          new Set(readings.map((r) => r.meterSerial)),
        );
      }),
      { numRuns: 25 },
    );
  });

  it('EndDeviceEvents from generated device events', () => {
    fc.assert(
      fc.property(fc.array(event, { minLength: 1, maxLength: 20 }), (events) => {
        const xml = encodeEndDeviceEvents(events, { clock, source: 'meterfabric-test' });
        expect(validateXml(xml).output).toMatch(/^OK/);
        const parsed = parseEndDeviceEventsMessage(xml);
        expect(parsed.events.map((e) => e.eventType)).toEqual(
          events.map((e) => eventTypeFor(e.key, e.phase)),
        );
        expect(parsed.events.map((e) => e.assets?.names[0])).toEqual(events.map((e) => e.deviceId));
      }),
      { numRuns: 25 },
    );
  });
});
