/**
 * Emitting XML: callers assemble plain objects whose key order IS the XSD sequence order
 * (every CIM level is an xs:sequence); this serialiser writes them indented by two spaces,
 * attributes from '@_' keys, empty elements self-closed, text and attributes escaped.
 * (fast-xml-parser's XMLBuilder gives the same output but was 10x slower in
 * bench/cim-csv.bench.ts; parsing still uses fast-xml-parser.) Undefined members are skipped.
 */
export type XmlNode = string | number | XmlObject | XmlNode[] | undefined;
export type XmlObject = { [key: string]: XmlNode };

const textEscapes: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
};

/**
 * Characters XML 1.0 cannot carry at all, not even as a character reference: C0 controls other
 * than tab, LF and CR, lone surrogates, U+FFFE and U+FFFF. One of them in a meter serial or an
 * event detail (field devices send such bytes) would make the whole message unreadable to
 * every integrator, so each is written as U+FFFD (the replacement character) instead.
 */
const notXmlChar =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching the controls XML forbids is the point.
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const needsEscaping =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: as above.
  /[&<>"'\u0000-\u0008\u000B\u000C\u000E-\u001F\uD800-\uDFFF\uFFFE\uFFFF]/;

export function escapeXml(value: string): string {
  if (!needsEscaping.test(value)) return value;
  return value.replace(notXmlChar, '\uFFFD').replace(/[&<>"']/g, (c) => textEscapes[c]!);
}

function writeElement(name: string, node: XmlNode, indent: string, out: string[]): void {
  if (node === undefined) return;
  if (Array.isArray(node)) {
    for (const item of node) writeElement(name, item, indent, out);
    return;
  }
  if (typeof node !== 'object') {
    out.push(`${indent}<${name}>${escapeXml(String(node))}</${name}>\n`);
    return;
  }
  let attrs = '';
  const children: [string, XmlNode][] = [];
  for (const key in node) {
    const v = node[key];
    if (v === undefined) continue;
    if (key.startsWith('@_')) attrs += ` ${key.slice(2)}="${escapeXml(String(v))}"`;
    else if (!Array.isArray(v) || v.length > 0) children.push([key, v]);
  }
  if (children.length === 0) {
    out.push(`${indent}<${name}${attrs}/>\n`);
    return;
  }
  out.push(`${indent}<${name}${attrs}>\n`);
  const inner = `${indent}  `;
  for (const [key, v] of children) writeElement(key, v, inner, out);
  out.push(`${indent}</${name}>\n`);
}

/** One element (and its children) as text, each line starting with `indent`. */
export function elementXml(name: string, node: XmlNode, indent: string): string {
  const out: string[] = [];
  writeElement(name, node, indent, out);
  return out.join('');
}

/** A complete document with an XML declaration. */
export function buildDocument(rootName: string, root: XmlObject): string {
  const out: string[] = ['<?xml version="1.0" encoding="utf-8"?>\n'];
  writeElement(rootName, root, '', out);
  return out.join('');
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
  // Most values have no exponent: skip the regular expression for them (encoders call this per value).
  if (s.indexOf('e') === -1) return s;
  const m = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(s);
  if (!m) return s;
  const [, sign, lead, fraction = '', exp] = m;
  const digits = `${lead}${fraction}`;
  const point = 1 + Number(exp);
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`;
  if (point >= digits.length) return `${sign}${digits}${'0'.repeat(point - digits.length)}`;
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}
