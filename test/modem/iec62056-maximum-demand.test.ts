import { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  encodeIdentification,
  encodeReadoutMessage,
  parseAckOptionSelect,
  parseRequest,
} from '../../adapters/modem/iec62056/codec.js';
import { parseDataLine } from '../../adapters/modem/iec62056/data-sets.js';
import { parseMeterStamp } from '../../adapters/modem/iec62056/meter-time.js';
import { interpretDataSets } from '../../adapters/modem/iec62056/obis.js';
import { readMeter } from '../../adapters/modem/iec62056/reader.js';
import { interpretReadouts } from '../../adapters/modem/pool-tasks.js';
import { ManualClock } from '../../core/clock.js';

/**
 * Golden vector: part of a Landis+Gyr meter's IEC 62056-21 data readout (device address
 * 001LGZ..., meter date 26-08-15), published as the test payload of an independent open-source
 * collector: github.com/ksw1984/home-energy-monitoring, test/collectors/iec/test_iec_collector.py
 * (commit 11d88dc). Maximum demand prints the value and then, in its own bracket, the end of
 * the peak period as YYMMDDhhmm on the meter's clock: 1.6.0 peaked at 18:45 on 2026-08-09.
 */
const landisGyrReadout = [
  '1-1:F.F(00000000)',
  '1-1:0.0.0(001LGZ0058134272)',
  '1-1:0.9.1(162655)',
  '1-1:0.9.2(260815)',
  '1-1:1.6.0(00.641*kW)(2608091845)',
  '1-1:1.6.0*62(02.142)(2607220915)',
  '1-1:1.8.0(0018788.9*kWh)',
  '1-1:2.6.0(14.520*kW)(2608071515)',
  '1-1:2.8.0(0077347.5*kWh)',
  '1-1:32.7.0(239.9*V)',
];

/** A meter on the far end of a stream that answers sign-on and option select with `lines`. */
function meterAnswering(lines: string[]): Duplex {
  let input = Buffer.alloc(0);
  const stream: Duplex = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, callback) {
      input = Buffer.concat([input, chunk]);
      const request = input[0] === 0x2f ? parseRequest(input) : null;
      if (request?.status === 'ok') {
        input = input.subarray(request.consumedBytes);
        stream.push(encodeIdentification({ manufacturer: 'LGZ', baudChar: '5', identification: 'ZMD310' }));
      }
      const ack = input[0] === 0x06 ? parseAckOptionSelect(input) : null;
      if (ack?.status === 'ok') {
        input = input.subarray(ack.consumedBytes);
        stream.push(encodeReadoutMessage(lines));
      }
      callback();
    },
  });
  return stream;
}

const readAtMs = Date.UTC(2026, 10, 23, 15, 0);

describe('maximum demand with its time stamp bracket (IEC 62056-21)', () => {
  it('takes the peak time from the second bracket, in the meter time zone (golden vector, Landis+Gyr)', () => {
    const r = interpretDataSets(landisGyrReadout.flatMap(parseDataLine), { meterTimeZone: 'Europe/Berlin' });
    const byObis = new Map(r.registers.map((x) => [x.obis, x]));
    // Berlin keeps summer time (UTC+2) in August.
    expect(byObis.get('1.6.0')).toMatchObject({
      value: 0.641,
      unit: 'kW',
      timestampMs: Date.UTC(2026, 7, 9, 16, 45),
    });
    expect(byObis.get('2.6.0')).toMatchObject({
      value: 14.52,
      unit: 'kW',
      timestampMs: Date.UTC(2026, 7, 7, 13, 15),
    });
    // Nothing else in the readout is lost or changed: the energy registers hold at the read time.
    expect(byObis.get('1.8.0')).toMatchObject({ value: 18788.9, unit: 'kWh' });
    expect(byObis.get('1.8.0')?.timestampMs).toBeUndefined();
    expect(byObis.get('2.8.0')).toMatchObject({ value: 77347.5, unit: 'kWh' });
    expect(byObis.get('32.7.0')).toMatchObject({ value: 239.9, unit: 'V' });
    expect(r.metadata).toMatchObject({ '0.9.1': '162655', '0.9.2': '260815', '0.0.0': '001LGZ0058134272' });
    // The previous billing period's peak (*62) is a historic value this readout does not map.
    expect(r.unknownObis).toEqual(['1-1:1.6.0*62']);
  });

  it('reads the stamp as UTC when no meter time zone is given', () => {
    const r = interpretDataSets(parseDataLine('1-1:1.6.0(00.641*kW)(2608091845)'));
    expect(r.registers[0]?.timestampMs).toBe(Date.UTC(2026, 7, 9, 18, 45));
  });

  it("readMeter gives the on-demand maximum demand the peak's time and every other reading the read time", async () => {
    const clock = new ManualClock(readAtMs);
    const readout = await readMeter(
      meterAnswering([
        'C.1.0(12345678)',
        '1.8.0(012345.678*kWh)',
        '1.6.0(3.456*kW)(2611231415)',
        '32.7.0(229.8*V)',
      ]),
      { clock, meterTimeZone: 'Europe/Rome' },
    );
    const at = (code: string) =>
      readout.readings.find((x) => x.quantity.source === 'obis' && x.quantity.code === code);
    // Rome keeps standard time (UTC+1) in November: 14:15 local is 13:15 UTC.
    expect(at('1.6.0')).toEqual({
      meterSerial: '12345678',
      kind: 'register',
      quantity: { source: 'obis', code: '1.6.0' },
      value: 3.456,
      unit: 'kW',
      timestampMs: Date.UTC(2026, 10, 23, 13, 15),
    });
    expect(at('1.8.0')).toMatchObject({ value: 12345.678, timestampMs: readAtMs });
    expect(at('32.7.0')).toMatchObject({ value: 229.8, timestampMs: readAtMs });
    expect(readout.readings).toHaveLength(3);
  });

  it('an all-zero stamp (no peak recorded since the reset) keeps the read time', () => {
    const r = interpretDataSets(parseDataLine('1.6.0(00.000*kW)(0000000000)'));
    expect(r.registers).toEqual([{ obis: '1.6.0', value: 0, unit: 'kW', kind: 'register', raw: '00.000' }]);
  });

  it('a maximum demand without a stamp bracket keeps the read time, as before', () => {
    const r = interpretDataSets(parseDataLine('1.6.1(02.345*kW)'));
    expect(r.registers[0]).toMatchObject({ obis: '1.6.1', value: 2.345 });
    expect(r.registers[0]?.timestampMs).toBeUndefined();
  });

  it.each([
    ['261123141', 'not ten digits'],
    ['26112314xx', 'not ten digits'],
    ['2611231415*h', 'not ten digits'],
    ['', 'not ten digits'],
    ['2613231415', 'no such date or time'],
    ['2602301415', 'no such date or time'],
    ['2611232415', 'no such date or time'],
    ['2611231460', 'no such date or time'],
  ])(
    'a malformed stamp "%s" fails the readout with MF_IEC62056_MALFORMED (%s); nothing is returned',
    async (stamp, why) => {
      const clock = new ManualClock(readAtMs);
      const meter = meterAnswering(['C.1.0(12345678)', '1.8.0(012345.678*kWh)', `1.6.0(3.456*kW)(${stamp})`]);
      const error = await readMeter(meter, { clock, meterTimeZone: 'Europe/Rome' }).catch((e: unknown) => e);
      expect(error).toMatchObject({
        code: 'MF_IEC62056_MALFORMED',
        message: expect.stringContaining(`OBIS 1.6.0 has time stamp "${stamp}": ${why}; expected YYMMDDhhmm`),
        details: { obis: '1.6.0' },
      });
    },
  );

  it('in a batch of captured readouts, the one with a bad stamp fails alone and the others keep every value', () => {
    const good = encodeReadoutMessage(landisGyrReadout);
    const bad = encodeReadoutMessage(['1.8.0(000123.456*kWh)', '1.6.0(3.456*kW)(2613231415)']);
    const [first, second, third] = interpretReadouts({
      items: [
        { id: 'good', bytes: good },
        { id: 'bad', bytes: bad },
        { id: 'again', bytes: good },
      ],
      meterTimeZone: 'Europe/Berlin',
    });
    expect(second).toMatchObject({ id: 'bad', ok: false, code: 'MF_IEC62056_MALFORMED' });
    for (const result of [first, third]) {
      expect(result).toMatchObject({ ok: true });
      if (!result?.ok) continue;
      expect(result.registers.map((x) => [x.obis, x.value, x.timestampMs])).toEqual([
        ['1.6.0', 0.641, Date.UTC(2026, 7, 9, 16, 45)],
        ['1.8.0', 18788.9, undefined],
        ['2.6.0', 14.52, Date.UTC(2026, 7, 7, 13, 15)],
        ['2.8.0', 77347.5, undefined],
        ['32.7.0', 239.9, undefined],
      ]);
    }
  });

  it('a stamp in the hour skipped when summer time begins is refused; in the repeated hour the earlier instant is taken', () => {
    // 2026-03-29 02:15 does not exist in Rome (02:00 CET became 03:00 CEST).
    expect(() => parseMeterStamp('2603290215', '1.6.0', 'Europe/Rome')).toThrow(
      expect.objectContaining({
        code: 'MF_IEC62056_MALFORMED',
        message: expect.stringContaining('summer time'),
      }),
    );
    // 2026-10-25 02:15 happened at 00:15 UTC (CEST) and again at 01:15 UTC (CET).
    expect(parseMeterStamp('2610250215', '1.6.0', 'Europe/Rome')).toEqual({
      kind: 'instant',
      timestampMs: Date.UTC(2026, 9, 25, 0, 15),
    });
  });

  it('an unknown meter time zone is a configuration error, raised before anything is read', async () => {
    let written = false;
    const stream = new Duplex({
      read() {},
      write(_c, _e, cb) {
        written = true;
        cb();
      },
    });
    await expect(readMeter(stream, { meterTimeZone: 'Mars/Olympus' })).rejects.toThrow(
      /meter time zone "Mars\/Olympus" is not an IANA time zone/,
    );
    expect(written).toBe(false);
  });
});
