import { type ControlKind, controlKindFor } from '../../../adapters/cim/event-type-map.js';
import { CimInvalidError, problem, readEnvelope } from '../../../adapters/cim/message.js';
import { dateTimeMs } from '../../../adapters/cim/meter-readings.js';
import type { MessageHeader, ReplyError } from '../../../adapters/cim/model.js';
import {
  child,
  children,
  childText,
  parseXml,
  type XmlElement,
  type XmlLimits,
} from '../../../adapters/cim/xml-tree.js';
import { isMeterfabricError } from '../../../core/errors.js';

/**
 * Inbound CIM requests -> the bridge's request model. Envelope handling (SOAP 1.1/1.2, bare
 * RequestMessage, `…Message` wrappers) and bounded XML parsing are the CIM adapter's; this
 * module reads the payloads of the five operations the head-end accepts and collects every
 * problem (with its xpath) before anything is applied.
 */

export type MeterSpec = {
  serial: string;
  manufacturer: string;
  model: string;
  firmwareVersion: string;
  /** ComFunction/amrRouter: the concentrator the meter is installed under. */
  concentratorId?: string;
  /** Meter/status/value 'commissioned' asks for commissioning after installation. */
  commission: boolean;
};

export type InboundRequest =
  | { operation: 'MeterConfig'; header: MessageHeader; meters: MeterSpec[] }
  | {
      operation: 'UsagePointLocationConfig';
      header: MessageHeader;
      usagePoints: { pod: string; address?: string }[];
    }
  | {
      operation: 'MasterDataLinkageConfig';
      header: MessageHeader;
      link: 'create' | 'close';
      meterSerial: string;
      pod: string;
      effectiveMs: number;
      contractProfile?: string;
      contractState?: string;
      tariffProfile?: string;
    }
  | { operation: 'OnDemandMeterReadings'; header: MessageHeader; meterSerials: string[]; pods: string[] }
  | {
      operation: 'EndDeviceControl';
      header: MessageHeader;
      controls: { kind: ControlKind; meterSerials: string[]; limitW?: number }[];
    };

export type InboundOperation = InboundRequest['operation'];

export const inboundLimits: XmlLimits = { maxBytes: 1024 * 1024, maxDepth: 32, maxElements: 20_000 };

/** Parses and reads a request; throws CimInvalidError (every problem) or the XML refusal. */
export function readInboundRequest(xml: string, limits: XmlLimits = inboundLimits): InboundRequest {
  const envelope = readEnvelope(parseXml(xml, limits));
  const { header } = envelope;
  const problems: ReplyError[] = [];
  const container = envelope.payload ?? envelope.request;
  const base = envelope.payloadPath ?? envelope.requestPath ?? `${envelope.path}/Payload`;
  const payload = (noun: string): { el: XmlElement; path: string } | undefined => {
    const el = container ? child(container, noun) : undefined;
    if (!el) {
      problems.push(problem('MF_CIM_MISSING', `${noun} is missing from the message`, `${base}/${noun}`));
      return undefined;
    }
    return { el, path: `${base}/${noun}` };
  };
  let request: InboundRequest | undefined;
  switch (header.noun) {
    case 'MeterConfig': {
      const p = payload('MeterConfig');
      if (p) request = { operation: 'MeterConfig', header, meters: readMeters(p.el, p.path, problems) };
      break;
    }
    case 'UsagePointConfig':
    case 'UsagePointLocationConfig': {
      const p = payload(header.noun);
      if (p)
        request = {
          operation: 'UsagePointLocationConfig',
          header,
          usagePoints: readUsagePoints(p.el, p.path, problems),
        };
      break;
    }
    case 'MasterDataLinkageConfig': {
      const p = payload('MasterDataLinkageConfig');
      if (p) request = readLinkage(header, p.el, p.path, problems);
      break;
    }
    case 'MeterReadings': {
      if (header.verb !== 'get') {
        problems.push(
          problem(
            'MF_CIM_VERB',
            `MeterReadings requests must use verb "get", not "${header.verb}"`,
            `${envelope.path}/Header/Verb`,
          ),
        );
        break;
      }
      const p = payload('GetMeterReadings');
      if (p) {
        const meterSerials = [...children(p.el, 'EndDevice'), ...children(p.el, 'Meter')].map(
          (e) => nameOf(e) ?? '',
        );
        const pods = children(p.el, 'UsagePoint').map((e) => nameOf(e) ?? '');
        if (meterSerials.length + pods.length === 0 || [...meterSerials, ...pods].includes(''))
          problems.push(
            problem(
              'MF_CIM_MISSING',
              'name an EndDevice (meter serial) or a UsagePoint (POD)',
              `${p.path}/EndDevice`,
            ),
          );
        request = { operation: 'OnDemandMeterReadings', header, meterSerials, pods };
      }
      break;
    }
    case 'EndDeviceControls': {
      const p = payload('EndDeviceControls');
      if (p)
        request = { operation: 'EndDeviceControl', header, controls: readControls(p.el, p.path, problems) };
      break;
    }
    default:
      problems.push(
        problem(
          'MF_CIM_NOUN',
          `noun "${header.noun}" is not accepted here; send MeterConfig, UsagePointLocationConfig, MasterDataLinkageConfig, MeterReadings (get) or EndDeviceControls`,
          `${envelope.path}/Header/Noun`,
        ),
      );
  }
  if (problems.length > 0 || !request) throw new CimInvalidError(problems);
  return request;
}

/** The first name (or else the mRID) of an IdentifiedObject reference. */
function nameOf(el: XmlElement, nameType?: string): string | undefined {
  for (const names of children(el, 'Names')) {
    const type = child(names, 'NameType');
    const typeName = type ? childText(type, 'name') : undefined;
    if (
      nameType === undefined ? typeName === undefined || typeName === 'UsagePointName' : typeName === nameType
    )
      return childText(names, 'name');
  }
  return nameType === undefined ? childText(el, 'mRID') : undefined;
}

function required(
  _el: XmlElement,
  value: string | undefined,
  what: string,
  path: string,
  problems: ReplyError[],
): string {
  if (value === undefined || value.trim() === '') {
    problems.push(problem('MF_CIM_MISSING', `${what} is missing`, path));
    return '';
  }
  return value.trim();
}

function readMeters(el: XmlElement, path: string, problems: ReplyError[]): MeterSpec[] {
  const meters = children(el, 'Meter');
  if (meters.length === 0)
    problems.push(problem('MF_CIM_MISSING', 'MeterConfig has no Meter', `${path}/Meter`));
  return meters.map((m, i) => {
    const p = `${path}/Meter[${i + 1}]`;
    const model = child(child(m, 'EndDeviceInfo') ?? m, 'AssetModel');
    const manufacturer = model ? child(model, 'Manufacturer') : undefined;
    const com = child(m, 'ComFunction');
    const status = child(m, 'status');
    const spec: MeterSpec = {
      serial: required(
        m,
        childText(m, 'serialNumber') ?? nameOf(m),
        'Meter serialNumber (or Names/name)',
        `${p}/serialNumber`,
        problems,
      ),
      manufacturer: required(
        m,
        manufacturer ? nameOf(manufacturer) : undefined,
        'Manufacturer name',
        `${p}/EndDeviceInfo/AssetModel/Manufacturer`,
        problems,
      ),
      model: required(
        m,
        childText(m, 'type') ?? (model ? childText(model, 'modelNumber') : undefined),
        'Meter type',
        `${p}/type`,
        problems,
      ),
      firmwareVersion: (model ? childText(model, 'modelVersion') : undefined) ?? '0',
      commission: (status ? childText(status, 'value') : undefined)?.toLowerCase() === 'commissioned',
    };
    const router = com ? childText(com, 'amrRouter') : undefined;
    if (router) spec.concentratorId = router;
    return spec;
  });
}

function readUsagePoints(
  el: XmlElement,
  path: string,
  problems: ReplyError[],
): { pod: string; address?: string }[] {
  const points = [...children(el, 'UsagePoint'), ...children(el, 'UsagePointLocation')];
  if (points.length === 0)
    problems.push(problem('MF_CIM_MISSING', 'no UsagePoint in the payload', `${path}/UsagePoint`));
  return points.map((u, i) => {
    const pod = required(
      u,
      nameOf(u),
      'UsagePoint name (POD)',
      `${path}/UsagePoint[${i + 1}]/Names`,
      problems,
    );
    const main = child(u, 'mainAddress');
    const street = main ? child(main, 'streetDetail') : undefined;
    const town = main ? child(main, 'townDetail') : undefined;
    const parts = [
      street && childText(street, 'addressGeneral'),
      street && childText(street, 'name'),
      town && childText(town, 'name'),
    ].filter((x): x is string => typeof x === 'string' && x.length > 0);
    return parts.length > 0 ? { pod, address: parts.join(', ') } : { pod };
  });
}

function readLinkage(
  header: MessageHeader,
  el: XmlElement,
  path: string,
  problems: ReplyError[],
): InboundRequest {
  const link = header.verb === 'close' || header.verb === 'delete' ? 'close' : 'create';
  if (!['create', 'change', 'close', 'delete'].includes(header.verb))
    problems.push(
      problem(
        'MF_CIM_VERB',
        `MasterDataLinkageConfig takes verb create or close, not "${header.verb}"`,
        `${path}`,
      ),
    );
  const meter = child(el, 'Meter');
  const usagePoint = child(el, 'UsagePoint');
  const event = child(el, 'ConfigurationEvent');
  const meterSerial = required(
    el,
    meter ? nameOf(meter) : undefined,
    'Meter name',
    `${path}/Meter`,
    problems,
  );
  const pod = required(
    el,
    usagePoint ? nameOf(usagePoint) : undefined,
    'UsagePoint name (POD)',
    `${path}/UsagePoint`,
    problems,
  );
  const when = event
    ? (childText(event, 'effectiveDateTime') ?? childText(event, 'createdDateTime'))
    : undefined;
  let effectiveMs = Number.NaN;
  if (when === undefined)
    problems.push(
      problem(
        'MF_CIM_MISSING',
        'ConfigurationEvent/effectiveDateTime is missing',
        `${path}/ConfigurationEvent`,
      ),
    );
  else {
    effectiveMs = dateTimeMs(when);
    if (!Number.isFinite(effectiveMs))
      problems.push(
        problem(
          'MF_CIM_VALUE',
          `"${when}" is not an xs:dateTime`,
          `${path}/ConfigurationEvent/effectiveDateTime`,
        ),
      );
  }
  const request: InboundRequest = {
    operation: 'MasterDataLinkageConfig',
    header,
    link,
    meterSerial,
    pod,
    effectiveMs,
  };
  if (usagePoint) {
    // Contract data rides as typed names on the usage point (the seed's contract-change work order).
    for (const [field, type] of [
      ['contractProfile', 'ContractProfile'],
      ['contractState', 'ContractState'],
      ['tariffProfile', 'TariffProfile'],
    ] as const) {
      const value = nameOf(usagePoint, type);
      if (value !== undefined) request[field] = value;
    }
  }
  return request;
}

function readControls(el: XmlElement, path: string, problems: ReplyError[]) {
  const controls = children(el, 'EndDeviceControl');
  if (controls.length === 0)
    problems.push(
      problem('MF_CIM_MISSING', 'no EndDeviceControl in the payload', `${path}/EndDeviceControl`),
    );
  return controls.map((c, i) => {
    const p = `${path}/EndDeviceControl[${i + 1}]`;
    const code = child(c, 'EndDeviceControlType')?.attrs.ref;
    let kind: ControlKind = 'disconnect';
    if (!code)
      problems.push(
        problem('MF_CIM_MISSING', 'EndDeviceControlType ref is missing', `${p}/EndDeviceControlType`),
      );
    else {
      try {
        kind = controlKindFor(code);
      } catch (err) {
        if (!isMeterfabricError(err)) throw err;
        problems.push(problem(err.code, err.message, `${p}/EndDeviceControlType`));
      }
    }
    if (children(c, 'EndDeviceGroups').length > 0)
      problems.push(
        problem(
          'MF_CIM_UNSUPPORTED',
          'EndDeviceGroups are not supported: name each meter under EndDevices',
          `${p}/EndDeviceGroups`,
        ),
      );
    const meterSerials = children(c, 'EndDevices').map((d) => nameOf(d) ?? '');
    if (meterSerials.length === 0 || meterSerials.includes(''))
      problems.push(problem('MF_CIM_MISSING', 'EndDevices must name each meter', `${p}/EndDevices`));
    const limit = child(c, 'EndDeviceAction');
    const limitText = limit ? childText(limit, 'command') : undefined;
    const limitW = limitText !== undefined ? Number(limitText) : undefined;
    return limitW !== undefined && Number.isFinite(limitW)
      ? { kind, meterSerials, limitW }
      : { kind, meterSerials };
  });
}
