import { describe, expect, it } from 'vitest';
import type { FieldLink } from '../../actors/device/field.js';
import { type CanFrame, parseCandump } from '../../adapters/battery/can/frame.js';
import { BatteryFieldLink } from '../../adapters/battery/monitor/field-link.js';
import { BatteryMonitor } from '../../adapters/battery/monitor/monitor.js';
import { quantityUnits } from '../../adapters/battery/monitor/telemetry.js';
import { MemoryBus } from '../../adapters/battery/transport/memory.js';
import { eventTypeFor } from '../../adapters/cim/event-type-map.js';
import { readingTypeFor } from '../../adapters/cim/reading-type-map.js';
import type { DeviceEventKey } from '../../adapters/field-data.js';
import { ManualClock } from '../../core/clock.js';
import { waitFor } from '../support/wait.js';

describe('the battery seam fits the head-end', () => {
  it('every battery quantity the monitor emits has a CIM ReadingType in the one mapping table', () => {
    for (const quantity of Object.keys(quantityUnits) as (keyof typeof quantityUnits)[]) {
      const kind =
        quantity === 'chargedEnergy' || quantity === 'dischargedEnergy' ? 'register' : 'instantaneous';
      expect(() => readingTypeFor({ source: 'battery', quantity }, kind), quantity).not.toThrow();
    }
  });

  it('every battery event key the monitor raises has raised and cleared EndDeviceEventType codes', () => {
    const keys: DeviceEventKey[] = [
      'battery.overTemperature',
      'battery.underTemperature',
      'battery.overCurrent',
      'battery.overVoltage',
      'battery.underVoltage',
      'battery.forcedChargeRequest',
      'battery.fullChargeRequest',
      'battery.linkLost',
      'battery.alarm',
    ];
    for (const key of keys) {
      expect(eventTypeFor(key, 'raised'), key).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
      expect(eventTypeFor(key, 'cleared'), key).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    }
  });

  it('BatteryFieldLink is a FieldLink: register requests get the latest readings, events are handed over once', async () => {
    const bus = new MemoryBus<CanFrame>('seam');
    const bms = bus.connect('bms');
    const wired = new BatteryMonitor({
      deviceId: 'site-9',
      transport: bus.connect('m'),
      clock: new ManualClock(5),
      heartbeatIntervalMs: 0,
    });
    const link = new BatteryFieldLink(wired);
    const asFieldLink: FieldLink = link; // compile-time check that the shapes match
    wired.start();
    try {
      for (const f of ['355#58005E00', '356#7A13F2FE6B01', '359#0800000001504E'])
        await bms.send(parseCandump(f));
      await waitFor(() => wired.stats.framesDecoded === 3, 'frames', 15_000);
      const first = await asFieldLink.execute({ type: 'register', meters: ['site-9'] });
      expect(
        first.readings.map((r) => (r.quantity.source === 'battery' ? r.quantity.quantity : '')).sort(),
      ).toEqual([
        'chargedEnergy',
        'current',
        'dischargedEnergy',
        'stateOfCharge',
        'stateOfHealth',
        'temperature',
        'voltage',
      ]);
      expect(first.events.map((e) => `${e.key}:${e.phase}`)).toEqual(['battery.overTemperature:raised']);
      const second = await asFieldLink.execute({ type: 'register', meters: ['site-9'] });
      expect(second.events).toEqual([]);
      const control = await asFieldLink.execute({
        type: 'control',
        action: 'disconnect',
        meters: ['site-9'],
        operationId: 'op1',
      });
      expect(control.controlResults).toEqual([
        {
          meterSerial: 'site-9',
          action: 'disconnect',
          ok: false,
          detail: 'battery sites do not accept control actions',
        },
      ]);
    } finally {
      link.close();
      wired.stop();
    }
  });
});
