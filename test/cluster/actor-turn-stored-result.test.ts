import { type ActorSystemRef, type Ref, spawnStateless, start, stop } from 'nact';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { commandActor } from '../../actors/hosting/command-actor.js';
import { hostMachine } from '../../actors/hosting/outbox.js';
import { hostedWorkManagerActor } from '../../actors/hosting/work-manager-actor.js';
import type { AnyActorBehaviour } from '../../cluster/actors/actor-definition.js';
import {
  applyRecord,
  decodeEnvelope,
  type Envelope,
  encodeEnvelope,
  type PersistedRecord,
} from '../../cluster/actors/actor-envelope.js';
import {
  type CallMsg,
  type CallReply,
  createSpawnOptions,
  newActivePartition,
} from '../../cluster/actors/actor-turn.js';
import { counterActor } from '../../cluster/actors/counter-actor.js';
import type { ReminderScheduler } from '../../cluster/actors/reminders.js';
import type { PartitionConfiguration } from '../../cluster/replicator/contract.js';
import { ManualClock } from '../../core/clock.js';
import { MeterfabricError } from '../../core/errors.js';
import { silentLogger } from '../../core/logger.js';

/**
 * The actor turn (cluster/actors/actor-turn.ts) with a behaviour that stores a reference to
 * its outbox entry instead of its reply (Decision.storedResult, ActorBehaviour.replyFrom):
 * the real head-end hosting (commandActor over hostMachine) on a small counter machine, the
 * turn's handler called as nact calls it, replies through a real nact actor, and every
 * persisted record passed through JSON as the store does.
 */
type Cmd = { type: 'add'; n: number } | { type: 'bad' };
const machine = hostMachine<{ total: number }, Cmd, string>({
  initialState: () => ({ total: 0 }),
  apply(state, c) {
    if (c.type === 'bad') throw new MeterfabricError('MF_HEADEND_INVALID_INPUT', 'bad command');
    state.total += c.n;
    return { state, effects: [`+${c.n}`] };
  },
});
const hosted = commandActor(machine, { inPlace: true });

const add = (from: string, seq: number, n: number, ack?: number[]) => ({
  command: {
    type: 'deliver',
    deliveries: [{ from, seq, commands: [{ type: 'add', n }] }],
    ...(ack ? { ack } : {}),
  },
  atMs: 1000,
});
const ackOnly = (ack: number[]) => ({ command: { type: 'deliver', deliveries: [], ack }, atMs: 1000 });

let system: ActorSystemRef;
let replies: CallReply[];
let sender: Ref<CallReply>;
let waiters: (() => void)[];

beforeEach(() => {
  system = start();
  replies = [];
  waiters = [];
  sender = spawnStateless(system, (msg: CallReply) => {
    replies.push(msg);
    for (const w of waiters.splice(0)) w();
  }) as Ref<CallReply>;
});
afterEach(() => stop(system));

/** One actor driven turn by turn: its envelope, and the records it persisted (JSON round trip). */
function actor(behaviour: AnyActorBehaviour) {
  const active = newActivePartition(
    { partition: 'hosted/0', epoch: 1 } as PartitionConfiguration,
    system,
    undefined as unknown as ReminderScheduler,
  );
  const { handler } = createSpawnOptions(active, behaviour, 'hosted', {
    dedup: true,
    clock: new ManualClock(0),
    logger: silentLogger,
    invoke: async () => undefined,
    send: () => undefined,
  }) as {
    handler: (e: Envelope, m: CallMsg | PersistedRecord, ctx: unknown) => Promise<Envelope>;
  };
  const persisted: PersistedRecord[] = [];
  let envelope: Envelope = { user: behaviour.initialState('k'), recent: null };
  const ctx = {
    name: 'k',
    self: sender,
    persist: async (r: PersistedRecord) => {
      persisted.push(JSON.parse(JSON.stringify(r)) as PersistedRecord);
    },
  };
  return {
    persisted,
    get envelope() {
      return envelope;
    },
    set envelope(e: Envelope) {
      envelope = e;
    },
    /** One call; resolves with its reply. */
    async call(method: string, arg: unknown, idem: string): Promise<CallReply> {
      const before = replies.length;
      const replied = new Promise<void>((resolve) => waiters.push(resolve));
      envelope = await handler(envelope, { kind: 'call', method, arg, idem, sender }, ctx);
      if (replies.length === before) await replied;
      return replies[before]!;
    },
  };
}

function replay(behaviour: AnyActorBehaviour, records: PersistedRecord[]): Envelope {
  let e: Envelope = { user: behaviour.initialState('k'), recent: null };
  for (const r of records) e = applyRecord(behaviour, e, JSON.parse(JSON.stringify(r)) as PersistedRecord);
  return e;
}

describe('actor turn with a stored reference (Decision.storedResult, replyFrom)', () => {
  it('persists and remembers the entry id while the live reply carries the full entry', async () => {
    const a = actor(hosted);
    const reply = await a.call('command', add('s', 1, 2), 'k1');
    expect(reply).toEqual({ ok: true, result: { effects: [{ id: 1, effects: ['+2'] }] } });
    expect(a.persisted).toHaveLength(1);
    expect(a.persisted[0]!.result).toEqual({ entries: [1] });
    expect(a.envelope.recent?.get('k1')).toEqual({ entries: [1] });
    // The command is still persisted whole: replay needs it.
    expect(a.persisted[0]!.event).toEqual({ command: add('s', 1, 2).command, nowMs: 1000 });
  });

  it('answers a retried call from the state: the same entry while it is in the outbox', async () => {
    const a = actor(hosted);
    const first = await a.call('command', add('s', 1, 2), 'k1');
    const again = await a.call('command', add('s', 1, 2), 'k1');
    expect(again).toEqual(first);
    expect(a.persisted).toHaveLength(1); // the retry changed nothing
    expect((a.envelope.user as { inner: { total: number } }).inner.total).toBe(2);
  });

  it('answers a retried call whose entry was acknowledged since with no effects and the acknowledged id', async () => {
    const a = actor(hosted);
    await a.call('command', add('s', 1, 2), 'k1');
    const ack = await a.call('command', ackOnly([1]), 'k2');
    expect(ack).toEqual({ ok: true, result: { effects: [] } });
    expect(a.persisted[1]!.result).toEqual({ entries: [] });
    const retried = await a.call('command', add('s', 1, 2), 'k1');
    expect(retried).toEqual({ ok: true, result: { effects: [], acknowledged: [1] } });
    expect((a.envelope.user as { inner: { total: number } }).inner.total).toBe(2);
  });

  it('a new primary (replay of the records, or a snapshot) answers retries the same way', async () => {
    const a = actor(hosted);
    await a.call('command', add('s', 1, 2), 'k1');
    await a.call('command', add('s', 2, 3), 'k2');
    await a.call('command', ackOnly([1]), 'k3');
    const replayed = actor(hosted);
    replayed.envelope = replay(hosted, a.persisted);
    expect(await replayed.call('command', add('s', 1, 2), 'k1')).toEqual({
      ok: true,
      result: { effects: [], acknowledged: [1] },
    });
    expect(await replayed.call('command', add('s', 2, 3), 'k2')).toEqual({
      ok: true,
      result: { effects: [{ id: 2, effects: ['+3'] }] },
    });
    const fromSnapshot = actor(hosted);
    fromSnapshot.envelope = decodeEnvelope(JSON.parse(JSON.stringify(encodeEnvelope(a.envelope))));
    expect(await fromSnapshot.call('command', add('s', 1, 2), 'k1')).toEqual({
      ok: true,
      result: { effects: [], acknowledged: [1] },
    });
    expect(replayed.persisted).toHaveLength(0);
    expect(fromSnapshot.persisted).toHaveLength(0);
  });

  it('replays and dedups records written before references (full results) as they were', async () => {
    const old: PersistedRecord[] = [
      {
        idem: 'old1',
        event: { command: add('s', 1, 5).command, nowMs: 1000 },
        result: { effects: [{ id: 1, effects: ['+5'] }] },
      },
      { idem: 'old2', event: { command: ackOnly([1]).command, nowMs: 1000 }, result: { effects: [] } },
    ];
    const a = actor(hosted);
    a.envelope = replay(hosted, old);
    expect((a.envelope.user as { inner: { total: number }; outbox: unknown[] }).inner.total).toBe(5);
    // The old reply, as it was stored (the entry was acknowledged since, but it said so then).
    expect(await a.call('command', add('s', 1, 5), 'old1')).toEqual({
      ok: true,
      result: { effects: [{ id: 1, effects: ['+5'] }] },
    });
    // A new call after the old records stores a reference and continues the ids.
    expect(await a.call('command', add('s', 2, 1), 'new1')).toEqual({
      ok: true,
      result: { effects: [{ id: 2, effects: ['+1'] }] },
    });
    expect(a.persisted[0]!.result).toEqual({ entries: [2] });
  });

  it('a stored result that is neither a reply nor a reference gets MF_BAD_STORED_RESULT, and the state is intact', async () => {
    const a = actor(hosted);
    await a.call('command', add('s', 1, 2), 'k1');
    a.envelope.recent?.set('broken', { entries: 'x' });
    const reply = await a.call('command', add('s', 1, 2), 'broken');
    expect(reply.ok).toBe(false);
    expect(reply).toMatchObject({ code: 'MF_BAD_STORED_RESULT' });
    expect((a.envelope.user as { inner: { total: number } }).inner.total).toBe(2);
    expect(await a.call('command', add('s', 1, 2), 'k1')).toEqual({
      ok: true,
      result: { effects: [{ id: 1, effects: ['+2'] }] },
    });
  });

  it('a wrapper that stores a reference but has no replyFrom persists the reply itself (a retry gets the reply)', async () => {
    const { replyFrom: _dropped, ...wrapper } = hosted;
    const a = actor(wrapper as AnyActorBehaviour);
    const first = await a.call('command', add('s', 1, 2), 'k1');
    expect(a.persisted[0]!.result).toEqual({ effects: [{ id: 1, effects: ['+2'] }] });
    expect(await a.call('command', add('s', 1, 2), 'k1')).toEqual(first);
  });

  it('the work manager (a wrapper adding its day-clock reminder) passes replyFrom on', async () => {
    const a = actor(hostedWorkManagerActor as AnyActorBehaviour);
    const ackNone = { command: { type: 'deliver', deliveries: [], ack: [] }, atMs: 1000 };
    const tick = {
      command: {
        type: 'deliver',
        deliveries: [{ commands: [{ type: 'tick' }] }],
      },
      atMs: 1000,
    };
    const reply = await a.call('command', tick, 'w1');
    expect(reply).toEqual({ ok: true, result: { effects: [] } });
    expect(a.persisted[0]!.result).toEqual({ entries: [] });
    expect(await a.call('command', tick, 'w1')).toEqual(reply);
    await a.call('command', ackNone, 'w2');
    expect(a.persisted).toHaveLength(2);
  });

  it('behaviours without the hook persist and return the result itself (counter actor)', async () => {
    const a = actor(counterActor as AnyActorBehaviour);
    expect(await a.call('increment', { by: 3 }, 'c1')).toEqual({ ok: true, result: { value: 3 } });
    expect(a.persisted[0]!.result).toEqual({ value: 3 });
    await a.call('increment', { by: 1 }, 'c2');
    expect(await a.call('increment', { by: 3 }, 'c1')).toEqual({ ok: true, result: { value: 3 } });
    expect(a.persisted).toHaveLength(2);
  });
});
