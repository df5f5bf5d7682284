import type { GroupPayload } from './cemi.js';
import { KnxError } from './errors.js';

/**
 * Datapoint types used for metering (reference §1.8): encode a value into a group payload and
 * decode it back. DPT 1 travels in the APCI's 6 short-data bits; every other DPT is "long
 * data" after the APCI, even when it is one octet.
 *
 * DPT 9 decoding returns `null` for 0x7FFF, the "invalid data" marker (as Calimero does; xknx
 * wrongly reads it as 670760.96). Encoding rounds half to even (as Python's round(), which the
 * reference vectors were checked with), stated explicitly because ties are common: 230.0 is
 * M = 1437.5 at E = 4 (-> 1438, 259E) and 500.0 is M = 1562.5 at E = 5 (-> 1562, 2E1A), and
 * `Math.round` would round -x.5 towards +infinity.
 */

export type DptValue = boolean | number | string | null;

export type DptInfo = { dpt: string; unit: string; sizeBytes: number; description: string };

const knownSubtypes: Record<string, { unit: string; description: string }> = {
  '1.001': { unit: '', description: 'switch' },
  '5.001': { unit: '%', description: 'scaling' },
  '5.010': { unit: 'pulses', description: 'counter pulses (8 bit)' },
  '7.001': { unit: 'pulses', description: 'counter pulses (16 bit)' },
  '9.001': { unit: 'degC', description: 'temperature' },
  '9.004': { unit: 'lx', description: 'illuminance' },
  '9.007': { unit: '%', description: 'humidity' },
  '9.020': { unit: 'mV', description: 'voltage' },
  '9.021': { unit: 'mA', description: 'current' },
  '9.024': { unit: 'kW', description: 'power' },
  '9.025': { unit: 'l/h', description: 'volume flow' },
  '12.001': { unit: 'pulses', description: 'counter pulses (32 bit unsigned)' },
  '13.001': { unit: 'pulses', description: 'counter pulses (32 bit signed)' },
  '13.010': { unit: 'Wh', description: 'active energy' },
  '13.011': { unit: 'VAh', description: 'apparent energy' },
  '13.012': { unit: 'VARh', description: 'reactive energy' },
  '13.013': { unit: 'kWh', description: 'active energy' },
  '13.014': { unit: 'kVAh', description: 'apparent energy' },
  '13.015': { unit: 'kVARh', description: 'reactive energy' },
  '13.016': { unit: 'MWh', description: 'active energy' },
  '14.019': { unit: 'A', description: 'electric current' },
  '14.027': { unit: 'V', description: 'electric potential' },
  '14.033': { unit: 'Hz', description: 'frequency' },
  '14.056': { unit: 'W', description: 'power' },
  '14.057': { unit: '', description: 'power factor (cos phi)' },
  '14.068': { unit: 'degC', description: 'temperature' },
  '14.080': { unit: 'VA', description: 'apparent power' },
  '16.000': { unit: '', description: 'ASCII string' },
  '16.001': { unit: '', description: 'ISO 8859-1 string' },
};

const mainSizes: Record<string, number> = {
  '1': 0,
  '5': 1,
  '7': 2,
  '9': 2,
  '12': 4,
  '13': 4,
  '14': 4,
  '16': 14,
};

function parseDpt(dpt: string): { main: string; sub: string; key: string } {
  const match = /^(\d{1,3})\.(\d{3})$/.exec(dpt.trim());
  if (!match) {
    throw new KnxError('MF_KNX_DPT_UNKNOWN', `"${dpt}" is not a datapoint type (write it like 13.010)`, {
      dpt,
    });
  }
  const main = String(Number(match[1]));
  const key = `${main}.${match[2]}`;
  const supported =
    key in knownSubtypes ||
    main === '1' ||
    main === '9' ||
    main === '14' ||
    (main === '13' && key in knownSubtypes);
  if (!supported || !(main in mainSizes)) {
    throw new KnxError(
      'MF_KNX_DPT_UNKNOWN',
      `datapoint type ${dpt} is not supported (supported: 1.xxx, 5.001, 5.010, 7.001, 9.xxx, 12.001, 13.001/13.010-13.016, 14.xxx, 16.000, 16.001)`,
      { dpt },
    );
  }
  return { main, sub: match[2]!, key };
}

export function dptInfo(dpt: string): DptInfo {
  const { main, key } = parseDpt(dpt);
  const known = knownSubtypes[key];
  return {
    dpt: key,
    unit: known?.unit ?? '',
    sizeBytes: mainSizes[main]!,
    description: known?.description ?? `DPT ${main}`,
  };
}

function rangeError(dpt: string, value: unknown, range: string): KnxError {
  return new KnxError(
    'MF_KNX_DPT_RANGE',
    `value ${String(value)} is out of range for DPT ${dpt} (${range})`,
    {
      dpt,
      value,
    },
  );
}

function integer(dpt: string, value: DptValue, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw rangeError(dpt, value, `an integer in ${min}..${max}`);
  }
  return value;
}

function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const diff = x - floor;
  const r = diff > 0.5 ? floor + 1 : diff < 0.5 ? floor : floor % 2 === 0 ? floor : floor + 1;
  return r === 0 ? 0 : r; // no -0
}

export const DPT9_INVALID = 0x7fff;
export const DPT9_MAX = 670433.28;
export const DPT9_MIN = -671088.64;

export function encodeDpt9(value: number): Uint8Array {
  if (!Number.isFinite(value) || value > DPT9_MAX || value < DPT9_MIN) {
    throw rangeError('9.xxx', value, `${DPT9_MIN}..${DPT9_MAX}`);
  }
  let exponent = 0;
  let scaled = value * 100;
  while (scaled > 2047 || scaled < -2048) {
    exponent++;
    scaled /= 2;
  }
  const mantissa = roundHalfEven(scaled);
  const raw = (mantissa < 0 ? 0x8000 : 0) | (exponent << 11) | (mantissa & 0x7ff);
  // Values just above DPT9_MAX can round onto the invalid marker; refuse rather than send "invalid".
  if (raw === DPT9_INVALID) throw rangeError('9.xxx', value, `${DPT9_MIN}..${DPT9_MAX}`);
  return Uint8Array.of(raw >> 8, raw & 0xff);
}

export function decodeDpt9(bytes: Uint8Array): number | null {
  const raw = (bytes[0]! << 8) | bytes[1]!;
  if (raw === DPT9_INVALID) return null;
  const exponent = (raw >> 11) & 0x0f;
  // 12-bit two's complement: sign bit 15 and the 11 low bits.
  const mantissa = (raw & 0x8000 ? -2048 : 0) + (raw & 0x7ff);
  // Round to 2 decimals times 2^E precision to avoid 0.01 float noise (e.g. 21.000000000000004).
  return Number((0.01 * mantissa * 2 ** exponent).toFixed(2));
}

/** Encodes `value` for DPT `dpt` into a group payload. */
export function encodeDpt(dpt: string, value: DptValue): GroupPayload {
  const { main, key } = parseDpt(dpt);
  switch (main) {
    case '1':
      if (typeof value !== 'boolean' && value !== 0 && value !== 1)
        throw rangeError(key, value, 'true/false or 0/1');
      return { shortData: value === true || value === 1 ? 1 : 0 };
    case '5': {
      if (key === '5.001') {
        if (typeof value !== 'number' || !(value >= 0 && value <= 100))
          throw rangeError(key, value, '0..100 %');
        return { data: Uint8Array.of(roundHalfEven((value * 255) / 100)) };
      }
      return { data: Uint8Array.of(integer(key, value, 0, 255)) };
    }
    case '7': {
      const v = integer(key, value, 0, 0xffff);
      return { data: Uint8Array.of(v >> 8, v & 0xff) };
    }
    case '9':
      if (typeof value !== 'number') throw rangeError(key, value, 'a number');
      return { data: encodeDpt9(value) };
    case '12': {
      const data = new Uint8Array(4);
      new DataView(data.buffer).setUint32(0, integer(key, value, 0, 0xffffffff));
      return { data };
    }
    case '13': {
      const data = new Uint8Array(4);
      new DataView(data.buffer).setInt32(0, integer(key, value, -0x80000000, 0x7fffffff));
      return { data };
    }
    case '14': {
      if (typeof value !== 'number' || Number.isNaN(value)) throw rangeError(key, value, 'a number');
      const f = Math.fround(value);
      if (!Number.isFinite(f) && Number.isFinite(value)) throw rangeError(key, value, 'an IEEE-754 single');
      const data = new Uint8Array(4);
      new DataView(data.buffer).setFloat32(0, value);
      return { data };
    }
    case '16': {
      if (typeof value !== 'string' || value.length > 14)
        throw rangeError(key, value, 'a string of at most 14 characters');
      const maxCode = key === '16.000' ? 0x7f : 0xff;
      const data = new Uint8Array(14);
      for (let i = 0; i < value.length; i++) {
        const code = value.charCodeAt(i);
        if (code > maxCode || code === 0)
          throw rangeError(key, value, key === '16.000' ? 'ASCII' : 'ISO 8859-1');
        data[i] = code;
      }
      return { data };
    }
  }
  throw new KnxError('MF_KNX_DPT_UNKNOWN', `datapoint type ${dpt} is not supported`, { dpt });
}

function expectLength(key: string, payload: GroupPayload, size: number): Uint8Array {
  if (!('data' in payload) || payload.data.length !== size) {
    const got = 'data' in payload ? `${payload.data.length} octet(s)` : 'short (6-bit) data';
    throw new KnxError(
      'MF_KNX_DPT_LENGTH',
      `DPT ${key} needs ${size} octet(s) of data, the telegram carried ${got}`,
      {
        dpt: key,
      },
    );
  }
  return payload.data;
}

/** Decodes a group payload as DPT `dpt`. DPT 9 returns null for the invalid marker 0x7FFF. */
export function decodeDpt(dpt: string, payload: GroupPayload): DptValue {
  const { main, key } = parseDpt(dpt);
  switch (main) {
    case '1': {
      // Some devices send a 1-octet long payload for DPT 1; accept it, the value is bit 0.
      if ('shortData' in payload) return (payload.shortData & 0x01) === 1;
      return (expectLength(key, payload, 1)[0]! & 0x01) === 1;
    }
    case '5': {
      const raw = expectLength(key, payload, 1)[0]!;
      return key === '5.001' ? (raw * 100) / 255 : raw;
    }
    case '7': {
      const d = expectLength(key, payload, 2);
      return (d[0]! << 8) | d[1]!;
    }
    case '9':
      return decodeDpt9(expectLength(key, payload, 2));
    case '12':
    case '13':
    case '14': {
      const d = expectLength(key, payload, 4);
      const view = new DataView(d.buffer, d.byteOffset, 4);
      return main === '12' ? view.getUint32(0) : main === '13' ? view.getInt32(0) : view.getFloat32(0);
    }
    case '16': {
      const d = expectLength(key, payload, 14);
      let end = d.indexOf(0);
      if (end < 0) end = d.length;
      return String.fromCharCode(...d.subarray(0, end));
    }
  }
  throw new KnxError('MF_KNX_DPT_UNKNOWN', `datapoint type ${dpt} is not supported`, { dpt });
}
