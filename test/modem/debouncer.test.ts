import { describe, expect, it } from 'vitest';
import type { DeviceEvent } from '../../adapters/field-data.js';
import { NotificationDebouncer } from '../../adapters/modem/notifications/debouncer.js';

const imei = '490154203237518';
const ev = (key: DeviceEvent['key'], t: number, details?: Record<string, string>): DeviceEvent => ({
  deviceId: imei,
  deviceKind: 'modem',
  key,
  phase: 'occurred',
  timestampMs: t,
  ...(details ? { details } : {}),
});

describe('notification debouncer', () => {
  it('holds an event for the window, then releases it once', () => {
    const d = new NotificationDebouncer({ windowMs: 1000, maxTrackedModems: 10 });
    d.push(ev('modem.disconnected', 0));
    expect(d.due(999)).toEqual([]);
    expect(d.due(1000)).toEqual([ev('modem.disconnected', 0)]);
    expect(d.due(5000)).toEqual([]);
  });

  it('a modem flapping 50 times within a window produces nothing when it ends where it started', () => {
    const d = new NotificationDebouncer({ windowMs: 1000, maxTrackedModems: 10 });
    for (let i = 0; i < 50; i++) {
      d.push(ev('modem.disconnected', i * 10));
      d.push(ev('modem.reconnected', i * 10 + 5));
    }
    expect(d.due(2000)).toEqual([]);
    expect(d.suppressed).toBeGreaterThanOrEqual(99);
  });

  it('a flapping modem that ends offline produces exactly one disconnect', () => {
    const d = new NotificationDebouncer({ windowMs: 1000, maxTrackedModems: 10 });
    for (let i = 0; i < 10; i++) {
      d.push(ev('modem.disconnected', i * 10));
      if (i < 9) d.push(ev('modem.reconnected', i * 10 + 5));
    }
    const out = d.due(2000);
    expect(out.map((e) => e.key)).toEqual(['modem.disconnected']);
  });

  it('collapses GPI moves to one change from the first to the last state', () => {
    const d = new NotificationDebouncer({ windowMs: 1000, maxTrackedModems: 10 });
    d.push(ev('modem.gpiChanged', 0, { from: '00', to: '10' }));
    d.push(ev('modem.gpiChanged', 10, { from: '10', to: '11' }));
    d.push(ev('modem.gpiChanged', 20, { from: '11', to: '01' }));
    expect(d.due(1000).map((e) => e.details)).toEqual([{ from: '00', to: '01' }]);
    d.push(ev('modem.gpiChanged', 2000, { from: '01', to: '11' }));
    d.push(ev('modem.gpiChanged', 2010, { from: '11', to: '01' }));
    expect(d.due(4000)).toEqual([]);
  });

  it('keeps windows apart by event time even when due() runs late (busy event loop)', () => {
    const d = new NotificationDebouncer({ windowMs: 1000, maxTrackedModems: 10 });
    d.push(ev('modem.disconnected', 0));
    d.push(ev('modem.reconnected', 1500));
    expect(d.due(1600).map((e) => e.key)).toEqual(['modem.disconnected']);
    expect(d.due(2500).map((e) => e.key)).toEqual(['modem.reconnected']);
  });

  it('bounds the number of modems it tracks', () => {
    const d = new NotificationDebouncer({ windowMs: 1000, maxTrackedModems: 2 });
    for (let i = 0; i < 5; i++) d.push({ ...ev('modem.disconnected', 0), deviceId: String(i) });
    expect(d.pendingCount).toBe(2);
    expect(d.dropped).toBe(3);
  });
});
