import type { Clock } from '../../../core/clock.js';
import { isMeterfabricError } from '../../../core/errors.js';
import {
  encodeIdentification,
  encodeReadoutMessage,
  type IdentificationMessage,
  parseAckOptionSelect,
  parseRequest,
} from './codec.js';
import { formatDataSet } from './data-sets.js';

/**
 * A simulated IEC 62056-21 mode C meter, pure: `receive(bytes)` returns the bytes it answers.
 * Its registers advance with the injected clock from a daily load curve, so energy only grows
 * and tariff registers add up to the total. Used by the modem simulator, tests and benches.
 */
export type MeterFault = 'none' | 'bad-bcc' | 'truncated' | 'unknown-obis';

export type SimulatedMeterOptions = {
  serial: string;
  /** Seed for the meter's average load and its starting index. */
  seed: number;
  clock: Clock;
  manufacturer?: string;
  model?: string;
  fault?: MeterFault;
};

const hourMs = 3_600_000;
const dayMs = 24 * hourMs;
const maxInputBytes = 256;

export type MeterRegisters = Record<string, { value: string; unit?: string }>;

export class SimulatedMeter {
  readonly identification: IdentificationMessage;
  fault: MeterFault;
  private readonly averageKw: number;
  private readonly startIndexWh: number;
  private readonly epochMs: number;
  private state: 'idle' | 'identified' = 'idle';
  private input: Buffer = Buffer.alloc(0);

  constructor(private readonly options: SimulatedMeterOptions) {
    const rnd = mulberry32(options.seed);
    this.averageKw = 0.2 + rnd() * 2.8;
    this.startIndexWh = Math.floor(rnd() * 50_000_000);
    this.epochMs = options.clock.now();
    this.fault = options.fault ?? 'none';
    this.identification = {
      manufacturer: options.manufacturer ?? 'MFS',
      baudChar: '5',
      identification: options.model ?? 'MF100-SIM',
    };
  }

  get serial(): string {
    return this.options.serial;
  }

  /** Import energy in Wh at `ms`: the integral of P(t) = avg (1 + 0.5 sin(2 pi t / day)). */
  private importWhAt(ms: number): number {
    const t = ms - this.epochMs;
    const hours = t / hourMs;
    const swingHours = (0.5 * (dayMs / hourMs)) / (2 * Math.PI);
    const kwh = this.averageKw * (hours + swingHours * (1 - Math.cos((2 * Math.PI * t) / dayMs)));
    return this.startIndexWh + kwh * 1000;
  }

  /** What the meter would print at `ms`, exactly as text (the test oracle for readouts). */
  registersAt(ms: number): MeterRegisters {
    const totalWh = Math.floor(this.importWhAt(ms));
    // Tariff 1 takes 60 % of consumption, tariff 2 the rest; computed in Wh so T1 + T2 = total exactly.
    const t1Wh = Math.floor(totalWh * 0.6);
    const t2Wh = totalWh - t1Wh;
    const powerKw = this.averageKw * (1 + 0.5 * Math.sin((2 * Math.PI * (ms - this.epochMs)) / dayMs));
    const voltage = 230 + 4 * Math.sin(ms / 600_000);
    const date = new Date(ms);
    const two = (n: number) => String(n).padStart(2, '0');
    return {
      'C.1.0': { value: this.options.serial },
      '0.9.1': {
        value: `${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())}`,
      },
      '0.9.2': {
        value: `${two(date.getUTCFullYear() % 100)}${two(date.getUTCMonth() + 1)}${two(date.getUTCDate())}`,
      },
      '1.8.0': { value: kwh(totalWh), unit: 'kWh' },
      '1.8.1': { value: kwh(t1Wh), unit: 'kWh' },
      '1.8.2': { value: kwh(t2Wh), unit: 'kWh' },
      '1.8.3': { value: kwh(0), unit: 'kWh' },
      '1.8.4': { value: kwh(0), unit: 'kWh' },
      '1.7.0': { value: powerKw.toFixed(3), unit: 'kW' },
      '32.7.0': { value: voltage.toFixed(1), unit: 'V' },
      '31.7.0': { value: ((powerKw * 1000) / voltage).toFixed(2), unit: 'A' },
      'F.F': { value: '00000000' },
    };
  }

  /** Feeds bytes from the line; returns what the meter sends back (possibly nothing). */
  receive(bytes: Uint8Array): Buffer[] {
    this.input = Buffer.concat([this.input, bytes]);
    const out: Buffer[] = [];
    for (;;) {
      if (this.input.length === 0) return out;
      try {
        if (this.input[0] === 0x2f /* '/' */) {
          const req = parseRequest(this.input);
          if (req.status === 'incomplete') return out;
          this.input = this.input.subarray(req.consumedBytes);
          if (req.value.deviceAddress !== '' && req.value.deviceAddress !== this.options.serial) continue;
          this.state = 'identified';
          out.push(encodeIdentification(this.identification));
          continue;
        }
        if (this.input[0] === 0x06 && this.state === 'identified') {
          const ack = parseAckOptionSelect(this.input);
          if (ack.status === 'incomplete') return out;
          this.input = this.input.subarray(ack.consumedBytes);
          this.state = 'idle';
          if (ack.value.mode === '0') out.push(this.readout());
          continue;
        }
      } catch (err) {
        if (!isMeterfabricError(err)) throw err;
      }
      // A real meter ignores what it cannot parse and waits for the next sign-on.
      const next = this.input.indexOf(0x2f, 1);
      this.input = next < 0 ? Buffer.alloc(0) : this.input.subarray(next);
      if (this.input.length > maxInputBytes) this.input = Buffer.alloc(0);
    }
  }

  private readout(): Buffer {
    const registers = this.registersAt(this.options.clock.now());
    const lines = Object.entries(registers).map(([obis, r]) => formatDataSet(obis, r.value, r.unit));
    if (this.fault === 'unknown-obis') lines.push(formatDataSet('99.99.9', '1'));
    const message = encodeReadoutMessage(lines);
    if (this.fault === 'bad-bcc') message.writeUInt8(message[message.length - 1]! ^ 0x5a, message.length - 1);
    if (this.fault === 'truncated') return message.subarray(0, Math.floor(message.length / 2));
    return message;
  }
}

function kwh(wh: number): string {
  const whole = Math.floor(wh / 1000);
  const frac = wh - whole * 1000;
  return `${String(whole).padStart(6, '0')}.${String(frac).padStart(3, '0')}`;
}

/** Small deterministic PRNG so a seed always gives the same meter. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
