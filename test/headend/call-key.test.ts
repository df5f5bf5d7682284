import { describe, expect, it } from 'vitest';
import { ActorLanes, callKey } from '../../actors/host/actor-lanes.js';
import type { ServicePorts } from '../../actors/host/service-ports.js';
import type { Delivery } from '../../actors/hosting/outbox.js';

/**
 * The driver's idempotency keys and delivery sizes (actors/host/actor-lanes.ts), which it
 * now derives without stringifying what a source's delivery carries.
 */
describe('call keys and delivery sizes (actor-lanes)', () => {
  const fromSource = (seq: number, commands: unknown[]): Delivery<unknown> => ({
    from: 'tlog-manager/it/tlog-0',
    seq,
    commands,
  });

  it("names a source's delivery by (source, seq): the same call repeated by another driver gets the same key", () => {
    const a = callKey([fromSource(5000, [{ type: 'route', records: [1, 2] }])], [3], false, 1_000);
    const again = callKey([fromSource(5000, [{ type: 'route', records: [1, 2] }])], [3], false, 1_000);
    expect(again).toBe(a);
    // What causes a different call gives a different key: another seq, source, ack, tick or instant.
    const others = [
      callKey([fromSource(5001, [])], [3], false, 1_000),
      callKey([{ ...fromSource(5000, []), from: 'device/it/TD-1' }], [3], false, 1_000),
      callKey([fromSource(5000, [])], [4], false, 1_000),
      callKey([fromSource(5000, [])], [3], true, 1_000),
      callKey([fromSource(5000, [])], [3], false, 2_000),
      callKey([fromSource(5000, []), fromSource(5001, [])], [3], false, 1_000),
    ];
    expect(new Set([a, ...others]).size).toBe(others.length + 1);
  });

  it("hashes the driver's own posts (no source) whole: two different registry commands never share a key", () => {
    const upsert = (serial: string): Delivery<unknown> => ({ commands: [{ type: 'upsertMeter', serial }] });
    expect(callKey([upsert('M1')], [], false, 1_000)).not.toBe(callKey([upsert('M2')], [], false, 1_000));
    expect(callKey([upsert('M1')], [], false, 1_000)).toBe(callKey([upsert('M1')], [], false, 1_000));
  });

  it("counts a delivery's JSON bytes the same whether the caller measured its commands or not", () => {
    const ports: ServicePorts = {
      deliver: async () => [],
      outbox: async () => [],
      state: async () => {
        throw new Error('not used');
      },
    };
    const lanes = new ActorLanes({ ports, now: () => 0, onEntry: () => undefined, onError: () => undefined });
    const address = { service: 'integration', key: 'it' } as const;
    const commands = [{ type: 'append', routed: [{ a: 1 }, { b: 'x"y' }] }, { type: 'tick' }];
    const measured = commands.reduce((sum, c) => sum + JSON.stringify(c).length, 0);
    const delivery = fromSource(7000, commands);
    expect(lanes.post(address, delivery, undefined, undefined, measured)).toBe(
      JSON.stringify(delivery).length,
    );
    expect(lanes.post(address, delivery)).toBe(JSON.stringify(delivery).length);
  });
});
