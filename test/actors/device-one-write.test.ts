import { describe, expect, it } from 'vitest';
import type { FieldResponse } from '../../actors/device/field.js';
import type { DeviceCommand, DeviceEffect, DeviceState } from '../../actors/device/state.js';
import { deliverySeq } from '../../actors/host/delivery-parts.js';
import { type CommandEvent, commandOf } from '../../actors/hosting/command-actor.js';
import { packValue } from '../../actors/hosting/compact-records.js';
import type { HostedCommand, HostedState, OutboxEntry } from '../../actors/hosting/outbox.js';
import { hostedDeviceActor, hostedMachines, planDevice } from '../../actors/hosting/services.js';
import { intervalReading } from '../support/readings.js';
import { job, t0 } from './job-fixtures.js';

/**
 * Issue 7: a device's request and its field answer in ONE persisted call (the driver's plan
 * read first) must leave the device exactly as the two calls do, with the same events and the
 * same `completed`; records written as two calls still replay; and the plan read answers the
 * request the device would send, or the two-call path when it must not be used.
 */

type Hosted = HostedState<DeviceState, DeviceEffect>;
type Deliver = Extract<HostedCommand<DeviceCommand>, { type: 'deliver' }>;

const hour = 3_600_000;
const machine = hostedMachines.device;
const worker = 'worker/loadprofile';

const interval = intervalReading;

const lp = job('lp-1', { concentratorId: 'C1', meterSerials: [] });
const request: DeviceCommand = { type: 'request', job: lp, attempt: 2 };
const response: FieldResponse = {
  // M1's first value is at its cursor already: filtered out by either path.
  readings: [interval('M1', t0, 5), interval('M1', t0 + hour, 7), interval('M2', t0 + hour, 9)],
  events: [
    {
      deviceId: 'M2',
      deviceKind: 'meter',
      key: 'meter.statusWordAlarm',
      phase: 'occurred',
      timestampMs: t0,
      details: {},
    },
  ],
  statusWords: [{ meterSerial: 'M1', word: 4, timestampMs: t0 + hour }],
  controlResults: [],
};
const answer: DeviceCommand = { type: 'fieldResponse', requestId: 'lp-1@2', response };
const failure: DeviceCommand = { type: 'fieldFailure', requestId: 'lp-1@2', reason: 'modem timeout' };

/**
 * A device with two meters, one collection behind it (M1's cursor at t0) and one failed request
 * in a row (so the next failure makes it unreachable, and the next answer clears nothing).
 */
function device(unreachable = false): Hosted {
  const state = machine.initialState('it/C1') as Hosted;
  const setup: Deliver = {
    type: 'deliver',
    deliveries: [
      { from: 'registry/it', seq: 1, commands: [{ type: 'setMeters', meters: ['M1', 'M2'] }] },
      {
        from: worker,
        seq: 1000,
        commands: [{ type: 'request', job: job('lp-0', { concentratorId: 'C1' }), attempt: 1 }],
      },
      {
        from: 'field',
        seq: 2000,
        commands: [
          {
            type: 'fieldResponse',
            requestId: 'lp-0@1',
            response: { ...response, readings: [interval('M1', t0, 5)] },
          },
        ],
      },
    ],
  };
  machine.apply(state, setup, t0);
  const failures = unreachable ? ['lp-f1', 'lp-f2'] : ['lp-f1'];
  for (const [i, id] of failures.entries())
    machine.apply(
      state,
      {
        type: 'deliver',
        deliveries: [
          {
            from: worker,
            seq: 3000 + i * 1000,
            commands: [{ type: 'request', job: job(id, { concentratorId: 'C1' }), attempt: 1 }],
          },
          {
            from: 'field',
            seq: 5000 + i * 1000,
            commands: [{ type: 'fieldFailure', requestId: `${id}@1`, reason: 'no carrier' }],
          },
        ],
      },
      t0,
    );
  state.outbox = [];
  return state;
}

const twoCalls = (answerCommand: DeviceCommand): Deliver[] => [
  { type: 'deliver', deliveries: [{ from: worker, seq: 9000, commands: [request] }] },
  // The field answer acknowledges the request's entry, as the driver sends it.
  { type: 'deliver', deliveries: [{ from: 'field', seq: deliverySeq(9, 0), commands: [answerCommand] }] },
];
const oneCall = (answerCommand: DeviceCommand): Deliver => ({
  type: 'deliver',
  deliveries: [{ from: worker, seq: 9000, commands: [request, answerCommand] }],
});

function effectsOf(entries: OutboxEntry<DeviceEffect>[]): DeviceEffect[] {
  return entries.flatMap((e) => e.effects);
}
const notSend = (effects: DeviceEffect[]) => effects.filter((e) => e.type !== 'send');

describe('device: request and field answer in one persisted call', () => {
  for (const [name, answerCommand, unreachable] of [
    ['a field response to an unreachable device', answer, true],
    ['a field response', answer, false],
    ['a field failure', failure, false],
  ] as const) {
    it(`${name}: the same device state, events and completed/failed as the two calls`, () => {
      const two = device(unreachable);
      const [first, second] = twoCalls(answerCommand);
      const firstEffects = effectsOf(machine.apply(two, first as Deliver, t0 + 2 * hour).effects);
      const secondEffects = effectsOf(machine.apply(two, second as Deliver, t0 + 2 * hour).effects);
      const one = device(unreachable);
      const combined = effectsOf(machine.apply(one, oneCall(answerCommand), t0 + 2 * hour).effects);
      expect(one.inner).toEqual(two.inner);
      // The one call's entry: the request's send (already run by the driver: not routed again),
      // then exactly what the field answer's call made.
      expect(combined[0]).toEqual(firstEffects[0]);
      expect(notSend(combined)).toEqual(secondEffects);
      expect(combined.filter((e) => e.type === 'completed' || e.type === 'failed')).toHaveLength(1);
      if (answerCommand === answer) {
        const done = combined.find((e) => e.type === 'completed');
        expect(
          done?.type === 'completed' && done.readings.map((r) => `${r.meterSerial}@${r.timestampMs}`),
        ).toEqual([`M1@${t0 + hour}`, `M2@${t0 + hour}`]);
        expect(combined.some((e) => e.type === 'event' && e.event.phase === 'cleared')).toBe(unreachable);
      } else {
        expect(combined.some((e) => e.type === 'event' && e.event.phase === 'raised')).toBe(true);
      }
    });
  }

  it('records written as two calls (plain and packed) replay to the state the one call makes', () => {
    const nowMs = t0 + 2 * hour;
    const replay = (events: CommandEvent<HostedCommand<DeviceCommand>>[]) => {
      let state = device();
      for (const event of events) state = hostedDeviceActor.apply(state, event as never) as Hosted;
      return state;
    };
    const [first, second] = twoCalls(answer) as [Deliver, Deliver];
    const oldPlain = replay([
      { command: first, nowMs },
      { command: second, nowMs },
    ]);
    const oldPacked = replay([
      { c: packValue(first), nowMs },
      { c: packValue(second), nowMs },
    ]);
    const packedOne: CommandEvent<HostedCommand<DeviceCommand>> = { c: packValue(oneCall(answer)), nowMs };
    expect(commandOf(packedOne)).toEqual(oneCall(answer));
    const one = replay([packedOne]);
    expect(oldPlain.inner).toEqual(one.inner);
    expect(oldPacked.inner).toEqual(one.inner);
    expect(notSend(effectsOf(oldPlain.outbox.slice(-1)))).toEqual(notSend(effectsOf(one.outbox)));
    expect(one.inner.cursors.M2?.loadProfile).toBe(t0 + hour);
  });
});

describe('device plan read', () => {
  it('answers the request the device sends for the job now, and changes nothing', () => {
    const state = device();
    const before = structuredClone(state);
    const plan = planDevice(state, {
      type: 'plan',
      job: lp,
      attempt: 2,
      atMs: t0 + 2 * hour,
      from: worker,
      seq: 9000,
    });
    expect(state).toEqual(before);
    const sent = effectsOf(machine.apply(state, twoCalls(answer)[0] as Deliver, t0 + 2 * hour).effects)[0];
    expect(plan).toEqual({
      type: 'send',
      requestId: 'lp-1@2',
      request: sent?.type === 'send' ? sent.request : undefined,
    });
    // From the cursors: M1 after t0 (its last value), M2 from the initial lookback.
    expect(plan.type === 'send' && plan.request.type === 'loadProfile' && plan.request.meters).toEqual([
      { serial: 'M1', afterMs: t0 },
      { serial: 'M2', afterMs: t0 + 2 * hour - 86_400_000 },
    ]);
  });

  it('answers two calls for a device that is not idle, a work order, a delivery applied already and old flat cursors', () => {
    const busy = device();
    machine.apply(busy, twoCalls(answer)[0] as Deliver, t0);
    expect(
      planDevice(busy, { type: 'plan', job: job('x', { concentratorId: 'C1' }), attempt: 1, atMs: t0 }),
    ).toEqual({
      type: 'twoCalls',
      reason: 'notIdle',
    });
    // The same request while it is current: never planned (and so never run) a second time.
    expect(planDevice(busy, { type: 'plan', job: lp, attempt: 2, atMs: t0 }).type).toBe('twoCalls');
    const control = job('dc', { kind: 'deviceControl', concentratorId: 'C1' });
    expect(planDevice(device(), { type: 'plan', job: control, attempt: 1, atMs: t0 }).type).toBe('twoCalls');
    expect(
      planDevice(device(), { type: 'plan', job: lp, attempt: 2, atMs: t0, from: worker, seq: 1000 }),
    ).toEqual({
      type: 'twoCalls',
      reason: 'delivered',
    });
    const old = device();
    old.inner.lastCollected = { 'M1|loadProfile': t0 };
    expect(planDevice(old, { type: 'plan', job: lp, attempt: 2, atMs: t0 }).type).toBe('twoCalls');
  });

  it('is a read of the hosted device actor: answered without an event to persist', () => {
    const state = device();
    const result = hostedDeviceActor.handle(
      state,
      'command',
      { c: packValue({ type: 'plan', job: lp, attempt: 2, atMs: t0 }) },
      { nowMs: t0 } as never,
    ) as { event?: unknown; result: unknown };
    expect(result.event).toBeUndefined();
    expect(result.result).toBeDefined();
  });
});
