import { describe, expect, it } from 'vitest';
import { commandActor } from '../../actors/hosting/command-actor.js';
import { hostMachine } from '../../actors/hosting/outbox.js';
import type { CollectedReading } from '../../adapters/field-data.js';
import type { AnyActorBehaviour } from '../../cluster/actors/actor-definition.js';
import { decodeEnvelope, type Envelope, encodeEnvelope } from '../../cluster/actors/actor-envelope.js';
import { type ActivePartition, createSpawnOptions, type TurnDeps } from '../../cluster/actors/actor-turn.js';
import { MAX_STATE_VALUE_BYTES } from '../../cluster/replicator/state-ops.js';
import { ManualClock } from '../../core/clock.js';
import { isMeterfabricError } from '../../core/errors.js';
import { silentLogger } from '../../core/logger.js';

/**
 * Snapshots of hosted head-end actors hold the state packed (issue 7): a plain state with a
 * few unacknowledged outbox entries of readings passed the replicator's 4 MiB value limit.
 */
type Cmd = { type: 'collect'; meters: number; readings: number };
const t0 = Date.UTC(2026, 10, 24);
const machine = hostMachine<{ collected: number }, Cmd, { type: 'completed'; readings: CollectedReading[] }>({
  initialState: () => ({ collected: 0 }),
  apply(state, c) {
    const readings: CollectedReading[] = [];
    for (let m = 0; m < c.meters; m++)
      for (let i = 0; i < c.readings; i++)
        readings.push({
          meterSerial: `TD-${String(100_000 + m)}`,
          usagePoint: `IT001E${String(100_000 + m)}`,
          kind: 'interval',
          quantity: { source: 'profile', quantity: 'activeImportInterval' },
          value: Math.round(((m * 31 + i * 17) % 997) * 1.25 * 1000) / 1000,
          unit: 'Wh',
          timestampMs: t0 + i * 900_000,
          intervalSeconds: 900,
        });
    state.collected += readings.length;
    return { state, effects: [{ type: 'completed', readings }] };
  },
});
const hosted: AnyActorBehaviour = commandActor(machine, { inPlace: true });
const wire = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;

function liveWithOutbox(entries: number, meters: number): Envelope {
  let user: unknown = hosted.initialState('c1');
  for (let seq = 1; seq <= entries; seq++) {
    const call = {
      command: {
        type: 'deliver',
        deliveries: [{ from: 'w', seq, commands: [{ type: 'collect', meters, readings: 96 }] }],
      },
      atMs: t0,
    };
    const decision = hosted.handle(user, 'command', call, { key: 'c1', nowMs: t0 });
    user = hosted.apply(user, decision.event);
  }
  return { user, recent: new Map([['k1', { entries: [1] }]]) };
}

describe('hosted actor snapshots', () => {
  it('hold the state packed: four unacknowledged entries of 20,000 readings each fit the 4 MiB value limit, and load back JSON-equal', () => {
    const live = liveWithOutbox(4, 210);
    const plainBytes = JSON.stringify(encodeEnvelope(live)).length;
    const packed = encodeEnvelope(live, hosted);
    const packedBytes = JSON.stringify(packed).length;
    expect(packed.s).toBe(1);
    expect(plainBytes).toBeGreaterThan(MAX_STATE_VALUE_BYTES);
    expect(packedBytes).toBeLessThan(MAX_STATE_VALUE_BYTES / 8);
    const loaded = decodeEnvelope(wire(packed), hosted);
    expect(loaded.user).toStrictEqual(wire(live.user));
    expect([...(loaded.recent ?? [])]).toEqual([['k1', { entries: [1] }]]);
  });

  it('a snapshot written before (the plain state) still loads, and the next call decides the same on both', () => {
    const live = liveWithOutbox(2, 3);
    const fromOld = decodeEnvelope(wire(encodeEnvelope(live)), hosted);
    const fromNew = decodeEnvelope(wire(encodeEnvelope(live, hosted)), hosted);
    expect(fromOld.user).toStrictEqual(fromNew.user);
    const next = {
      command: {
        type: 'deliver',
        deliveries: [{ from: 'w', seq: 3, commands: [{ type: 'collect', meters: 2, readings: 4 }] }],
        ack: [1],
      },
      atMs: t0,
    };
    const a = hosted.handle(fromOld.user, 'command', next, { key: 'c1', nowMs: t0 });
    const b = hosted.handle(fromNew.user, 'command', next, { key: 'c1', nowMs: t0 });
    expect(wire(a.result)).toStrictEqual(wire(b.result));
    expect(wire(fromOld.user)).toStrictEqual(wire(fromNew.user));
  });

  it('a packed snapshot given to a behaviour that cannot read it is refused with MF_SNAPSHOT_FORM', () => {
    const plainBehaviour: AnyActorBehaviour = {
      ...hosted,
      snapshotOf: undefined,
      stateFromSnapshot: undefined,
    };
    const packed = wire(encodeEnvelope(liveWithOutbox(1, 2), hosted));
    let code: string | undefined;
    try {
      decodeEnvelope(packed, plainBehaviour);
    } catch (err) {
      code = isMeterfabricError(err) ? err.code : String(err);
    }
    expect(code).toBe('MF_SNAPSHOT_FORM');
  });

  it('the actor turn snapshots through the behaviour (the encoder nact calls)', () => {
    const deps: TurnDeps = {
      dedup: true,
      clock: new ManualClock(t0),
      logger: silentLogger,
      invoke: async () => null,
      send: () => {},
    };
    const { properties } = createSpawnOptions({} as ActivePartition, hosted, 'collector', deps) as {
      properties: { snapshotEncoder: (e: Envelope) => unknown; snapshotDecoder: (e: unknown) => Envelope };
    };
    const live = liveWithOutbox(1, 5);
    const stored = wire(properties.snapshotEncoder(live));
    expect(stored).toMatchObject({ s: 1 });
    expect(properties.snapshotDecoder(stored).user).toStrictEqual(wire(live.user));
  });
});
