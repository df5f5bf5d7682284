import { describe, expect, it } from 'vitest';
import { ActorLanes } from '../../actors/host/actor-lanes.js';
import type { ActorAddress, ServicePorts } from '../../actors/host/service-ports.js';
import type { Delivery } from '../../actors/hosting/outbox.js';

/**
 * ActorLanes' prepared deliveries (issue 7's one device write: the device's plan read and the
 * field exchange run in `prepare`, then the delivery carries request and answer). A device's
 * lane is held from its prepare to the call that commits the delivery: a second prepared
 * delivery for the same device waits for that call, never runs beside it; another device's
 * runs at the same time. Scripted ports (each call returns when the test opens its gate).
 */

class GatedPorts implements ServicePorts {
  readonly calls: { id: string; deliveries: Delivery<unknown>[] }[] = [];
  private readonly gates = new Map<string, (() => void)[]>();

  open(id: string): void {
    for (const go of this.gates.get(id) ?? []) go();
    this.gates.delete(id);
  }

  deliver: ServicePorts['deliver'] = async (address, command) => {
    const id = `${address.service}/${address.key}`;
    this.calls.push({ id, deliveries: structuredClone(command.deliveries) });
    await new Promise<void>((go) => this.gates.set(id, [...(this.gates.get(id) ?? []), go]));
    return [];
  };
  outbox: ServicePorts['outbox'] = async () => [];
  state: ServicePorts['state'] = async () => {
    throw new Error('not used');
  };
}

const c1: ActorAddress = { service: 'device', key: 'h/c1' };
const c2: ActorAddress = { service: 'device', key: 'h/c2' };
const flush = () => new Promise((r) => setTimeout(r, 0));

/** A prepare that logs its start and end and finishes when the test calls `finish`. */
function gatedPrepare(log: string[], name: string, delivery: Delivery<unknown>) {
  let finish: () => void = () => undefined;
  const done = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const prepare = async () => {
    log.push(`${name} prepare`);
    await done;
    delivery.commands.push(`${name} answer`);
    log.push(`${name} prepared`);
  };
  return { prepare, finish: () => finish() };
}

describe('ActorLanes: prepared deliveries hold their lane', () => {
  it("a second prepare for a device waits until the first one's call has committed; another device's runs meanwhile; deliveries keep their order", async () => {
    const ports = new GatedPorts();
    const log: string[] = [];
    const lanes = new ActorLanes({
      ports,
      now: () => 0,
      onEntry: () => undefined,
      onError: (err) => {
        throw err;
      },
    });
    const d1: Delivery<unknown> = { from: 'worker/w', seq: 1000, commands: ['request 1'] };
    const d2: Delivery<unknown> = { from: 'worker/w', seq: 2000, commands: ['request 2'] };
    const d3: Delivery<unknown> = { from: 'worker/w', seq: 1000, commands: ['request 3'] };
    const p1 = gatedPrepare(log, 'p1', d1);
    const p2 = gatedPrepare(log, 'p2', d2);
    const p3 = gatedPrepare(log, 'p3', d3);
    const committed: string[] = [];
    lanes.postPrepared(c1, d1, p1.prepare, () => committed.push('d1'));
    // A plain delivery queued behind the first prepared one (e.g. the registry's setMeters).
    lanes.post(c1, { from: 'registry/h', seq: 1, commands: ['setMeters'] }, () => committed.push('plain'));
    lanes.postPrepared(c1, d2, p2.prepare, () => committed.push('d2'));
    lanes.postPrepared(c2, d3, p3.prepare, () => committed.push('d3'));
    await flush();
    // c1's first and c2's prepares run at once; c1's second waits; no call has started.
    expect(log).toEqual(['p1 prepare', 'p3 prepare']);
    expect(lanes.preparingLanes).toBe(2);
    expect(ports.calls).toEqual([]);
    expect(lanes.busy).toBe(true);

    p1.finish();
    await flush();
    // c1's call: the prepared delivery with its answer, then the plain one queued behind it;
    // the second prepared delivery is not in it, and its prepare has not started.
    expect(ports.calls).toEqual([
      {
        id: 'device/h/c1',
        deliveries: [
          { from: 'worker/w', seq: 1000, commands: ['request 1', 'p1 answer'] },
          { from: 'registry/h', seq: 1, commands: ['setMeters'] },
        ],
      },
    ]);
    expect(log).not.toContain('p2 prepare');

    ports.open('device/h/c1');
    await flush();
    await flush();
    expect(committed).toEqual(['d1', 'plain']);
    expect(log).toContain('p2 prepare');

    p2.finish();
    p3.finish();
    await flush();
    ports.open('device/h/c1');
    ports.open('device/h/c2');
    await lanes.idle();
    expect(committed.sort()).toEqual(['d1', 'd2', 'd3', 'plain']);
    expect(ports.calls.map((c) => c.id)).toEqual(['device/h/c1', 'device/h/c1', 'device/h/c2']);
    // Never two prepares of c1 at once: p2 began after p1 had ended.
    expect(log.indexOf('p2 prepare')).toBeGreaterThan(log.indexOf('p1 prepared'));
  });

  it('a failed prepare is reported and its delivery dropped; the lane goes on with what queued behind it', async () => {
    const ports = new GatedPorts();
    const errors: unknown[] = [];
    const lanes = new ActorLanes({
      ports,
      now: () => 0,
      onEntry: () => undefined,
      onError: (e) => errors.push(e),
    });
    lanes.postPrepared(c1, { from: 'worker/w', seq: 1000, commands: ['request'] }, async () => {
      throw new Error('plan read failed');
    });
    lanes.post(c1, { from: 'registry/h', seq: 1, commands: ['setMeters'] });
    await flush();
    await flush();
    expect((errors[0] as Error).message).toBe('plan read failed');
    expect(ports.calls.map((c) => c.deliveries)).toEqual([
      [{ from: 'registry/h', seq: 1, commands: ['setMeters'] }],
    ]);
    ports.open('device/h/c1');
    await lanes.idle();
  });

  it('a device lane waiting for a call slot with acknowledgements alone, then given a prepared delivery, prepares it once', async () => {
    const ports = new GatedPorts();
    const lanes = new ActorLanes({
      ports,
      now: () => 0,
      onEntry: () => undefined,
      onError: (err) => {
        throw err;
      },
      maxConcurrentCalls: 1,
    });
    // The one call slot is taken by c2's call.
    lanes.post(c2, { from: 'registry/h', seq: 1, commands: ['setMeters'] });
    await flush();
    // c1's acknowledgements sent alone: the lane waits for the slot.
    lanes.ack(c1, 7);
    lanes.flushAcks('all');
    let prepares = 0;
    const d1: Delivery<unknown> = { from: 'worker/w', seq: 1000, commands: ['request'] };
    lanes.postPrepared(c1, d1, async () => {
      prepares++;
      await flush();
      d1.commands.push('answer');
    });
    ports.open('device/h/c2');
    await flush();
    await flush();
    ports.open('device/h/c1');
    await flush();
    ports.open('device/h/c1');
    await lanes.idle();
    expect(prepares).toBe(1);
    const c1Calls = ports.calls.filter((c) => c.id === 'device/h/c1');
    expect(c1Calls.flatMap((c) => c.deliveries)).toEqual([
      { from: 'worker/w', seq: 1000, commands: ['request', 'answer'] },
    ]);
  });
});
