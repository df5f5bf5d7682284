import { describe, expect, it } from 'vitest';
import { RoutingFlowControl } from '../../adapters/knx/routing-flow.js';

describe('RoutingFlowControl (reference §1.6)', () => {
  it('paces sends to at most maxPerSecond (50/s -> 20 ms apart)', () => {
    const flow = new RoutingFlowControl({ maxPerSecond: 50 });
    expect(flow.nextSendAtMs(0)).toBe(0);
    flow.sent(0);
    expect(flow.nextSendAtMs(5)).toBe(20);
    flow.sent(20);
    expect(flow.nextSendAtMs(20)).toBe(40);
  });

  it('ROUTING_BUSY pauses for wait_time plus rand x N x 50 ms', () => {
    const flow = new RoutingFlowControl({ random: () => 1 });
    flow.onBusy(100, 1000);
    expect(flow.busyCounter).toBe(1);
    expect(flow.nextSendAtMs(1000)).toBe(1000 + 100 + 50);
  });

  it('keeps the longest running wait', () => {
    const flow = new RoutingFlowControl({ random: () => 0 });
    flow.onBusy(100, 1000);
    flow.onBusy(20, 1050);
    expect(flow.nextSendAtMs(1050)).toBe(1100);
  });

  it('counts busy frames only when at least 10 ms apart', () => {
    const flow = new RoutingFlowControl({ random: () => 0 });
    flow.onBusy(20, 1000);
    flow.onBusy(20, 1005);
    expect(flow.busyCounter).toBe(1);
    flow.onBusy(20, 1010);
    expect(flow.busyCounter).toBe(2);
  });

  it('keeps N for N x 100 ms after resuming, then decrements it every 5 ms', () => {
    const flow = new RoutingFlowControl({ random: () => 0 });
    flow.onBusy(20, 1000);
    flow.onBusy(20, 1010); // N = 2, paused until 1030, decay starts at 1230
    expect(flow.busyCounter).toBe(2);
    flow.nextSendAtMs(1229);
    expect(flow.busyCounter).toBe(2);
    flow.nextSendAtMs(1235);
    expect(flow.busyCounter).toBe(1);
    flow.nextSendAtMs(1240);
    expect(flow.busyCounter).toBe(0);
  });
});
