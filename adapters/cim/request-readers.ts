import { controlKindFor } from './event-type-map.js';
import { problem } from './message.js';
import type { ReplyError } from './model.js';
import { readObjectRef, refKey } from './object-ref.js';
import { isReadingTypeCode } from './reading-type.js';
import { quantityForReadingType } from './reading-type-map.js';
import type {
  ControlItem,
  LinkageItem,
  MeterConfigItem,
  RequestContext,
  UsagePointItem,
  UsagePointLocationItem,
} from './request-types.js';
import { child, children, childText, type XmlElement } from './xml-tree.js';

/**
 * Payload readers of the inbound requests. Each collects EVERY problem it finds (with the
 * xpath of the element concerned) instead of stopping at the first, so one FAILED reply tells
 * the sender everything to fix.
 */
type Problems = ReplyError[];

function identity(el: XmlElement, path: string, what: string, problems: Problems): string | undefined {
  const id = refKey(readObjectRef(el)) ?? childText(el, 'serialNumber');
  if (!id) problems.push(problem('MF_CIM_MISSING', `${what} has no mRID, name or serial number`, path));
  return id;
}

const dateTimePattern = /^-?\d{4,}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?$/;

/** xs:dateTime check for values we act on; a bad one is a problem at its xpath. */
function dateTime(value: string | undefined, path: string, problems: Problems): string | undefined {
  if (value === undefined) return undefined;
  if (
    !dateTimePattern.test(value) ||
    Number.isNaN(Date.parse(/(Z|[+-]\d{2}:\d{2})$/.test(value) ? value : `${value}Z`))
  ) {
    problems.push(
      problem('MF_CIM_VALUE', `"${value}" is not an xs:dateTime (e.g. 2026-01-01T00:00:00Z)`, path),
    );
    return undefined;
  }
  return value;
}

function boolText(el: XmlElement, name: string): boolean | undefined {
  const v = childText(el, name);
  return v === undefined ? undefined : v === 'true' || v === '1';
}

function assign<T extends object>(target: T, values: { [K in keyof T]?: T[K] | undefined }): T {
  for (const [k, v] of Object.entries(values))
    if (v !== undefined) (target as Record<string, unknown>)[k] = v;
  return target;
}

export function readMeterConfig(
  el: XmlElement,
  path: string,
  verb: string,
  ctx: RequestContext,
  problems: Problems,
): MeterConfigItem[] {
  const meters = children(el, 'Meter');
  if (meters.length === 0)
    problems.push(problem('MF_CIM_MISSING', 'MeterConfig has no Meter', `${path}/Meter`));
  const items: MeterConfigItem[] = [];
  meters.forEach((m, i) => {
    const p = `${path}/Meter[${i + 1}]`;
    const id = identity(m, p, 'Meter', problems);
    if (!id) return;
    if (verb === 'create' && ctx.meterExists(id))
      problems.push(problem('MF_CIM_EXISTS', `meter ${id} already exists; use verb change`, p));
    if (verb !== 'create' && !ctx.meterExists(id))
      problems.push(problem('MF_UNKNOWN_METER', `meter ${id} is not known`, p));
    const com = child(m, 'ComFunction') ?? child(el, 'ComFunction');
    const cdf = child(el, 'ConnectDisconnectFunction');
    const model = child(child(m, 'EndDeviceInfo') ?? m, 'AssetModel');
    items.push(
      assign<MeterConfigItem>(
        { id, ref: readObjectRef(m) },
        {
          serialNumber: childText(m, 'serialNumber'),
          type: childText(m, 'type'),
          manufacturer: model
            ? (childText(child(model, 'Manufacturer') ?? model, 'name') ??
              refKey(readObjectRef(child(model, 'Manufacturer') ?? model)))
            : undefined,
          modelNumber: model ? childText(model, 'modelNumber') : undefined,
          amrAddress: com ? childText(com, 'amrAddress') : undefined,
          communicationTechnology: com ? childText(com, 'technology') : undefined,
          isConnected: cdf ? boolText(cdf, 'isConnected') : undefined,
        },
      ),
    );
  });
  return items;
}

export function readUsagePointConfig(
  el: XmlElement,
  path: string,
  verb: string,
  ctx: RequestContext,
  problems: Problems,
): UsagePointItem[] {
  const ups = children(el, 'UsagePoint');
  if (ups.length === 0)
    problems.push(problem('MF_CIM_MISSING', 'UsagePointConfig has no UsagePoint', `${path}/UsagePoint`));
  const items: UsagePointItem[] = [];
  ups.forEach((u, i) => {
    const p = `${path}/UsagePoint[${i + 1}]`;
    const id = identity(u, p, 'UsagePoint', problems);
    if (!id) return;
    if (verb === 'create' && ctx.usagePointExists(id))
      problems.push(problem('MF_CIM_EXISTS', `usage point ${id} already exists; use verb change`, p));
    if (verb !== 'create' && !ctx.usagePointExists(id))
      problems.push(problem('MF_UNKNOWN_USAGE_POINT', `usage point ${id} is not known`, p));
    const category = child(u, 'ServiceCategory');
    items.push(
      assign<UsagePointItem>(
        { id, ref: readObjectRef(u) },
        {
          connectionState: childText(u, 'connectionState'),
          isSdp: boolText(u, 'isSdp'),
          isVirtual: boolText(u, 'isVirtual'),
          phaseCode: childText(u, 'phaseCode'),
          serviceCategory: category ? childText(category, 'kind') : undefined,
        },
      ),
    );
  });
  return items;
}

export function readUsagePointLocationConfig(
  el: XmlElement,
  path: string,
  verb: string,
  ctx: RequestContext,
  problems: Problems,
): UsagePointLocationItem[] {
  const locations = children(el, 'UsagePointLocation');
  if (locations.length === 0)
    problems.push(
      problem(
        'MF_CIM_MISSING',
        'UsagePointLocationConfig has no UsagePointLocation',
        `${path}/UsagePointLocation`,
      ),
    );
  const items: UsagePointLocationItem[] = [];
  locations.forEach((l, i) => {
    const p = `${path}/UsagePointLocation[${i + 1}]`;
    const id = identity(l, p, 'UsagePointLocation', problems);
    if (!id) return;
    if (verb === 'create' && ctx.usagePointExists(id))
      problems.push(problem('MF_CIM_EXISTS', `usage point ${id} already exists; use verb change`, p));
    if (verb !== 'create' && !ctx.usagePointExists(id))
      problems.push(problem('MF_UNKNOWN_USAGE_POINT', `usage point ${id} is not known`, p));
    const address = child(l, 'mainAddress');
    const street = address ? child(address, 'streetDetail') : undefined;
    const town = address ? child(address, 'townDetail') : undefined;
    const events = child(l, 'ConfigurationEvents');
    items.push(
      assign<UsagePointLocationItem>(
        { id, ref: readObjectRef(l) },
        {
          street: street
            ? [childText(street, 'name'), childText(street, 'number')].filter(Boolean).join(' ') || undefined
            : undefined,
          town: town ? childText(town, 'name') : undefined,
          effectiveDateTime: events ? childText(events, 'effectiveDateTime') : undefined,
        },
      ),
    );
  });
  return items;
}

export function readMasterDataLinkage(
  el: XmlElement,
  path: string,
  verb: string,
  ctx: RequestContext,
  problems: Problems,
): LinkageItem[] {
  const event = child(el, 'ConfigurationEvent');
  const createdText = event ? childText(event, 'createdDateTime') : undefined;
  const createdDateTime = dateTime(createdText, `${path}/ConfigurationEvent/createdDateTime`, problems);
  if (createdText === undefined)
    problems.push(
      problem(
        'MF_CIM_MISSING',
        'ConfigurationEvent/createdDateTime is required',
        `${path}/ConfigurationEvent/createdDateTime`,
      ),
    );
  const meterEl = child(el, 'Meter');
  if (!meterEl)
    problems.push(problem('MF_CIM_MISSING', 'MasterDataLinkageConfig has no Meter', `${path}/Meter`));
  const meterId = meterEl ? identity(meterEl, `${path}/Meter`, 'Meter', problems) : undefined;
  if (meterId && !ctx.meterExists(meterId))
    problems.push(problem('MF_UNKNOWN_METER', `meter ${meterId} is not known`, `${path}/Meter`));
  const upEl = child(el, 'UsagePoint');
  const usagePointId = upEl ? identity(upEl, `${path}/UsagePoint`, 'UsagePoint', problems) : undefined;
  if (usagePointId && !ctx.usagePointExists(usagePointId))
    problems.push(
      problem('MF_UNKNOWN_USAGE_POINT', `usage point ${usagePointId} is not known`, `${path}/UsagePoint`),
    );
  const agreement = child(el, 'CustomerAgreement');
  const pricing = child(el, 'PricingStructure');
  const contractProfile = agreement ? refKey(readObjectRef(agreement)) : undefined;
  const status = agreement ? child(agreement, 'status') : undefined;
  const contractState = status ? childText(status, 'value') : undefined;
  const tariffProfile = pricing ? refKey(readObjectRef(pricing)) : undefined;
  if (!upEl && !contractProfile && !contractState && !tariffProfile && !child(el, 'EndDevice'))
    problems.push(
      problem(
        'MF_CIM_MISSING',
        'nothing to link: give a UsagePoint, CustomerAgreement (contract) or PricingStructure (tariff)',
        path,
      ),
    );
  if (!meterId || !createdDateTime) return [];
  return [
    assign<LinkageItem>(
      { action: verb === 'close' ? 'unlink' : 'link', meterId, createdDateTime },
      {
        usagePointId,
        contractProfile,
        contractState,
        tariffProfile,
        effectiveDateTime: event ? childText(event, 'effectiveDateTime') : undefined,
      },
    ),
  ];
}

export type GetMeterReadingsParts = {
  meterIds: string[];
  usagePointIds: string[];
  readingTypes: string[];
  timePeriod?: { start?: string; end?: string };
};

export function readGetMeterReadings(
  el: XmlElement,
  path: string,
  ctx: RequestContext,
  problems: Problems,
): GetMeterReadingsParts {
  const meterIds: string[] = [];
  const usagePointIds: string[] = [];
  children(el, 'EndDevice').forEach((d, i) => {
    const p = `${path}/EndDevice[${i + 1}]`;
    const id = identity(d, p, 'EndDevice', problems);
    if (id && !ctx.meterExists(id)) problems.push(problem('MF_UNKNOWN_METER', `meter ${id} is not known`, p));
    if (id) meterIds.push(id);
  });
  children(el, 'UsagePoint').forEach((u, i) => {
    const p = `${path}/UsagePoint[${i + 1}]`;
    const id = identity(u, p, 'UsagePoint', problems);
    if (id && !ctx.usagePointExists(id))
      problems.push(problem('MF_UNKNOWN_USAGE_POINT', `usage point ${id} is not known`, p));
    if (id) usagePointIds.push(id);
  });
  if (children(el, 'EndDevice').length === 0 && children(el, 'UsagePoint').length === 0)
    problems.push(
      problem('MF_CIM_MISSING', 'GetMeterReadings names no EndDevice or UsagePoint', `${path}/EndDevice`),
    );
  const readingTypes: string[] = [];
  children(el, 'ReadingType').forEach((rt, i) => {
    const p = `${path}/ReadingType[${i + 1}]/mRID`;
    const code = childText(rt, 'mRID');
    if (!code) problems.push(problem('MF_CIM_MISSING', 'ReadingType has no mRID (an 18-field code)', p));
    else if (!isReadingTypeCode(code))
      problems.push(problem('MF_CIM_CODE', `ReadingType "${code}" is not an 18-field code`, p));
    else if (!quantityForReadingType(code))
      problems.push(
        problem('MF_UNKNOWN_READING_TYPE', `ReadingType ${code} is not one meterfabric can read`, p),
      );
    else readingTypes.push(code);
  });
  const reading = child(el, 'Reading');
  const period = reading ? child(reading, 'timePeriod') : undefined;
  const out: GetMeterReadingsParts = { meterIds, usagePointIds, readingTypes };
  if (period)
    out.timePeriod = assign<{ start?: string; end?: string }>(
      {},
      { start: childText(period, 'start'), end: childText(period, 'end') },
    );
  return out;
}

export function readEndDeviceControls(
  el: XmlElement,
  path: string,
  ctx: RequestContext,
  problems: Problems,
): ControlItem[] {
  const controls = children(el, 'EndDeviceControl');
  if (controls.length === 0)
    problems.push(
      problem('MF_CIM_MISSING', 'EndDeviceControls has no EndDeviceControl', `${path}/EndDeviceControl`),
    );
  const items: ControlItem[] = [];
  controls.forEach((c, i) => {
    const p = `${path}/EndDeviceControl[${i + 1}]`;
    const code = child(c, 'EndDeviceControlType')?.attrs.ref;
    let kind: ControlItem['kind'] | undefined;
    if (!code)
      problems.push(
        problem('MF_CIM_MISSING', 'EndDeviceControlType ref is missing', `${p}/EndDeviceControlType`),
      );
    else
      try {
        kind = controlKindFor(code);
      } catch (err) {
        problems.push(problem('MF_CIM_CODE', (err as Error).message, `${p}/EndDeviceControlType`));
      }
    const meterIds: string[] = [];
    children(c, 'EndDevices').forEach((d, j) => {
      const dp = `${p}/EndDevices[${j + 1}]`;
      const id = identity(d, dp, 'EndDevices', problems);
      if (id && !ctx.meterExists(id))
        problems.push(problem('MF_UNKNOWN_METER', `meter ${id} is not known`, dp));
      if (id) meterIds.push(id);
    });
    if (children(c, 'EndDevices').length === 0)
      problems.push(
        problem(
          'MF_CIM_MISSING',
          children(c, 'EndDeviceGroups').length > 0
            ? 'EndDeviceGroups are not supported; name each meter under EndDevices'
            : 'EndDeviceControl names no EndDevices',
          `${p}/EndDevices`,
        ),
      );
    let limitW: number | undefined;
    children(c, 'EndDeviceControlAttribute').forEach((a, j) => {
      if (childText(a, 'name') !== 'SupplyCapacityLimit') return;
      const v = Number(childText(a, 'value'));
      if (!Number.isFinite(v) || v <= 0)
        problems.push(
          problem(
            'MF_CIM_VALUE',
            'SupplyCapacityLimit must be a positive number of W',
            `${p}/EndDeviceControlAttribute[${j + 1}]/value`,
          ),
        );
      else limitW = v;
    });
    if (
      kind === 'powerReductionOn' &&
      limitW === undefined &&
      !problems.some((x) => x.xpath?.startsWith(`${p}/EndDeviceControlAttribute`))
    )
      problems.push(
        problem(
          'MF_CIM_MISSING',
          'power reduction needs an EndDeviceControlAttribute SupplyCapacityLimit (W)',
          `${p}/EndDeviceControlAttribute`,
        ),
      );
    const action = child(c, 'EndDeviceAction');
    if (code && kind)
      items.push(
        assign<ControlItem>(
          { kind, code, meterIds },
          {
            mRID: childText(c, 'mRID'),
            reason: childText(c, 'reason'),
            startDateTime: action
              ? dateTime(childText(action, 'startDateTime'), `${p}/EndDeviceAction/startDateTime`, problems)
              : undefined,
            supplyCapacityLimitW: limitW,
          },
        ),
      );
  });
  return items;
}
