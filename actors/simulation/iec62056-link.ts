import { Duplex, PassThrough } from 'node:stream';
import type { CollectedReading } from '../../adapters/field-data.js';
import {
  encodeIdentification,
  encodeReadoutMessage,
  parseAckOptionSelect,
  parseRequest,
} from '../../adapters/modem/iec62056/codec.js';
import { formatDataSet } from '../../adapters/modem/iec62056/data-sets.js';
import { readMeter } from '../../adapters/modem/iec62056/reader.js';
import type { Clock } from '../../core/clock.js';
import { localMidnightUtcMs, localTime } from '../domain/local-time.js';
import type { MeterModel } from './meter-model.js';

/**
 * On-demand register reads of a modem-attached meter go through a real IEC 62056-21 mode C
 * exchange: the simulated meter answers sign-on and option select with the modem adapter's
 * codec, and the head-end side reads it with the adapter's `readMeter`. The byte stream is an
 * in-process pipe (the modem bridge itself is the modem engineer's and tested there).
 */
export async function readRegistersOverIec62056(
  meter: MeterModel,
  clock: Clock,
  stepTimeoutMs = 2_000,
  timeZone = 'UTC',
): Promise<CollectedReading[]> {
  const toMeter = new PassThrough();
  const toHeadend = new PassThrough();
  const headendSide = Duplex.from({ readable: toHeadend, writable: toMeter });
  let input = Buffer.alloc(0);
  toMeter.on('data', (chunk: Buffer) => {
    input = Buffer.concat([input, chunk]);
    if (input[0] === 0x2f /* '/' sign-on */) {
      const request = parseRequest(input);
      if (request.status !== 'ok') return;
      input = input.subarray(request.consumedBytes);
      toHeadend.write(
        encodeIdentification({ manufacturer: 'MFS', baudChar: '5', identification: 'MF-SIM6T' }),
      );
      return;
    }
    if (input[0] === 0x06 /* ACK option select */) {
      const ack = parseAckOptionSelect(input);
      if (ack.status !== 'ok') return;
      input = input.subarray(ack.consumedBytes);
      toHeadend.write(encodeReadoutMessage(readoutLines(meter, clock.now(), timeZone)));
    }
  });
  try {
    const readout = await readMeter(headendSide, {
      meterSerial: meter.serial,
      // Tariffs 5 and 6 have no OBIS entry in the modem adapter's readout table yet.
      unknownObis: 'ignore',
      meterTimeZone: timeZone,
      stepTimeoutMs,
      clock,
    });
    return readout.readings.filter((r) => r.kind === 'register');
  } finally {
    // Closing an in-process pipe aborts its pending reads; nothing is waiting on them any more.
    headendSide.on('error', () => undefined);
    headendSide.destroy();
  }
}

/**
 * The meter's readout: serial, total and tariff registers, and the maximum demand of the
 * current day so far (since local midnight in `timeZone`) as `1.6.0(kW)(YYMMDDhhmm)`: value
 * and the time of the peak quarter's end in separate brackets, meter local time. The modem
 * adapter's reader stamps the reading with that time (read in `timeZone`), as the daily
 * closure does.
 */
export function readoutLines(meter: MeterModel, nowMs: number, timeZone = 'UTC'): string[] {
  const registers = meter.registersAt(nowMs);
  const total = registers.reduce((a, b) => a + b, 0);
  const kilo = (n: number) => `${Math.floor(n / 1000)}.${String(n % 1000).padStart(3, '0')}`;
  const lines = [
    formatDataSet('C.1.0', meter.serial),
    formatDataSet('1.8.0', kilo(total), 'kWh'),
    ...registers.map((wh, i) => formatDataSet(`1.8.${i + 1}`, kilo(wh), 'kWh')),
  ];
  const dayStart = localMidnightUtcMs(localTime(nowMs, timeZone).date, timeZone);
  const md = meter.maximumDemand(dayStart, nowMs);
  if (md)
    lines.push(`${formatDataSet('1.6.0', kilo(md.valueW), 'kW')}(${meterStamp(md.timestampMs, timeZone)})`);
  return lines;
}

/** YYMMDDhhmm on the meter's wall clock in `timeZone`. */
export function meterStamp(ms: number, timeZone: string): string {
  const local = localTime(ms, timeZone);
  const [y, m, d] = local.date.split('-');
  const two = (n: number) => String(n).padStart(2, '0');
  return `${(y ?? '').slice(2)}${m}${d}${two(local.hour)}${two(local.minuteOfDay % 60)}`;
}
