import { formatGroupAddress, formatIndividualAddress } from './address.js';
import { toHex } from './bytes.js';
import { type Cemi, cemiMessageName, groupPayload, groupService, type Tpdu } from './cemi.js';
import { errorName } from './constants.js';
import { type DptValue, decodeDpt, dptInfo } from './dpt.js';
import type { KnxFrame } from './frame.js';

/**
 * Human-readable JSON of decoded frames for the CLI and logs: addresses in KNX notation,
 * octets as hex, status codes by name. Pure.
 */

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

function plain(value: unknown): JsonValue {
  if (value instanceof Uint8Array) return toHex(value);
  if (Array.isArray(value)) return value.map(plain);
  if (value && typeof value === 'object') {
    const out: Record<string, JsonValue> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = plain(v);
    return out;
  }
  return value as JsonValue;
}

function describeTpdu(tpdu: Tpdu): Record<string, JsonValue> {
  const service = groupService(tpdu);
  const payload = groupPayload(tpdu);
  return {
    tpci: tpdu.tpci,
    ...(tpdu.apci === undefined ? {} : { apci: `0x${tpdu.apci.toString(16).padStart(3, '0')}` }),
    service: service ?? (tpdu.apci === undefined ? 'T_Control' : 'other'),
    ...(payload && service !== 'GroupValue_Read'
      ? 'shortData' in payload
        ? { shortData: payload.shortData }
        : { data: toHex(payload.data) }
      : {}),
  };
}

export function describeCemi(cemi: Cemi, dpt?: string): Record<string, JsonValue> {
  const base: Record<string, JsonValue> = { messageCode: cemiMessageName(cemi.messageCode) };
  if (cemi.kind !== 'ldata')
    return { ...base, ...(plain({ ...cemi, messageCode: undefined }) as Record<string, JsonValue>) };
  const out: Record<string, JsonValue> = {
    ...base,
    additionalInfo: cemi.additionalInfo.map((a) => ({ type: a.type, data: toHex(a.data) })),
    frame: cemi.standardFrame ? 'standard' : 'extended',
    priority: cemi.priority,
    repeat: !cemi.doNotRepeat,
    ackRequest: cemi.ackRequest,
    confirmError: cemi.confirmError,
    hopCount: cemi.hopCount,
    source: formatIndividualAddress(cemi.source),
    destination: cemi.groupDestination
      ? formatGroupAddress(cemi.destination)
      : formatIndividualAddress(cemi.destination),
    destinationType: cemi.groupDestination ? 'group' : 'individual',
    tpdu: describeTpdu(cemi.tpdu),
  };
  if (dpt) {
    const payload = groupPayload(cemi.tpdu);
    if (payload) {
      const value: DptValue = decodeDpt(dpt, payload);
      out.value = {
        dpt: dptInfo(dpt).dpt,
        value,
        unit: dptInfo(dpt).unit,
        ...(value === null ? { invalid: true } : {}),
      };
    }
  }
  return out;
}

export function describeFrame(frame: KnxFrame, dpt?: string): Record<string, JsonValue> {
  const out: Record<string, JsonValue> = {};
  for (const [key, value] of Object.entries(frame)) {
    if (value === undefined) continue;
    if (key === 'cemi') out.cemi = describeCemi(value as Cemi, dpt);
    else if (key === 'status' && typeof value === 'number') out.status = errorName(value);
    else if (
      (key === 'crd' || key === 'cri') &&
      value &&
      typeof value === 'object' &&
      'individualAddress' in value
    ) {
      const v = value as { individualAddress?: number };
      out[key] = {
        ...(plain(value) as Record<string, JsonValue>),
        individualAddress: formatIndividualAddress(v.individualAddress ?? 0),
      };
    } else if (key === 'dibs' && Array.isArray(value)) {
      out.dibs = value.map((d: { type: string; individualAddress?: number }) =>
        d.type === 'deviceInfo'
          ? {
              ...(plain(d) as Record<string, JsonValue>),
              individualAddress: formatIndividualAddress(d.individualAddress ?? 0),
            }
          : plain(d),
      );
    } else out[key] = plain(value);
  }
  return out;
}
