import { describe, expect, it } from 'vitest';
import { type AckHold, ActorLanes } from '../../actors/host/actor-lanes.js';
import type { ActorAddress, ServicePorts } from '../../actors/host/service-ports.js';

/**
 * ActorLanes' acknowledgement hold (actors/host/actor-lanes.ts): an acknowledgement rides on
 * the actor's next call; it gets a call of its own only past a bound (per actor: count, bytes,
 * age; over all actors: bytes) or when asked for all; a delivery's `tailAck` puts an entry's
 * acknowledgement in the call carrying that delivery. The ports record each call and answer
 * at once: what is under test is which acknowledgements each call carries.
 */

type Call = { id: string; commands: unknown[]; ack: number[] };

class RecordingPorts implements ServicePorts {
  readonly calls: Call[] = [];
  deliver: ServicePorts['deliver'] = async (address, command) => {
    this.calls.push({
      id: `${address.service}/${address.key}`,
      commands: command.deliveries.flatMap((d) => d.commands),
      ack: command.ack ?? [],
    });
    return [];
  };
  outbox: ServicePorts['outbox'] = async () => [];
  state: ServicePorts['state'] = async () => {
    throw new Error('not used');
  };
}

const device: ActorAddress = { service: 'device', key: 'h/c1' };
const worker: ActorAddress = { service: 'worker', key: 'loadprofile' };

function lanesOver(
  hold: Partial<AckHold> = {},
  holdsAcks?: (a: ActorAddress) => boolean,
): { ports: RecordingPorts; lanes: ActorLanes; clock: { nowMs: number } } {
  const ports = new RecordingPorts();
  const clock = { nowMs: 0 };
  const lanes = new ActorLanes({
    ports,
    now: () => clock.nowMs,
    onEntry: () => undefined,
    onError: (err) => {
      throw err;
    },
    ackHold: hold,
    ...(holdsAcks ? { holdsAcks } : {}),
  });
  return { ports, lanes, clock };
}

describe('ActorLanes acknowledgement hold', () => {
  it('an acknowledgement within the bounds waits for the actor’s next call and rides on it', async () => {
    const { ports, lanes } = lanesOver();
    lanes.ack(device, 7, 100);
    expect(lanes.flushAcks('bounded')).toBe(false);
    await lanes.idle();
    expect(ports.calls).toEqual([]);
    expect(lanes.heldAcks).toEqual({ entries: 1, bytes: 100 });
    lanes.post(device, { from: 'worker/x', seq: 1, commands: ['request'] });
    await lanes.idle();
    expect(ports.calls).toEqual([{ id: 'device/h/c1', commands: ['request'], ack: [7] }]);
    expect(lanes.heldAcks).toEqual({ entries: 0, bytes: 0 });
  });

  it('past the count or bytes bound the acknowledgements get a call of their own at once', async () => {
    const { ports, lanes } = lanesOver({ maxEntries: 3, maxBytes: 1_000 });
    lanes.ack(device, 1);
    lanes.ack(device, 2);
    expect(ports.calls).toHaveLength(0);
    lanes.ack(device, 3);
    await lanes.idle();
    expect(ports.calls).toEqual([{ id: 'device/h/c1', commands: [], ack: [1, 2, 3] }]);
    lanes.ack(worker, 4, 600);
    lanes.ack(worker, 5, 400);
    await lanes.idle();
    expect(ports.calls.at(-1)).toEqual({ id: 'worker/loadprofile', commands: [], ack: [4, 5] });
  });

  it('a bounded flush sends those held longer than the age bound, and the oldest while the total is over its bound', async () => {
    const { ports, lanes, clock } = lanesOver({ maxAgeMs: 3_600_000, maxTotalBytes: 1_000 });
    lanes.ack(device, 1, 100);
    clock.nowMs = 1_800_000;
    lanes.ack(worker, 2, 100);
    clock.nowMs = 3_600_000;
    expect(lanes.flushAcks('bounded')).toBe(true);
    await lanes.idle();
    // The device's held for an hour; the worker's for half an hour stays.
    expect(ports.calls).toEqual([{ id: 'device/h/c1', commands: [], ack: [1] }]);
    const other: ActorAddress = { service: 'tlog-manager', key: 'h/tlog-1' };
    lanes.ack(other, 3, 950);
    // 1,050 bytes held in total: the oldest (the worker's) goes until it is under 1,000.
    expect(lanes.flushAcks('bounded')).toBe(true);
    await lanes.idle();
    expect(ports.calls.slice(1)).toEqual([{ id: 'worker/loadprofile', commands: [], ack: [2] }]);
    expect(lanes.heldAcks).toEqual({ entries: 1, bytes: 950 });
    expect(lanes.flushAcks('all')).toBe(true);
    await lanes.idle();
    expect(ports.calls.at(-1)).toEqual({ id: 'tlog-manager/h/tlog-1', commands: [], ack: [3] });
    expect(lanes.flushAcks('all')).toBe(false);
  });

  it('an actor that may not hold gets its acknowledgements at the next bounded flush', async () => {
    const { ports, lanes } = lanesOver({}, (a) => a.service !== 'work-manager');
    const workManager: ActorAddress = { service: 'work-manager', key: 'h' };
    lanes.ack(workManager, 9);
    lanes.ack(device, 1);
    lanes.flushAcks('bounded');
    await lanes.idle();
    expect(ports.calls).toEqual([{ id: 'work-manager/h', commands: [], ack: [9] }]);
  });

  it('a delivery’s tailAck, asked as its call starts, puts that entry’s acknowledgement in the same call', async () => {
    const { ports, lanes } = lanesOver();
    let asked = 0;
    lanes.post(device, { from: 'field', seq: 5000, commands: ['fieldResponse'] }, undefined, () => {
      asked++;
      return 5;
    });
    lanes.post(device, { from: 'field', seq: 6000, commands: ['fieldResponse'] }, undefined, () => undefined);
    await lanes.idle();
    expect(asked).toBe(1);
    // The first call started at once; the second answer went in the next call, acknowledging nothing.
    expect(ports.calls).toEqual([
      { id: 'device/h/c1', commands: ['fieldResponse'], ack: [5] },
      { id: 'device/h/c1', commands: ['fieldResponse'], ack: [] },
    ]);
  });
});
