import { XMLBuilder } from 'fast-xml-parser';

/**
 * Emitting XML: callers assemble plain objects whose key order IS the XSD sequence order
 * (every CIM level is an xs:sequence) and fast-xml-parser's builder serialises them with
 * escaping. Attributes use the '@_' prefix; undefined members are dropped first.
 */
export type XmlNode = string | number | XmlObject | XmlNode[] | undefined;
export type XmlObject = { [key: string]: XmlNode };

const builder = new XMLBuilder({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  format: true,
  indentBy: '  ',
  suppressEmptyNode: true,
  processEntities: true,
});

function prune(node: XmlNode): XmlNode {
  if (Array.isArray(node)) return node.map(prune).filter((n) => n !== undefined);
  if (node !== null && typeof node === 'object') {
    const out: XmlObject = {};
    for (const [k, v] of Object.entries(node)) {
      if (v === undefined) continue;
      const p = prune(v);
      if (Array.isArray(p) && p.length === 0) continue;
      out[k] = p;
    }
    return out;
  }
  return node;
}

/** A complete document with an XML declaration. */
export function buildDocument(rootName: string, root: XmlObject): string {
  const body = builder.build({ [rootName]: prune(root) }) as string;
  return `<?xml version="1.0" encoding="utf-8"?>\n${body}`;
}

/** xs:dateTime in UTC, without milliseconds when they are zero. */
export function isoUtc(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}

/**
 * Numbers in plain decimal notation, never exponent form (CIM values and CSV cells alike):
 * the shortest round-trip digits of String(n), with the exponent expanded exactly.
 */
export function formatValue(n: number): string {
  if (!Number.isFinite(n)) throw new RangeError(`cannot encode ${n} as a decimal value`);
  const s = String(n);
  const m = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(s);
  if (!m) return s;
  const [, sign, lead, fraction = '', exp] = m;
  const digits = `${lead}${fraction}`;
  const point = 1 + Number(exp);
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`;
  if (point >= digits.length) return `${sign}${digits}${'0'.repeat(point - digits.length)}`;
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}
