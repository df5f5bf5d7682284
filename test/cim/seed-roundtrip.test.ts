import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  encodeEndDeviceEventsMessage,
  parseEndDeviceEventsMessage,
} from '../../adapters/cim/end-device-events.js';
import {
  collectedFromMeterReadings,
  encodeMeterReadingsMessage,
  parseMeterReadingsMessage,
} from '../../adapters/cim/meter-readings.js';
import { cimKitDir, validateFile, validateXml } from './support/xsd.js';

const seed = (name: string) => readFileSync(join(cimKitDir, 'seed', name), 'utf8');
const loadProfileSeed = readFileSync(
  join(import.meta.dirname, 'fixtures', 'smmeplus-loadprofile-eventmessage.xml'),
  'utf8',
);

describe("the seed's XML examples", () => {
  it('are themselves schema-invalid, as the kit README says (so the round trip below proves a repair)', () => {
    expect(validateFile(join(cimKitDir, 'seed', 'smmeplus-reading-eventmessage.xml')).ok).toBe(false);
    expect(validateFile(join(cimKitDir, 'seed', 'smmeplus-event-eventmessage.xml')).ok).toBe(false);
  });

  it('reading: parses, re-encodes schema-valid, and carries the same values as the kit-fixed version', () => {
    const parsed = parseMeterReadingsMessage(seed('smmeplus-reading-eventmessage.xml'));
    const xml = encodeMeterReadingsMessage(parsed.header, parsed.meterReadings);
    const result = validateXml(xml);
    expect(result.output).toMatch(/^OK/);
    const fixed = parseMeterReadingsMessage(seed('smmeplus-reading-eventmessage.fixed.xml'));
    expect(parseMeterReadingsMessage(xml)).toEqual(fixed);
    expect(fixed.meterReadings[0]!.readings).toHaveLength(7);
    expect(fixed.meterReadings[0]!.readings[0]).toEqual({
      readingType: '0.0.16.1.1.12.0.0.0.0.0.0.0.0.0.0.72.0',
      timeStamp: '2019-10-02T00:00:00',
      value: '14631051',
      qualities: ['1.0.0'],
    });
    expect(fixed.meterReadings[0]!.usagePoint).toEqual({ names: ['827323'] });
    // UsagePoint now follows the Readings, as MeterReadings.xsd's sequence requires.
    expect(xml.indexOf('<UsagePoint>')).toBeGreaterThan(xml.lastIndexOf('</Readings>'));
  });

  it('reading: the seed values map back to OBIS 1.8.0 .. 1.8.6 daily closures in Wh', () => {
    const parsed = parseMeterReadingsMessage(seed('smmeplus-reading-eventmessage.xml'));
    const { readings, unknownCodes } = collectedFromMeterReadings(parsed.meterReadings);
    expect(unknownCodes).toEqual([]);
    expect(readings.map((r) => (r.quantity.source === 'obis' ? r.quantity.code : ''))).toEqual([
      '1.8.0',
      '1.8.1',
      '1.8.2',
      '1.8.3',
      '1.8.4',
      '1.8.5',
      '1.8.6',
    ]);
    expect(readings[0]).toMatchObject({
      meterSerial: 'UAAEEDN17204606196',
      usagePoint: '827323',
      kind: 'dailyClosure',
      value: 14631051,
      unit: 'Wh',
      timestampMs: Date.UTC(2019, 9, 2),
    });
  });

  it('event: parses, re-encodes schema-valid, and equals the kit-fixed version', () => {
    const parsed = parseEndDeviceEventsMessage(seed('smmeplus-event-eventmessage.xml'));
    const xml = encodeEndDeviceEventsMessage(parsed.header, parsed.events);
    expect(validateXml(xml).output).toMatch(/^OK/);
    const fixed = parseEndDeviceEventsMessage(seed('smmeplus-event-eventmessage.fixed.xml'));
    expect(parseEndDeviceEventsMessage(xml)).toEqual(fixed);
    expect(fixed.header.correlationId).toBe('03102019093557034-WSCONSULTASMT');
    expect(fixed.events[0]).toMatchObject({
      createdDateTime: '2019-10-03T21:07:00.3306019Z',
      eventType: '3.21.87.85',
      assets: { names: ['UAAEEDN18700817770'] },
      usagePoint: { names: ['3373159'] },
    });
    expect(fixed.events[0]!.details).toContainEqual({ name: 'CONCENTRATOR', value: 'TD-105525' });
  });

  it('load profile: parses (19-field typo repaired), re-encodes schema-valid with the same interval values', () => {
    expect(validateXml(loadProfileSeed).ok).toBe(false);
    const parsed = parseMeterReadingsMessage(loadProfileSeed);
    const xml = encodeMeterReadingsMessage(parsed.header, parsed.meterReadings);
    expect(validateXml(xml).output).toMatch(/^OK/);
    const again = parseMeterReadingsMessage(xml);
    expect(again).toEqual(parsed);
    expect(again.meterReadings.map((m) => m.meter?.names[0])).toEqual([
      'UAAEEDN18700723562',
      'UAAEEDN18700718702',
      'UAAEEDN18700729245',
    ]);
    expect(again.meterReadings[2]!.intervalBlocks[0]!.intervalReadings.map((r) => r.value)).toEqual([
      '177',
      '380',
      '292',
      '340',
      '388',
      '383',
      '334',
      '254',
    ]);
    for (const m of again.meterReadings)
      expect(m.intervalBlocks[0]!.readingType).toBe('0.0.7.4.1.1.12.0.0.0.0.0.0.0.0.0.72.0');
    const { readings, unknownCodes } = collectedFromMeterReadings(again.meterReadings);
    expect(unknownCodes).toEqual([]);
    expect(readings[0]).toMatchObject({ kind: 'interval', intervalSeconds: 3600, value: 430, unit: 'Wh' });
  });
});
