import { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { parseDataLine } from '../../adapters/modem/iec62056/data-sets.js';
import { type MeterFault, SimulatedMeter } from '../../adapters/modem/iec62056/meter-model.js';
import { interpretDataSets, normalizeObis } from '../../adapters/modem/iec62056/obis.js';
import { readMeter } from '../../adapters/modem/iec62056/reader.js';
import { ManualClock } from '../../core/clock.js';

/** A duplex stream whose far end is a simulated meter (no sockets: the reader is stream-agnostic). */
function meterStream(meter: SimulatedMeter): Duplex {
  const stream: Duplex = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, callback) {
      for (const out of meter.receive(chunk)) stream.push(out);
      callback();
    },
  });
  return stream;
}

function setup(fault: MeterFault = 'none') {
  const clock = new ManualClock(Date.UTC(2026, 10, 23, 12, 0, 0));
  const meter = new SimulatedMeter({ serial: '12345678', seed: 7, clock, fault });
  return { clock, meter, stream: meterStream(meter) };
}

describe('readMeter over IEC 62056-21 mode C', () => {
  it('returns exactly the registers the meter printed, as CollectedReadings', async () => {
    const { clock, meter, stream } = setup();
    clock.advance(3 * 3_600_000);
    const expected = meter.registersAt(clock.now());
    const readout = await readMeter(stream, { clock });
    expect(readout.identification).toEqual({
      manufacturer: 'MFS',
      baudChar: '5',
      identification: 'MF100-SIM',
    });
    expect(readout.meterSerial).toBe('12345678');
    const byObis = Object.fromEntries(readout.registers.map((r) => [r.obis, `${r.raw}*${r.unit}`]));
    for (const code of ['1.8.0', '1.8.1', '1.8.2', '1.8.3', '1.8.4', '1.7.0', '32.7.0', '31.7.0']) {
      expect(byObis[code]).toBe(`${expected[code]!.value}*${expected[code]!.unit}`);
    }
    expect(readout.readingTypes['1.8.0']).toBe('0.0.0.1.1.1.12.0.0.0.0.0.0.0.0.3.72.0');
    expect(readout.metadata['0.9.1']).toBe('15:00:00');
    expect(readout.metadata['0.9.2']).toBe('261123');
    const total = readout.readings.find((r) => r.quantity.source === 'obis' && r.quantity.code === '1.8.0');
    expect(total).toEqual({
      meterSerial: '12345678',
      kind: 'register',
      quantity: { source: 'obis', code: '1.8.0' },
      value: Number(expected['1.8.0']!.value),
      unit: 'kWh',
      timestampMs: clock.now(),
    });
  });

  it('simulated registers only grow and tariffs add up to the total', () => {
    const { clock, meter } = setup();
    let last = -1;
    for (let h = 0; h < 72; h++) {
      const regs = meter.registersAt(clock.now());
      const total = Math.round(Number(regs['1.8.0']!.value) * 1000);
      const t1 = Math.round(Number(regs['1.8.1']!.value) * 1000);
      const t2 = Math.round(Number(regs['1.8.2']!.value) * 1000);
      expect(t1 + t2).toBe(total);
      expect(total).toBeGreaterThanOrEqual(last);
      last = total;
      clock.advance(3_600_000);
    }
  });

  it.each([
    ['bad-bcc', 'MF_IEC62056_CHECKSUM'],
    ['truncated', 'MF_IEC62056_TRUNCATED'],
    ['unknown-obis', 'MF_IEC62056_UNKNOWN_OBIS'],
  ] as const)('a %s readout fails whole with %s', async (fault, code) => {
    const { clock, stream } = setup(fault);
    await expect(readMeter(stream, { clock, stepTimeoutMs: 300 })).rejects.toMatchObject({ code });
  });

  it('lists unknown OBIS codes instead of failing when asked to ignore them', async () => {
    const { clock, stream } = setup('unknown-obis');
    const readout = await readMeter(stream, { clock, unknownObis: 'ignore' });
    expect(readout.unknownObis).toEqual(['99.99.9']);
    expect(readout.registers.some((r) => r.obis === '1.8.0')).toBe(true);
  });

  it('times out with MF_IEC62056_TIMEOUT when nothing answers', async () => {
    const silent = new Duplex({ read() {}, write: (_c, _e, cb) => cb() });
    await expect(readMeter(silent, { stepTimeoutMs: 100 })).rejects.toMatchObject({
      code: 'MF_IEC62056_TIMEOUT',
    });
  });
});

describe('OBIS data lines', () => {
  it('normalises medium/channel prefixes and the current billing period', () => {
    expect(normalizeObis('1-0:1.8.0*255')).toBe('1.8.0');
    expect(normalizeObis('1.8.1')).toBe('1.8.1');
    expect(normalizeObis('1.8.0*01')).toBe('1.8.0*01');
  });

  it('interprets registers with units and metadata', () => {
    const sets = ['1.8.0(012345.678*kWh)', '32.7.0(229.8*V)', '0.9.1(12:34:56)', '0.9.2(231122)'].flatMap(
      parseDataLine,
    );
    const r = interpretDataSets(sets);
    expect(r.registers.map((x) => [x.obis, x.value, x.unit])).toEqual([
      ['1.8.0', 12345.678, 'kWh'],
      ['32.7.0', 229.8, 'V'],
    ]);
    expect(r.metadata).toEqual({ '0.9.1': '12:34:56', '0.9.2': '231122' });
  });

  it('maps tariff registers up to rate 9 and per-rate maximum demand through the CIM table', async () => {
    const { readingTypeFor } = await import('../../adapters/cim/reading-type-map.js');
    const r = interpretDataSets(
      ['1.8.6(000012.500*kWh)', '2.8.9(1.000*kWh)', '1.6.2(02.345*kW)(2311221015)', '15.8.0(5*kWh)'].flatMap(
        parseDataLine,
      ),
    );
    expect(r.unknownObis).toEqual([]);
    for (const reg of r.registers) {
      expect(() => readingTypeFor({ source: 'obis', code: reg.obis }, reg.kind), reg.obis).not.toThrow();
    }
    expect(readingTypeFor({ source: 'obis', code: '1.8.6' }, 'register').split('.')[11]).toBe('6');
  });

  it('rejects a register with the wrong unit or a non-numeric value', () => {
    expect(() => interpretDataSets(parseDataLine('1.8.0(12*V)'))).toThrow(/unit "V"/);
    expect(() => interpretDataSets(parseDataLine('1.8.0(12x*kWh)'))).toThrow(/not a number/);
  });
});

describe('pool task: interpretReadouts', () => {
  it('decodes each readout of a batch on its own: good ones succeed, a bad BCC fails alone', async () => {
    const { interpretReadouts } = await import('../../adapters/modem/pool-tasks.js');
    const { encodeReadoutMessage } = await import('../../adapters/modem/iec62056/codec.js');
    const good = encodeReadoutMessage(['1.8.0(000123.456*kWh)', '0.9.1(10:00:00)']);
    const bad = Buffer.from(good);
    bad[bad.length - 1] = bad[bad.length - 1]! ^ 1;
    const results = interpretReadouts({
      items: [
        { id: 'a', bytes: good },
        { id: 'b', bytes: bad },
        { id: 'c', bytes: good.subarray(0, 10) },
      ],
    });
    expect(results[0]).toMatchObject({
      id: 'a',
      ok: true,
      registers: [{ obis: '1.8.0', value: 123.456, unit: 'kWh' }],
    });
    expect(results[1]).toMatchObject({ id: 'b', ok: false, code: 'MF_IEC62056_CHECKSUM' });
    expect(results[2]).toMatchObject({ id: 'c', ok: false, code: 'MF_IEC62056_TRUNCATED' });
  });
});
