import type { Duplex } from 'node:stream';
import { type Clock, systemClock } from '../../../core/clock.js';
import { readingTypeFor } from '../../cim/reading-type-map.js';
import type { CollectedReading } from '../../field-data.js';
import { ModemError } from '../errors.js';
import {
  encodeAckOptionSelect,
  encodeRequest,
  type IdentificationMessage,
  type ParseResult,
  parseIdentificationMessage,
  parseReadoutMessage,
} from './codec.js';
import { parseDataLine } from './data-sets.js';
import { assertMeterTimeZone } from './meter-time.js';
import { interpretDataSets, type RegisterValue, toCollectedReadings } from './obis.js';

export type ReadMeterOptions = {
  /** Device address for `/?<address>!` (empty: whichever meter answers). */
  deviceAddress?: string;
  /** Longest wait for each answer of the meter. */
  stepTimeoutMs?: number;
  /** Upper bound of the data message. */
  maxMessageBytes?: number;
  /** `error` (default): an unknown OBIS line fails the whole readout; `ignore`: listed in unknownObis. */
  unknownObis?: 'error' | 'ignore';
  /** Serial to stamp readings with; default C.1.0, then 0.0.0, then the identification. */
  meterSerial?: string;
  /** IANA zone of the meter's clock: its time stamps (a maximum demand's peak) are local (default UTC). */
  meterTimeZone?: string;
  clock?: Clock;
};

export type Iec62056Readout = {
  identification: IdentificationMessage;
  meterSerial: string;
  registers: RegisterValue[];
  metadata: Record<string, string>;
  unknownObis: string[];
  /** CIM ReadingType code of each register, from adapters/cim/reading-type-map.ts. */
  readingTypes: Record<string, string>;
  readings: CollectedReading[];
  readAtMs: number;
};

/**
 * Reads a meter with an IEC 62056-21 mode C data readout over any duplex byte stream: a bridge
 * port connection, a direct socket, or a serial port. Either returns the whole readout or
 * throws a ModemError; it never returns part of a readout. The stream stays open (the caller
 * owns it).
 */
export async function readMeter(stream: Duplex, options: ReadMeterOptions = {}): Promise<Iec62056Readout> {
  const stepTimeoutMs = options.stepTimeoutMs ?? 5000;
  const maxMessageBytes = options.maxMessageBytes ?? 64 * 1024;
  const clock = options.clock ?? systemClock;
  assertMeterTimeZone(options.meterTimeZone ?? 'UTC');
  const input = new StreamInput(stream);
  try {
    stream.write(encodeRequest(options.deviceAddress ?? ''));
    const identification = await input.next(
      parseIdentificationMessage,
      stepTimeoutMs,
      'identification message',
    );
    // Over a transparent modem the serial side runs at the modem's fixed rate, so the poller
    // answers with the rate the meter offered and no real switch happens on our side.
    stream.write(
      encodeAckOptionSelect({ protocolControl: '0', baudChar: identification.baudChar, mode: '0' }),
    );
    const message = await input.next(
      (b) => parseReadoutMessage(b, maxMessageBytes),
      stepTimeoutMs,
      'data message',
    );
    const interpreted = interpretDataSets(message.lines.flatMap(parseDataLine), {
      meterTimeZone: options.meterTimeZone ?? 'UTC',
    });
    // The CIM table is the one authority for which OBIS codes become readings: a register it
    // cannot map is as unknown as a code this module never heard of.
    const readingTypes: Record<string, string> = {};
    for (const r of interpreted.registers) {
      try {
        readingTypes[r.obis] = readingTypeFor({ source: 'obis', code: r.obis }, r.kind);
      } catch {
        interpreted.unknownObis.push(r.obis);
      }
    }
    interpreted.registers = interpreted.registers.filter((r) => readingTypes[r.obis] !== undefined);
    if (interpreted.unknownObis.length > 0 && (options.unknownObis ?? 'error') === 'error') {
      throw new ModemError(
        'MF_IEC62056_UNKNOWN_OBIS',
        `readout has OBIS codes this collector does not map: ${interpreted.unknownObis.join(', ')}; nothing was stored. Add them to adapters/modem/iec62056/obis.ts or read with unknownObis: 'ignore'`,
        { unknownObis: interpreted.unknownObis },
      );
    }
    const meterSerial =
      options.meterSerial ??
      interpreted.metadata['C.1.0'] ??
      interpreted.metadata['0.0.0'] ??
      `${identification.manufacturer}${identification.identification}`;
    const readAtMs = clock.now();
    return {
      identification,
      meterSerial,
      registers: interpreted.registers,
      metadata: interpreted.metadata,
      unknownObis: interpreted.unknownObis,
      readingTypes,
      readings: toCollectedReadings(meterSerial, interpreted.registers, readAtMs),
      readAtMs,
    };
  } finally {
    input.detach();
  }
}

/** Buffers what the stream delivers and hands it to a parser until a whole message is there. */
class StreamInput {
  private buffered: Buffer = Buffer.alloc(0);
  private wake: (() => void) | null = null;
  private ended: Error | null = null;
  private readonly onData = (chunk: Buffer) => {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    this.wake?.();
  };
  private readonly onEnd = () => {
    this.ended ??= new Error('stream ended');
    this.wake?.();
  };
  private readonly onError = (err: Error) => {
    this.ended ??= err;
    this.wake?.();
  };

  constructor(private readonly stream: Duplex) {
    stream.on('data', this.onData);
    stream.on('end', this.onEnd);
    stream.on('close', this.onEnd);
    stream.on('error', this.onError);
  }

  async next<T>(parse: (buf: Uint8Array) => ParseResult<T>, timeoutMs: number, what: string): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const result = parse(this.buffered);
      if (result.status === 'ok') {
        this.buffered = this.buffered.subarray(result.consumedBytes);
        return result.value;
      }
      if (this.ended) {
        throw new ModemError(
          'MF_IEC62056_TRUNCATED',
          `the connection closed before the meter's ${what} was complete (${this.buffered.length} bytes received)`,
          { receivedBytes: this.buffered.length },
          { cause: this.ended },
        );
      }
      const remainingMs = deadline - Date.now();
      if (remainingMs <= 0) {
        throw new ModemError(
          this.buffered.length > 0 ? 'MF_IEC62056_TRUNCATED' : 'MF_IEC62056_TIMEOUT',
          `no complete ${what} from the meter within ${timeoutMs} ms (${this.buffered.length} bytes received); check the modem is online and a meter answers`,
          { timeoutMs, receivedBytes: this.buffered.length },
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remainingMs);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = null;
    }
  }

  detach(): void {
    this.stream.off('data', this.onData);
    this.stream.off('end', this.onEnd);
    this.stream.off('close', this.onEnd);
    this.stream.off('error', this.onError);
  }
}
