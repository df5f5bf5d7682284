import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeEndDeviceEvents, parseEndDeviceEventsMessage } from '../../adapters/cim/end-device-events.js';
import { deviceEventKeys } from '../../adapters/cim/event-type-map.js';
import { encodeMeterReadings, parseMeterReadingsMessage } from '../../adapters/cim/meter-readings.js';
import { parseXml } from '../../adapters/cim/xml-tree.js';
import { ManualClock } from '../../core/clock.js';
import { cimKitDir, validateXml } from './support/xsd.js';

describe('XML character and entity references in inbound messages', () => {
  it('numeric character references are decoded in text and attributes, each reference once', () => {
    const el = parseXml('<a x="&#77;&#x31;">M&#49;&#xE9; &amp;#60; &lt;&gt;&quot;&apos;</a>');
    expect(el.attrs.x).toBe('M1');
    // `&amp;#60;` is the text "&#60;", not "<": references are decoded in a single pass.
    expect(el.text).toBe('M1\u00e9 &#60; <>"\'');
  });

  it('HTML-only entities and references to code points XML forbids are left as written', () => {
    expect(parseXml('<a>&nbsp;&#0;&#xD800;</a>').text).toBe('&nbsp;&#0;&#xD800;');
  });

  it('a meter serial written with character references reads as the same meter', () => {
    const seed = readFileSync(join(cimKitDir, 'seed', 'smmeplus-reading-eventmessage.fixed.xml'), 'utf8');
    const serial = 'UAAEEDN17204606196';
    expect(seed).toContain(serial);
    const escaped = seed.replaceAll(serial, `&#x55;AAEEDN1720460619&#54;`);
    expect(parseMeterReadingsMessage(escaped)).toEqual(parseMeterReadingsMessage(seed));
  });
});

describe('outbound messages with characters XML cannot carry', () => {
  const clock = new ManualClock(Date.UTC(2026, 0, 1));

  it('a control character or lone surrogate in a meter serial becomes U+FFFD and the message still validates', () => {
    const xml = encodeMeterReadings(
      [
        {
          meterSerial: 'M\u0001X\uD800',
          usagePoint: 'P\uFFFF',
          kind: 'register',
          quantity: { source: 'obis', code: '1.8.0' },
          value: 1234,
          unit: 'Wh',
          timestampMs: Date.UTC(2026, 0, 1),
        },
      ],
      { clock, source: 'review' },
    );
    expect(validateXml(xml).output).toMatch(/^OK/);
    const [reading] = parseMeterReadingsMessage(xml).meterReadings;
    expect(reading?.meter?.names).toEqual(['M\uFFFDX\uFFFD']);
    expect(reading?.usagePoint?.names).toEqual(['P\uFFFD']);
  });

  it('valid astral characters (surrogate pairs), tab and LF pass unchanged; controls in event details are replaced', () => {
    const xml = encodeEndDeviceEvents(
      [
        {
          deviceId: 'D\u{1F600}',
          deviceKind: 'meter',
          key: deviceEventKeys[0]!,
          phase: 'raised',
          timestampMs: Date.UTC(2026, 0, 1),
          details: { NOTE: 'a\u0007b', TAB: 'x\ty\nz' },
        },
      ],
      { clock, source: 'review' },
    );
    expect(validateXml(xml).output).toMatch(/^OK/);
    const [event] = parseEndDeviceEventsMessage(xml).events;
    expect(event?.assets?.names).toEqual(['D\u{1F600}']);
    expect(event?.details).toContainEqual({ name: 'NOTE', value: 'a\uFFFDb' });
    expect(event?.details).toContainEqual({ name: 'TAB', value: 'x\ty\nz' });
  });
});
