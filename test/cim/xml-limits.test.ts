import { describe, expect, it } from 'vitest';
import { parseMeterReadingsMessage } from '../../adapters/cim/meter-readings.js';
import { parseXml } from '../../adapters/cim/xml-tree.js';

const limits = { maxBytes: 64 * 1024, maxDepth: 32, maxElements: 5000 };

describe('XML input limits', () => {
  it('refuses an entity-expansion bomb (billion laughs) before expanding anything', () => {
    const bomb = `<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<EventMessage xmlns="http://iec.ch/TC57/2011/schema/message"><Header><Verb>created</Verb><Noun>&lol3;</Noun></Header></EventMessage>`;
    expect(() => parseXml(bomb, limits)).toThrow(expect.objectContaining({ code: 'MF_XML_DOCTYPE' }));
  });

  it('refuses an external entity (XXE) the same way', () => {
    const xxe = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>';
    expect(() => parseXml(xxe, limits)).toThrow(expect.objectContaining({ code: 'MF_XML_DOCTYPE' }));
  });

  it('refuses nesting deeper than the limit, counting only real elements', () => {
    const deep = `${'<a>'.repeat(33)}${'</a>'.repeat(33)}`;
    expect(() => parseXml(deep, limits)).toThrow(expect.objectContaining({ code: 'MF_XML_TOO_DEEP' }));
    const ok = `${'<a>'.repeat(32)}<!-- <b><b><b> -->${'</a>'.repeat(32)}`;
    expect(parseXml(ok, limits).local).toBe('a');
    // 100k levels would overflow a recursive parser; the pre-scan stops it at level 33.
    expect(() => parseXml('<a>'.repeat(100_000), { ...limits, maxBytes: 1024 * 1024 })).toThrow(
      expect.objectContaining({ code: 'MF_XML_TOO_DEEP' }),
    );
  });

  it('refuses documents over the byte limit and over the element count', () => {
    expect(() => parseXml(`<a>${'x'.repeat(70 * 1024)}</a>`, limits)).toThrow(
      expect.objectContaining({ code: 'MF_XML_TOO_LARGE' }),
    );
    expect(() => parseXml(`<a>${'<b/>'.repeat(5001)}</a>`, limits)).toThrow(/more than 5000 elements/);
  });

  it('refuses malformed XML with line and column', () => {
    expect(() => parseXml('<a><b></a>', limits)).toThrow(
      expect.objectContaining({ code: 'MF_XML_MALFORMED' }),
    );
    expect(() => parseXml('<a>\n<b x="1" x="2"/></a>', limits)).toThrow(/line 2/);
    expect(() => parseXml('<p:a/>', limits)).toThrow(/prefix "p"/);
    expect(() => parseXml('', limits)).toThrow(expect.objectContaining({ code: 'MF_XML_MALFORMED' }));
  });

  it('resolves default and prefixed namespaces the same way', () => {
    const a = parseXml('<m:A xmlns:m="urn:x"><m:B>1</m:B></m:A>');
    const b = parseXml('<A xmlns="urn:x"><B>1</B></A>');
    expect(a).toEqual(b);
  });

  it('a MeterReadings message missing mandatory parts is refused listing each problem with its xpath', () => {
    const xml = `<EventMessage xmlns="http://iec.ch/TC57/2011/schema/message"><Header><Verb>created</Verb><Noun>MeterReadings</Noun></Header>
<Payload><MeterReadings xmlns="http://iec.ch/TC57/2011/MeterReadings#"><MeterReading><Readings><value>1</value></Readings><IntervalBlocks/></MeterReading></MeterReadings></Payload></EventMessage>`;
    try {
      parseMeterReadingsMessage(xml);
      expect.unreachable();
    } catch (err) {
      const problems = (err as { problems: { xpath: string }[] }).problems.map((p) => p.xpath);
      expect(problems).toEqual([
        '/EventMessage/Payload/MeterReadings/MeterReading[1]/Readings[1]/ReadingType',
        '/EventMessage/Payload/MeterReadings/MeterReading[1]/IntervalBlocks[1]/ReadingType',
      ]);
    }
    const wrongNs = xml.replace('http://iec.ch/TC57/2011/MeterReadings#', 'urn:other');
    expect(() => parseMeterReadingsMessage(wrongNs)).toThrow(/namespace "urn:other"/);
    expect(() =>
      parseMeterReadingsMessage(xml.replace('<Verb>created</Verb>', '<Verb>explode</Verb>')),
    ).toThrow(/Verb "explode"/);
  });
});
