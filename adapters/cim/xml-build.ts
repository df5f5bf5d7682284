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

/** Numbers as CIM values: plain decimal notation, never exponent form. */
export function formatValue(n: number): string {
  if (!Number.isFinite(n)) throw new RangeError(`cannot encode ${n} as a CIM value`);
  if (Number.isInteger(n) && Math.abs(n) < 1e21) return n.toFixed(0);
  const s = String(n);
  if (!/e/i.test(s)) return s;
  return n.toFixed(20).replace(/0+$/, '').replace(/\.$/, '');
}
