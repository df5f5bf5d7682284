import { describe, expect, it } from 'vitest';
import { ActorLanes, fanInActors } from '../../actors/host/actor-lanes.js';
import type { ActorAddress, ServicePorts } from '../../actors/host/service-ports.js';
import type { Delivery } from '../../actors/hosting/outbox.js';

/**
 * The lanes' waves (actors/host/actor-lanes.ts): a fan-in actor fed by the results of calls
 * running at the same time gets what they send it in one call, not one call for the first
 * result and another for the rest. The ports here are scripted (each call returns when the
 * test opens its gate) because what is under test is the order and grouping of calls.
 */

type Call = { id: string; deliveries: Delivery<unknown>[]; ack: number[] };

class GatedPorts implements ServicePorts {
  readonly calls: Call[] = [];
  private readonly gates = new Map<string, (() => void)[]>();
  private nextEntry = 1;

  /** Returns every call to `id` waiting at its gate. */
  open(id: string): void {
    for (const go of this.gates.get(id) ?? []) go();
    this.gates.delete(id);
  }

  waitingAt(id: string): number {
    return this.gates.get(id)?.length ?? 0;
  }

  deliver: ServicePorts['deliver'] = async (address, command) => {
    const id = `${address.service}/${address.key}`;
    this.calls.push({ id, deliveries: command.deliveries, ack: command.ack ?? [] });
    await new Promise<void>((go) => this.gates.set(id, [...(this.gates.get(id) ?? []), go]));
    return [{ id: this.nextEntry++, effects: [] }] as never;
  };
  outbox: ServicePorts['outbox'] = async () => [];
  state: ServicePorts['state'] = async () => {
    throw new Error('not used');
  };
}

const device = (n: number): ActorAddress => ({ service: 'device', key: `h/c${n}` });
const worker: ActorAddress = { service: 'worker', key: 'loadprofile' };
const flush = () => new Promise((r) => setTimeout(r, 0));

function lanesOver(ports: GatedPorts, waves: boolean) {
  const lanes: ActorLanes = new ActorLanes({
    ports,
    now: () => 0,
    // Each device's result goes on to the worker, as the driver routes a device's entry.
    onEntry: (address) => {
      if (address.service === 'device')
        lanes.post(worker, { from: `device/${address.key}`, seq: 1, commands: [address.key] });
    },
    onError: (err) => {
      throw err;
    },
    ...(waves ? { holdsForWave: fanInActors } : {}),
  });
  return lanes;
}

describe('ActorLanes waves', () => {
  it('gives a fan-in actor the results of calls running together in one call', async () => {
    const ports = new GatedPorts();
    const lanes = lanesOver(ports, true);
    for (const n of [1, 2, 3]) lanes.post(device(n), { commands: ['request'] });
    await flush();
    ports.open('device/h/c1');
    await flush();
    // c1's result arrived while c2 and c3 still run: the worker waits for them.
    expect(ports.calls.filter((c) => c.id === 'worker/loadprofile')).toHaveLength(0);
    ports.open('device/h/c3');
    await flush();
    expect(ports.calls.filter((c) => c.id === 'worker/loadprofile')).toHaveLength(0);
    ports.open('device/h/c2');
    await flush();
    const workerCalls = ports.calls.filter((c) => c.id === 'worker/loadprofile');
    expect(workerCalls).toHaveLength(1);
    // In the order the results arrived.
    expect(workerCalls[0]!.deliveries.map((d) => d.commands[0])).toEqual(['h/c1', 'h/c3', 'h/c2']);
    ports.open('worker/loadprofile');
    await lanes.idle();
    expect(lanes.busy).toBe(false);
  });

  it('without waves the first result takes a call of its own (what waves save)', async () => {
    const ports = new GatedPorts();
    const lanes = lanesOver(ports, false);
    for (const n of [1, 2, 3]) lanes.post(device(n), { commands: ['request'] });
    await flush();
    ports.open('device/h/c1');
    await flush();
    ports.open('device/h/c2');
    ports.open('device/h/c3');
    await flush();
    ports.open('worker/loadprofile');
    await flush();
    ports.open('worker/loadprofile');
    await lanes.idle();
    const workerCalls = ports.calls.filter((c) => c.id === 'worker/loadprofile');
    expect(workerCalls.map((c) => c.deliveries.map((d) => d.commands[0]))).toEqual([
      ['h/c1'],
      ['h/c2', 'h/c3'],
    ]);
  });

  it("does not hold the driver's own posts, and a call started after a lane began waiting does not hold it", async () => {
    const ports = new GatedPorts();
    const lanes = lanesOver(ports, true);
    lanes.post(device(1), { commands: ['request'] });
    lanes.post(device(2), { commands: ['request'] });
    await flush();
    // The driver's own post (a tick, a registry change) goes at once despite the calls in flight.
    lanes.post({ service: 'jobs-manager', key: 'h' }, { commands: ['submit'] });
    await flush();
    expect(ports.waitingAt('jobs-manager/h')).toBe(1);
    ports.open('device/h/c1'); // the worker now waits for c2 (and the jobs manager's call)
    await flush();
    lanes.post(device(3), { commands: ['request'] }); // started later: not part of the wave
    await flush();
    ports.open('jobs-manager/h');
    ports.open('device/h/c2');
    await flush();
    // The worker runs while c3 is still in flight: c3 is not in its wave.
    expect(ports.waitingAt('device/h/c3')).toBe(1);
    expect(ports.waitingAt('worker/loadprofile')).toBe(1);
    expect(ports.calls.at(-1)!.deliveries.map((d) => d.commands[0])).toEqual(['h/c1', 'h/c2']);
    ports.open('worker/loadprofile');
    ports.open('device/h/c3');
    await flush();
    ports.open('worker/loadprofile');
    await lanes.idle();
    expect(ports.calls.filter((c) => c.id === 'worker/loadprofile').map((c) => c.deliveries.length)).toEqual([
      2, 1,
    ]);
  });

  it('never runs two calls to one actor at once, and keeps its deliveries in order', async () => {
    const ports = new GatedPorts();
    const lanes = lanesOver(ports, true);
    const actor: ActorAddress = { service: 'integration', key: 'h' };
    lanes.post(actor, { commands: [1] });
    await flush();
    lanes.post(actor, { commands: [2] });
    lanes.post(actor, { commands: [3] });
    await flush();
    expect(ports.waitingAt('integration/h')).toBe(1);
    ports.open('integration/h');
    await flush();
    expect(ports.waitingAt('integration/h')).toBe(1);
    ports.open('integration/h');
    await lanes.idle();
    expect(ports.calls.map((c) => c.deliveries.flatMap((d) => d.commands))).toEqual([[1], [2, 3]]);
  });
});
