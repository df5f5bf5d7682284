import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { CimXmlRefusedError } from './errors.js';

/**
 * Bounded, namespace-aware XML reading. Every inbound document passes three fixed limits
 * BEFORE fast-xml-parser sees it: size in bytes, no DOCTYPE (so no entity declarations: an
 * XML bomb is refused outright, not expanded and measured), and nesting depth / element count
 * from a linear pre-scan (so a deeply nested document cannot exhaust the parser's stack).
 * The parsed document becomes a small tree of elements with resolved namespace URIs, because
 * CIM senders use default namespaces, prefixes and SOAP wrappers interchangeably.
 */
export type XmlLimits = { maxBytes: number; maxDepth: number; maxElements: number };

export const defaultXmlLimits: Readonly<XmlLimits> = {
  maxBytes: 16 * 1024 * 1024,
  maxDepth: 64,
  maxElements: 1_000_000,
};

export type XmlElement = {
  ns: string;
  local: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  /** Concatenated text content directly inside this element, trimmed. */
  text: string;
};

function refuse(
  code: 'MF_XML_TOO_LARGE' | 'MF_XML_TOO_DEEP' | 'MF_XML_DOCTYPE' | 'MF_XML_MALFORMED',
  message: string,
  details: Record<string, unknown> = {},
): never {
  throw new CimXmlRefusedError(code, message, details);
}

/** Linear scan of tags: depth and element count, skipping comments, CDATA, PIs and quoted attributes. */
function prescan(xml: string, limits: XmlLimits): void {
  let depth = 0;
  let elements = 0;
  let i = 0;
  const n = xml.length;
  while (i < n) {
    const lt = xml.indexOf('<', i);
    if (lt < 0) break;
    if (xml.startsWith('<!--', lt)) {
      const end = xml.indexOf('-->', lt + 4);
      i = end < 0 ? n : end + 3;
      continue;
    }
    if (xml.startsWith('<![CDATA[', lt)) {
      const end = xml.indexOf(']]>', lt + 9);
      i = end < 0 ? n : end + 3;
      continue;
    }
    if (xml.startsWith('<!', lt)) {
      // <!DOCTYPE and <!ENTITY: entity declarations are how XML bombs work; CIM never needs them.
      refuse(
        'MF_XML_DOCTYPE',
        'XML with a DOCTYPE or entity declaration is refused (entity expansion is not allowed)',
      );
    }
    if (xml.startsWith('<?', lt)) {
      const end = xml.indexOf('?>', lt + 2);
      i = end < 0 ? n : end + 2;
      continue;
    }
    // Find the end of the tag, skipping '>' inside quoted attribute values.
    let j = lt + 1;
    let quote = '';
    while (j < n) {
      const c = xml[j]!;
      if (quote) {
        if (c === quote) quote = '';
      } else if (c === '"' || c === "'") quote = c;
      else if (c === '>') break;
      j++;
    }
    if (xml[lt + 1] === '/') depth--;
    else if (xml[j - 1] !== '/') {
      depth++;
      elements++;
      if (depth > limits.maxDepth)
        refuse('MF_XML_TOO_DEEP', `XML nesting deeper than ${limits.maxDepth} levels is refused`, {
          maxDepth: limits.maxDepth,
        });
    } else elements++;
    if (elements > limits.maxElements)
      refuse('MF_XML_TOO_LARGE', `XML with more than ${limits.maxElements} elements is refused`, {
        maxElements: limits.maxElements,
      });
    i = j + 1;
  }
}

type OrderedNode = Record<string, unknown> & { ':@'?: Record<string, string> };

const predefinedEntities: Readonly<Record<string, string>> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
};

function isXmlChar(cp: number): boolean {
  return (
    cp === 0x9 ||
    cp === 0xa ||
    cp === 0xd ||
    (cp >= 0x20 && cp <= 0xd7ff) ||
    (cp >= 0xe000 && cp <= 0xfffd) ||
    (cp >= 0x10000 && cp <= 0x10ffff)
  );
}

/**
 * XML's own references in text and attribute values, decoded in ONE pass (so `&amp;#60;` stays
 * the text `&#60;`): the five predefined entities and numeric character references (`&#233;`,
 * `&#xE9;`). fast-xml-parser decodes numeric references only together with its HTML entity
 * set (`&nbsp;`...), which XML without a DTD does not define; without them an identifier sent
 * as `M&#49;` would be read as the literal text instead of `M1`. A reference to a code point
 * XML does not allow is left as written.
 */
export function decodeXmlReferences(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(/&(#[xX][0-9A-Fa-f]{1,6}|#[0-9]{1,7}|[A-Za-z]+);/g, (ref, body: string) => {
    if (body[0] !== '#') return predefinedEntities[body] ?? ref;
    const hex = body[1] === 'x' || body[1] === 'X';
    const cp = Number.parseInt(body.slice(hex ? 2 : 1), hex ? 16 : 10);
    return isXmlChar(cp) ? String.fromCodePoint(cp) : ref;
  });
}

const entityDecoder = {
  // DOCTYPE (and so every declared entity) is refused before parsing; nothing to register.
  setExternalEntities: (): void => undefined,
  addInputEntities: (): void => undefined,
  reset: (): void => undefined,
  setXmlVersion: (): void => undefined,
  decode: decodeXmlReferences,
};

const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: '',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  // Only the five predefined entities and character references remain possible (DOCTYPE is refused above).
  processEntities: true,
  entityDecoder,
  ignoreDeclaration: true,
  ignorePiTags: true,
  commentPropName: false,
});

function splitName(qname: string): [string, string] {
  const colon = qname.indexOf(':');
  return colon < 0 ? ['', qname] : [qname.slice(0, colon), qname.slice(colon + 1)];
}

function toElement(node: OrderedNode, scope: ReadonlyMap<string, string>): XmlElement | undefined {
  const name = Object.keys(node).find((k) => k !== ':@');
  if (!name || name === '#text') return undefined;
  const attrsIn = node[':@'] ?? {};
  let localScope = scope;
  const attrs: Record<string, string> = {};
  for (const [key, value] of Object.entries(attrsIn)) {
    if (key === 'xmlns' || key.startsWith('xmlns:')) {
      if (localScope === scope) localScope = new Map(scope);
      (localScope as Map<string, string>).set(key === 'xmlns' ? '' : key.slice(6), String(value));
    } else attrs[splitName(key)[1]] = String(value);
  }
  const [prefix, local] = splitName(name);
  const ns = localScope.get(prefix);
  if (ns === undefined && prefix !== '')
    refuse('MF_XML_MALFORMED', `namespace prefix "${prefix}" of <${name}> is not declared`, {
      element: name,
    });
  const children: XmlElement[] = [];
  const texts: string[] = [];
  const content = node[name];
  if (Array.isArray(content))
    for (const child of content as OrderedNode[]) {
      if ('#text' in child) texts.push(String(child['#text']));
      else {
        const el = toElement(child, localScope);
        if (el) children.push(el);
      }
    }
  return { ns: ns ?? '', local, attrs, children, text: texts.join('').trim() };
}

/** Parses `xml` within `limits` into its root element; throws CimXmlRefusedError (MF_XML_*) otherwise. */
export function parseXml(xml: string, limits: XmlLimits = defaultXmlLimits): XmlElement {
  const sizeBytes = Buffer.byteLength(xml, 'utf8');
  if (sizeBytes > limits.maxBytes)
    refuse(
      'MF_XML_TOO_LARGE',
      `XML of ${sizeBytes} bytes is refused; the limit is ${limits.maxBytes} bytes`,
      {
        sizeBytes,
        maxBytes: limits.maxBytes,
      },
    );
  prescan(xml, limits);
  const valid = XMLValidator.validate(xml);
  if (valid !== true)
    refuse(
      'MF_XML_MALFORMED',
      `XML is not well-formed: ${valid.err.msg} (line ${valid.err.line}, column ${valid.err.col})`,
      {
        line: valid.err.line,
        column: valid.err.col,
      },
    );
  const nodes = parser.parse(xml) as OrderedNode[];
  const roots = nodes.map((n) => toElement(n, new Map())).filter((e): e is XmlElement => e !== undefined);
  if (roots.length !== 1)
    refuse('MF_XML_MALFORMED', `XML must have exactly one root element, found ${roots.length}`);
  return roots[0]!;
}

export function children(el: XmlElement, local: string, ns?: string): XmlElement[] {
  return el.children.filter((c) => c.local === local && (ns === undefined || c.ns === ns));
}

export function child(el: XmlElement, local: string, ns?: string): XmlElement | undefined {
  return el.children.find((c) => c.local === local && (ns === undefined || c.ns === ns));
}

export function childText(el: XmlElement, local: string, ns?: string): string | undefined {
  const c = child(el, local, ns);
  return c === undefined ? undefined : c.text;
}
