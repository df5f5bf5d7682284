import type { DeviceEvent } from '../field-data.js';
import { describeEventType, eventKeyFor, eventTypeFor } from './event-type-map.js';
import { CimInvalidError, headerXml, problem, readEnvelope } from './message.js';
import { type MessageOptions, outboundHeader } from './meter-readings.js';
import type { CimEndDeviceEvent, MessageHeader, ReplyError } from './model.js';
import { MESSAGE_NS, payloadNs } from './namespaces.js';
import { objectRefXml, readObjectRef } from './object-ref.js';
import { buildDocument, isoUtc, type XmlObject } from './xml-build.js';
import {
  child,
  children,
  childText,
  defaultXmlLimits,
  parseXml,
  type XmlElement,
  type XmlLimits,
} from './xml-tree.js';

/**
 * EndDeviceEvents payloads (alarms, reachability, relay state, battery protections). Encoding
 * follows EndDeviceEvents.xsd order; reading accepts the seed's payload root in the message
 * namespace as well.
 */
export const END_DEVICE_EVENTS_NS = payloadNs('EndDeviceEvents');

export function endDeviceEventXml(e: CimEndDeviceEvent): XmlObject {
  return {
    mRID: e.mRID,
    createdDateTime: e.createdDateTime,
    issuerID: e.issuerID,
    issuerTrackingID: e.issuerTrackingID,
    reason: e.reason,
    severity: e.severity,
    userID: e.userID,
    Assets: objectRefXml(e.assets),
    EndDeviceEventDetails: e.details.map((d) => ({ name: d.name, value: d.value })),
    EndDeviceEventType: { '@_ref': e.eventType },
    UsagePoint: objectRefXml(e.usagePoint),
  };
}

export function encodeEndDeviceEventsMessage(header: MessageHeader, events: CimEndDeviceEvent[]): string {
  return buildDocument('EventMessage', {
    '@_xmlns': MESSAGE_NS,
    Header: headerXml(header),
    Payload: {
      EndDeviceEvents: { '@_xmlns': END_DEVICE_EVENTS_NS, EndDeviceEvent: events.map(endDeviceEventXml) },
    },
  });
}

/** A device event as the head-end holds it, with the usage point it resolved from the registry. */
export type EndDeviceEventInput = DeviceEvent & { usagePoint?: string };

/** Internal event -> CIM EndDeviceEvent: the type from the one mapping table, details kept, a DESCRIPTION added. */
export function endDeviceEventFromDevice(e: EndDeviceEventInput): CimEndDeviceEvent {
  const eventType = eventTypeFor(e.key, e.phase);
  const details = Object.entries(e.details ?? {}).map(([name, value]) => ({ name, value }));
  if (!details.some((d) => d.name === 'DESCRIPTION'))
    details.push({ name: 'DESCRIPTION', value: describeEventType(eventType) ?? e.key });
  const out: CimEndDeviceEvent = {
    createdDateTime: isoUtc(e.timestampMs),
    severity: '0',
    assets: { names: [e.deviceId] },
    details,
    eventType,
  };
  if (e.usagePoint) out.usagePoint = { names: [e.usagePoint] };
  return out;
}

/** The head-end's entry point: device events -> one schema-valid EventMessage. */
export function encodeEndDeviceEvents(
  events: readonly EndDeviceEventInput[],
  options: MessageOptions = {},
): string {
  const correlations = new Set(events.map((e) => e.correlationId).filter(Boolean));
  const header = outboundHeader('EndDeviceEvents', {
    ...options,
    ...(options.correlationId === undefined && correlations.size === 1
      ? { correlationId: [...correlations][0] as string }
      : {}),
  });
  return encodeEndDeviceEventsMessage(header, events.map(endDeviceEventFromDevice));
}

export function readEndDeviceEventsPayload(
  el: XmlElement,
  path: string,
  problems: ReplyError[],
): CimEndDeviceEvent[] {
  return children(el, 'EndDeviceEvent').map((eEl, i) => {
    const p = `${path}/EndDeviceEvent[${i + 1}]`;
    const createdDateTime = childText(eEl, 'createdDateTime');
    if (createdDateTime === undefined)
      problems.push(problem('MF_CIM_MISSING', 'createdDateTime is missing', `${p}/createdDateTime`));
    const eventType = child(eEl, 'EndDeviceEventType')?.attrs.ref;
    if (!eventType)
      problems.push(
        problem('MF_CIM_MISSING', 'EndDeviceEventType ref is missing', `${p}/EndDeviceEventType`),
      );
    const e: CimEndDeviceEvent = {
      createdDateTime: createdDateTime ?? '',
      details: children(eEl, 'EndDeviceEventDetails').map((d) => {
        const value = childText(d, 'value');
        return value === undefined
          ? { name: childText(d, 'name') ?? '' }
          : { name: childText(d, 'name') ?? '', value };
      }),
      eventType: eventType ?? '',
    };
    for (const name of ['mRID', 'issuerID', 'issuerTrackingID', 'reason', 'severity', 'userID'] as const) {
      const v = childText(eEl, name);
      if (v !== undefined) e[name] = v;
    }
    const assets = child(eEl, 'Assets');
    if (assets) e.assets = readObjectRef(assets);
    const up = child(eEl, 'UsagePoint');
    if (up) e.usagePoint = readObjectRef(up);
    return e;
  });
}

export type ParsedEndDeviceEvents = { header: MessageHeader; events: CimEndDeviceEvent[] };

export function parseEndDeviceEventsMessage(
  xml: string,
  limits: XmlLimits = defaultXmlLimits,
): ParsedEndDeviceEvents {
  const env = readEnvelope(parseXml(xml, limits));
  const payloadEl = env.payload ? child(env.payload, 'EndDeviceEvents') : undefined;
  if (!payloadEl || !env.payloadPath)
    throw new CimInvalidError([
      problem('MF_CIM_MISSING', 'no EndDeviceEvents in Payload', `${env.path}/Payload/EndDeviceEvents`),
    ]);
  const problems: ReplyError[] = [];
  if (payloadEl.ns !== END_DEVICE_EVENTS_NS && payloadEl.ns !== MESSAGE_NS)
    problems.push(
      problem(
        'MF_CIM_NAMESPACE',
        `EndDeviceEvents is in namespace "${payloadEl.ns}", expected ${END_DEVICE_EVENTS_NS}`,
        `${env.payloadPath}/EndDeviceEvents`,
      ),
    );
  const events = readEndDeviceEventsPayload(payloadEl, `${env.payloadPath}/EndDeviceEvents`, problems);
  if (problems.length > 0) throw new CimInvalidError(problems);
  return { header: env.header, events };
}

/** The internal key and phase of a received event, when the code is one of ours. */
export function deviceEventKeyOf(e: CimEndDeviceEvent): ReturnType<typeof eventKeyFor> {
  return eventKeyFor(e.eventType);
}
