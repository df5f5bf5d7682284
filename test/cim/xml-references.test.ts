import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseMeterReadingsMessage } from '../../adapters/cim/meter-readings.js';
import { parseXml } from '../../adapters/cim/xml-tree.js';
import { cimKitDir } from './support/xsd.js';

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
