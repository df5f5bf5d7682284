import { describe, expect, it } from 'vitest';
import { decodeCanFrame } from '../../adapters/battery/can/decode.js';
import { type CanFrame, parseCandump } from '../../adapters/battery/can/frame.js';
import type { CanProtectionAlarm, CanRequests } from '../../adapters/battery/can/types.js';
import { ConditionTracker, conditionsOf } from '../../adapters/battery/monitor/conditions.js';
import { BatteryMonitor } from '../../adapters/battery/monitor/monitor.js';
import { TelemetryTracker } from '../../adapters/battery/monitor/telemetry.js';
import { MemoryBus } from '../../adapters/battery/transport/memory.js';
import { openSocketCan } from '../../adapters/battery/transport/socketcan.js';
import type { DeviceEvent } from '../../adapters/field-data.js';
import { ManualClock } from '../../core/clock.js';
import { waitFor } from '../support/wait.js';

const flags = (text: string) => decodeCanFrame(parseCandump(text)) as CanProtectionAlarm;
const requests = (text: string) => decodeCanFrame(parseCandump(text)) as CanRequests;

describe('conditions from flag frames', () => {
  it('maps 0x359 protections and alarms and 0x35C requests to battery.* event keys', () => {
    const c = conditionsOf({ protectionAlarm: flags('359#8808080001504E'), requests: requests('35C#E800') });
    expect(c).toEqual([
      { key: 'battery.overTemperature', details: { kind: 'protection' } },
      { key: 'battery.overCurrent', details: { kind: 'protection', direction: 'discharge' } },
      { key: 'battery.alarm', details: { kind: 'protection', flag: 'systemError' } },
      { key: 'battery.alarm', details: { kind: 'alarm', flag: 'highTemperature' } },
      { key: 'battery.forcedChargeRequest', details: { level: 'I' } },
      { key: 'battery.fullChargeRequest', details: {} },
    ]);
  });

  it('unknown bits become battery.alarm conditions naming frame, byte and mask', () => {
    expect(conditionsOf({ protectionAlarm: flags('359#0040000001504E') })).toEqual([
      { key: 'battery.alarm', details: { flag: 'unknownBit', frame: '0x359', byte: '1', mask: '0x40' } },
    ]);
  });
});

describe('ConditionTracker de-duplicates', () => {
  it('raises once while a flag repeats, clears once when it goes, and raises again if it returns', () => {
    const tracker = new ConditionTracker('site-1');
    const hot = conditionsOf({ protectionAlarm: flags('359#0800000001504E') });
    const calm = conditionsOf({ protectionAlarm: flags('359#0000000001504E') });
    const phases = (events: DeviceEvent[]) => events.map((e) => `${e.key}:${e.phase}`);
    expect(phases(tracker.update(1, hot))).toEqual(['battery.overTemperature:raised']);
    expect(phases(tracker.update(2, hot))).toEqual([]);
    expect(phases(tracker.update(3, hot))).toEqual([]);
    expect(phases(tracker.update(4, calm))).toEqual(['battery.overTemperature:cleared']);
    expect(phases(tracker.update(5, calm))).toEqual([]);
    expect(phases(tracker.update(6, hot))).toEqual(['battery.overTemperature:raised']);
  });

  it('an update scoped to flags does not clear link loss', () => {
    const tracker = new ConditionTracker('site-1');
    tracker.update(1, [{ key: 'battery.linkLost', details: {} }]);
    expect(tracker.update(2, [], (c) => c.key !== 'battery.linkLost')).toEqual([]);
    expect(tracker.activeConditions()).toHaveLength(1);
  });
});

describe('TelemetryTracker', () => {
  it('integrates energy from voltage × current (trapezoid) and not across a gap', () => {
    const t = new TelemetryTracker(10_000);
    const m = (v: number, a: number) =>
      decodeCanFrame({
        id: 0x356,
        extended: false,
        data: Uint8Array.of(...le16(v * 100), ...le16(a * 10), 250, 0),
      });
    t.apply(m(50, -20), 0);
    t.apply(m(50, -20), 3600); // 3.6 s at 1000 W = 1 Wh
    expect(t.values.dischargedEnergy).toBeCloseTo(1, 6);
    t.apply(m(50, 20), 3600 + 60_000); // a 60 s gap: not integrated
    expect(t.values.chargedEnergy).toBe(0);
    expect(t.values.dischargedEnergy).toBeCloseTo(1, 6);
  });

  it('reports a quantity as changed only past its threshold since it was last sent', () => {
    const t = new TelemetryTracker();
    t.apply(decodeCanFrame(parseCandump('355#58005E00')), 0);
    expect(t.changedSinceSent()).toEqual(['stateOfCharge', 'stateOfHealth']);
    t.readings('s', 0);
    expect(t.changedSinceSent()).toEqual([]);
    t.apply(decodeCanFrame(parseCandump('355#59005E00')), 1);
    expect(t.changedSinceSent()).toEqual(['stateOfCharge']);
  });
});

function le16(v: number): [number, number] {
  const raw = Math.round(v) & 0xffff;
  return [raw & 0xff, raw >> 8];
}

describe('BatteryMonitor over the in-memory bus', () => {
  it('a frame with a wrong DLC is reported as a typed error and the next good frame is used', async () => {
    const bus = new MemoryBus<CanFrame>('t');
    const bms = bus.connect('bms');
    const errors: string[] = [];
    const readings: string[] = [];
    const clock = new ManualClock(1_000);
    const monitor = new BatteryMonitor({
      deviceId: 'site-2',
      transport: bus.connect('monitor'),
      clock,
      heartbeatIntervalMs: 0,
      readingIntervalMs: 60_000,
      onDecodeError: (e) => errors.push(e.code),
      onReadings: (r) =>
        readings.push(
          ...r.map((x) => (x.quantity.source === 'battery' ? `${x.quantity.quantity}=${x.value}` : '')),
        ),
    });
    monitor.start();
    try {
      await bms.send(parseCandump('356#7A13F2')); // DLC 3
      await bms.send(parseCandump('356#7A13F2FE6B01'));
      await waitFor(() => readings.length > 0, 'readings', 15_000);
      expect(errors).toEqual(['MF_BATTERY_CAN_DLC']);
      expect(readings).toEqual(expect.arrayContaining(['voltage=49.86', 'current=-27', 'temperature=36.3']));
      expect(monitor.stats).toMatchObject({ decodeErrors: 1, framesDecoded: 1 });
    } finally {
      monitor.stop();
    }
  });

  it('a corrupt value (SOC 101 %) is rejected and the telemetry already held is left intact', async () => {
    const bus = new MemoryBus<CanFrame>('t3');
    const bms = bus.connect('bms');
    const errors: string[] = [];
    const monitor = new BatteryMonitor({
      deviceId: 'site-4',
      transport: bus.connect('m'),
      clock: new ManualClock(0),
      heartbeatIntervalMs: 0,
      onDecodeError: (e) => errors.push(e.code),
    });
    monitor.start();
    try {
      await bms.send(parseCandump('355#58005E00'));
      await waitFor(() => monitor.stats.framesDecoded === 1, 'good frame', 15_000);
      const before = monitor.snapshot();
      await bms.send(parseCandump('355#65005E00')); // SOC 101 %
      await waitFor(() => errors.length === 1, 'rejection', 15_000);
      expect(errors).toEqual(['MF_BATTERY_VALUE_RANGE']);
      expect(monitor.snapshot()).toEqual(before);
      expect(monitor.snapshot()['site-4']).toMatchObject({ stateOfCharge: 88, stateOfHealth: 94 });
      await bms.send(parseCandump('355#59005E00'));
      await waitFor(() => monitor.stats.framesDecoded === 2, 'next good frame', 15_000);
      expect(monitor.snapshot()['site-4']).toMatchObject({ stateOfCharge: 89 });
    } finally {
      monitor.stop();
    }
  });

  it('link loss follows the injected clock: raised after linkTimeoutMs without frames, cleared by the next frame', async () => {
    const bus = new MemoryBus<CanFrame>('t2');
    const bms = bus.connect('bms');
    const events: DeviceEvent[] = [];
    const clock = new ManualClock(0);
    const monitor = new BatteryMonitor({
      deviceId: 'site-3',
      transport: bus.connect('m'),
      clock,
      linkTimeoutMs: 200,
      heartbeatIntervalMs: 0,
      onEvent: (e) => events.push(e),
    });
    monitor.start();
    try {
      await bms.send(parseCandump('355#58005E00'));
      await waitFor(() => monitor.stats.framesDecoded === 1, 'first frame', 15_000);
      clock.advance(150);
      await new Promise((r) => setTimeout(r, 120));
      expect(events).toEqual([]);
      clock.advance(100);
      await waitFor(() => events.length === 1, 'link lost', 15_000);
      await bms.send(parseCandump('355#58005E00'));
      await waitFor(() => events.length === 2, 'link back', 15_000);
      expect(events.map((e) => `${e.key}:${e.phase}`)).toEqual([
        'battery.linkLost:raised',
        'battery.linkLost:cleared',
      ]);
    } finally {
      monitor.stop();
    }
  });
});

describe('SocketCAN is optional', () => {
  it('a missing socketcan package is MF_BATTERY_SOCKETCAN_UNAVAILABLE with advice', async () => {
    const missing = () => Promise.reject(new Error("Cannot find package 'socketcan'"));
    await expect(openSocketCan('can0', missing)).rejects.toMatchObject({
      code: 'MF_BATTERY_SOCKETCAN_UNAVAILABLE',
      message: expect.stringContaining('CAN-over-TCP gateway'),
    });
  });

  it('on this machine (no vcan), opening an interface fails with a typed error, never a crash', async () => {
    await expect(openSocketCan('vcan0')).rejects.toMatchObject({
      code: expect.stringMatching(/^MF_BATTERY_(SOCKETCAN_UNAVAILABLE|TRANSPORT_CONNECT)$/),
    });
  });
});
