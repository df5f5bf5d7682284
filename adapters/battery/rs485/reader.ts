import { BatteryCodecError } from '../errors.js';

/** A bounds-checked big-endian reader over an RS485 INFO field (RS485 INFO is big-endian). */
export class InfoReader {
  offset = 0;
  constructor(
    readonly bytes: Uint8Array,
    private readonly what: string,
  ) {}

  get remaining(): number {
    return this.bytes.length - this.offset;
  }

  private need(count: number, field: string): void {
    if (this.remaining < count) {
      throw new BatteryCodecError(
        'MF_BATTERY_RS485_INFO',
        `${this.what}: INFO ends at byte ${this.bytes.length} while reading ${field} (needs ${count} more bytes)`,
        { field, offset: this.offset, infoBytes: this.bytes.length },
      );
    }
  }

  u8(field: string): number {
    this.need(1, field);
    return this.bytes[this.offset++]!;
  }

  u16(field: string): number {
    this.need(2, field);
    const v = (this.bytes[this.offset]! << 8) | this.bytes[this.offset + 1]!;
    this.offset += 2;
    return v;
  }

  s16(field: string): number {
    const v = this.u16(field);
    return v >= 0x8000 ? v - 0x10000 : v;
  }

  u24(field: string): number {
    this.need(3, field);
    const b = this.bytes;
    const v = (b[this.offset]! << 16) | (b[this.offset + 1]! << 8) | b[this.offset + 2]!;
    this.offset += 3;
    return v;
  }

  ascii(count: number, field: string): string {
    this.need(count, field);
    let out = '';
    for (let i = 0; i < count; i++) {
      const c = this.bytes[this.offset + i]!;
      out += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : c === 0 ? '\0' : '?';
    }
    this.offset += count;
    return out.replace(/[\s\0]+$/, '');
  }

  rest(): Uint8Array {
    const out = this.bytes.slice(this.offset);
    this.offset = this.bytes.length;
    return out;
  }

  /** A count field with an upper bound, so a corrupt count cannot make us read garbage as data. */
  count(field: string, max: number): number {
    const n = this.u8(field);
    if (n > max) {
      throw new BatteryCodecError('MF_BATTERY_VALUE_RANGE', `${this.what}: ${field} = ${n} exceeds ${max}`, {
        field,
        value: n,
        max,
      });
    }
    return n;
  }
}

export function round3(v: number): number {
  return Math.round(v * 1000) / 1000;
}

/** Pylontech temperatures are K × 10 with 0 °C = 2731. */
export function kelvinTenthsToC(raw: number): number {
  return Math.round(raw - 2731) / 10;
}
