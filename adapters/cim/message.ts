import { MeterfabricError } from '../../core/errors.js';
import type { MessageHeader, Reply, ReplyError, Verb } from './model.js';
import { verbs } from './model.js';
import { MESSAGE_NS, nounOfWrapperNs, SOAP11_NS, SOAP12_NS } from './namespaces.js';
import type { XmlObject } from './xml-build.js';
import { buildDocument } from './xml-build.js';
import { child, childText, type XmlElement } from './xml-tree.js';

/**
 * The IEC 61968-100 envelope: Header encode/decode, reading any of the accepted layouts
 * (RequestMessage / EventMessage / ResponseMessage in the message namespace; a `<Verb><Noun>`
 * wrapper in a `…Message` namespace, optionally inside a SOAP 1.1/1.2 Body), and the
 * ResponseMessage we reply with.
 */
export class CimInvalidError extends MeterfabricError {
  readonly problems: ReplyError[];
  constructor(problems: ReplyError[]) {
    super(
      'MF_CIM_INVALID',
      `invalid CIM message: ${problems.map((p) => `${p.reason}${p.xpath ? ` at ${p.xpath}` : ''}`).join('; ')}`,
      { problems },
    );
    this.name = 'CimInvalidError';
    this.problems = problems;
  }
}

export type EnvelopeKind = 'EventMessage' | 'RequestMessage' | 'ResponseMessage' | 'Wrapper';

export type Envelope = {
  kind: EnvelopeKind;
  /** Root-relative path of the message element, for error xpaths. */
  path: string;
  header: MessageHeader;
  request?: XmlElement;
  requestPath?: string;
  payload?: XmlElement;
  payloadPath?: string;
  reply?: XmlElement;
};

export function problem(
  code: string,
  reason: string,
  xpath?: string,
  level: ReplyError['level'] = 'FATAL',
): ReplyError {
  return xpath === undefined ? { code, level, reason } : { code, level, reason, xpath };
}

function boolOf(text: string | undefined): boolean | undefined {
  if (text === undefined) return undefined;
  return text === 'true' || text === '1';
}

/** Reads a Header element; a missing/unknown Verb or a missing Noun is a problem. */
export function readHeader(el: XmlElement, path: string, problems: ReplyError[]): MessageHeader {
  const t = (name: string): string | undefined => childText(el, name);
  const verb = t('Verb');
  const noun = t('Noun');
  if (!verb) problems.push(problem('MF_CIM_MISSING', 'Header has no Verb', `${path}/Verb`));
  else if (!verbs.includes(verb as Verb))
    problems.push(problem('MF_CIM_VERB', `Verb "${verb}" is not an IEC 61968-100 verb`, `${path}/Verb`));
  if (!noun) problems.push(problem('MF_CIM_MISSING', 'Header has no Noun', `${path}/Noun`));
  const header: MessageHeader = { verb: (verb ?? 'create') as Verb, noun: noun ?? '', properties: [] };
  const optional: [keyof MessageHeader, string][] = [
    ['revision', 'Revision'],
    ['context', 'Context'],
    ['timestamp', 'Timestamp'],
    ['source', 'Source'],
    ['replyAddress', 'ReplyAddress'],
    ['messageId', 'MessageID'],
    ['correlationId', 'CorrelationID'],
    ['comment', 'Comment'],
  ];
  for (const [key, name] of optional) {
    const v = t(name);
    if (v !== undefined) (header as Record<string, unknown>)[key] = v;
  }
  const async = boolOf(t('AsyncReplyFlag'));
  if (async !== undefined) header.asyncReplyFlag = async;
  const ack = boolOf(t('AckRequired'));
  if (ack !== undefined) header.ackRequired = ack;
  const user = child(el, 'User');
  if (user) {
    const userId = childText(user, 'UserID') ?? '';
    const organization = childText(user, 'Organization');
    header.user = organization === undefined ? { userId } : { userId, organization };
  }
  for (const p of el.children.filter((c) => c.local === 'Property')) {
    const name = childText(p, 'Name') ?? '';
    const value = childText(p, 'Value');
    header.properties.push(value === undefined ? { name } : { name, value });
  }
  return header;
}

/** Header as an object in Message.xsd order. */
export function headerXml(h: MessageHeader): XmlObject {
  return {
    Verb: h.verb,
    Noun: h.noun,
    Revision: h.revision,
    Context: h.context,
    Timestamp: h.timestamp,
    Source: h.source,
    AsyncReplyFlag: h.asyncReplyFlag === undefined ? undefined : String(h.asyncReplyFlag),
    ReplyAddress: h.replyAddress,
    AckRequired: h.ackRequired === undefined ? undefined : String(h.ackRequired),
    User: h.user ? { UserID: h.user.userId, Organization: h.user.organization } : undefined,
    MessageID: h.messageId,
    CorrelationID: h.correlationId,
    Comment: h.comment,
    Property: h.properties.map((p) => ({ Name: p.name, Value: p.value })),
  };
}

/**
 * No CIM or SOAP element has mixed content: text beside child elements is a defect (the Connexo
 * sample CreateMeterConfigWithSecurityRequest.xml has a stray '>' that way), not data to drop.
 */
function mixedContent(el: XmlElement, path: string, problems: ReplyError[]): void {
  if (el.text !== '' && el.children.length > 0)
    problems.push(
      problem(
        'MF_CIM_MIXED_CONTENT',
        `text "${el.text.slice(0, 20)}" is not allowed beside child elements`,
        path,
      ),
    );
  const seen = new Map<string, number>();
  for (const c of el.children) {
    const n = (seen.get(c.local) ?? 0) + 1;
    seen.set(c.local, n);
    mixedContent(c, `${path}/${c.local}[${n}]`, problems);
  }
}

/** Finds the message inside whatever wrapping it came in; throws CimInvalidError listing every problem. */
export function readEnvelope(root: XmlElement): Envelope {
  const problems: ReplyError[] = [];
  mixedContent(root, `/${root.local}`, problems);
  if (problems.length > 0) throw new CimInvalidError(problems);
  let el = root;
  let path = `/${root.local}`;
  if (root.ns === SOAP11_NS || root.ns === SOAP12_NS) {
    const body = child(root, 'Body', root.ns);
    const first = body?.children[0];
    if (!body || !first)
      throw new CimInvalidError([problem('MF_CIM_MISSING', 'SOAP Body is empty', `${path}/Body`)]);
    el = first;
    path = `${path}/Body/${first.local}`;
  }
  let kind: EnvelopeKind;
  if (el.ns === MESSAGE_NS && ['EventMessage', 'RequestMessage', 'ResponseMessage'].includes(el.local))
    kind = el.local as EnvelopeKind;
  else if (nounOfWrapperNs(el.ns) !== undefined) kind = 'Wrapper';
  else
    throw new CimInvalidError([
      problem(
        'MF_CIM_NAMESPACE',
        `root element {${el.ns}}${el.local} is not an IEC 61968-100 message (expected EventMessage/RequestMessage/ResponseMessage in ${MESSAGE_NS}, or a …Message wrapper)`,
        path,
      ),
    ]);
  const headerEl = child(el, 'Header');
  if (!headerEl)
    throw new CimInvalidError([problem('MF_CIM_MISSING', 'message has no Header', `${path}/Header`)]);
  const header = readHeader(headerEl, `${path}/Header`, problems);
  if (problems.length > 0) throw new CimInvalidError(problems);
  const envelope: Envelope = { kind, path, header };
  const request = child(el, 'Request');
  if (request) {
    envelope.request = request;
    envelope.requestPath = `${path}/Request`;
  }
  const payload = child(el, 'Payload');
  if (payload) {
    envelope.payload = payload;
    envelope.payloadPath = `${path}/Payload`;
  }
  const reply = child(el, 'Reply');
  if (reply) envelope.reply = reply;
  return envelope;
}

export type ResponseOptions = {
  /** The request's header; noun and correlation are copied from it. */
  request?: Pick<MessageHeader, 'noun' | 'messageId' | 'correlationId'>;
  noun?: string;
  timestamp: string;
  source?: string;
  messageId?: string;
  /** A payload element (name + namespace + content) to carry, e.g. MeterReadings. */
  payload?: { name: string; ns: string; content: XmlObject };
};

/**
 * A ResponseMessage (Verb reply). The xpath of each problem is carried in `details` because
 * Message.xsd types Error/xpath as xs:QName, which cannot hold a path with '/' and would make
 * the reply schema-invalid. An OK reply carries `<Error><code>0.0</code></Error>` (common
 * practice, ami-cim.md (b)).
 */
export function encodeResponseMessage(reply: Reply, options: ResponseOptions): string {
  const header: MessageHeader = {
    verb: 'reply',
    noun: options.noun ?? options.request?.noun ?? 'Unknown',
    timestamp: options.timestamp,
    properties: [],
  };
  if (options.source) header.source = options.source;
  if (options.messageId) header.messageId = options.messageId;
  const correlation = options.request?.correlationId ?? options.request?.messageId;
  if (correlation) header.correlationId = correlation;
  const errors =
    reply.result === 'OK' && reply.errors.length === 0
      ? [{ code: '0.0' }]
      : reply.errors.map((e) => ({
          code: e.code,
          level: e.level,
          reason: e.reason,
          details:
            [e.details, e.xpath ? `xpath: ${e.xpath}` : undefined].filter(Boolean).join('; ') || undefined,
        }));
  const root: XmlObject = {
    '@_xmlns': MESSAGE_NS,
    Header: headerXml(header),
    Reply: { Result: reply.result, Error: errors },
  };
  if (options.payload)
    root.Payload = { [options.payload.name]: { '@_xmlns': options.payload.ns, ...options.payload.content } };
  return buildDocument('ResponseMessage', root);
}

/** Reads a Reply back (tests, and the CLI showing a reply): the xpath is recovered from details. */
export function readReply(el: XmlElement): Reply {
  const result = (childText(el, 'Result') ?? 'FAILED') as Reply['result'];
  const errors: ReplyError[] = [];
  for (const e of el.children.filter((c) => c.local === 'Error')) {
    const code = childText(e, 'code') ?? '';
    if (code === '0.0') continue;
    const details = childText(e, 'details');
    const xpath = details ? /xpath: (\S+)/.exec(details)?.[1] : undefined;
    const err: ReplyError = {
      code,
      level: (childText(e, 'level') ?? 'FATAL') as ReplyError['level'],
      reason: childText(e, 'reason') ?? '',
    };
    if (xpath) err.xpath = xpath;
    errors.push(err);
  }
  return { result, errors };
}
