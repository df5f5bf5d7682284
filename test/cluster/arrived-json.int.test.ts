import { stop } from 'nact';
import { describe, expect, it } from 'vitest';
import { commandActor } from '../../actors/hosting/command-actor.js';
import { packValue } from '../../actors/hosting/compact-records.js';
import type { CollectedReading } from '../../adapters/field-data.js';
import type { CallReply } from '../../cluster/actors/actor-turn.js';
import { rememberArrivedC } from '../../cluster/actors/arrived-json.js';
import { encodeStateOp } from '../../cluster/replicator/state-ops.js';
import type { ReplicatedStore } from '../../cluster/replicator/store-api.js';
import { replicatedTurnPerTest } from './support/replicated-turn.js';

/**
 * A packed command persisted with its arrived text (cluster/actors/arrived-json.ts), through
 * the real turn, nact and a real replicated classic-level store: the stored event holds the
 * text as it arrived, replay rebuilds the state the live actor had, a retried call is answered
 * from the dedup table, and an event written the old way (the record re-serialised) replays
 * alongside.
 */
const partition = 'sum/0';
const turn = replicatedTurnPerTest(partition);

type Cmd = { type: 'add'; readings: CollectedReading[] } | { type: 'get' };
type State = { count: number; sumWh: number; last: CollectedReading | null };
const summing = commandActor<State, Cmd, { type: 'added'; n: number }>({
  initialState: () => ({ count: 0, sumWh: 0, last: null }),
  isRead: (c) => c.type === 'get',
  read: (s) => s,
  apply(state, command) {
    if (command.type !== 'add') return { state, effects: [] };
    let { count, sumWh } = state;
    for (const r of command.readings) {
      count += 1;
      sumWh += r.value;
    }
    const last = command.readings.at(-1) ?? state.last;
    return { state: { count, sumWh, last }, effects: [{ type: 'added', n: command.readings.length }] };
  },
});

function readings(from: number, n: number): CollectedReading[] {
  return Array.from({ length: n }, (_, i) => ({
    meterSerial: `M${(from + i) % 7}`,
    usagePoint: `POD${(from + i) % 7}`,
    kind: 'interval',
    quantity: { source: 'profile', quantity: 'activeImportInterval' },
    value: (from + i) * 1.5,
    unit: 'Wh',
    timestampMs: 1_700_000_000_000 + (from + i) * 3_600_000,
    intervalSeconds: 3600,
  }));
}

async function primary(): Promise<ReplicatedStore> {
  return (await turn.startPartition(['a'])).store;
}

/** The runtime's turn for the summing actor `s1` on `store` (a fresh nact system: recovers from the log). */
function host(store: ReplicatedStore) {
  const { call: callTurn, system } = turn.hostActor(store, {
    service: 'sum',
    key: 's1',
    behaviour: summing,
    onFire: async () => {},
    callTimeoutMs: 30_000,
  });
  /** As ActorHost.call does: parse the payload's text and remember its packed command's text. */
  const call = (payload: string, idem: string): Promise<CallReply> => {
    const arg = JSON.parse(payload) as unknown;
    rememberArrivedC(payload, arg);
    return callTurn('command', arg, idem);
  };
  return { call, system };
}

const eventKey = (seq: number) => `__actors/${partition}|s1/e/${String(seq).padStart(12, '0')}`;
const text = (b: Uint8Array | undefined) => new TextDecoder().decode(b);

describe('a packed command persisted as it arrived', () => {
  it('stores the arrived text, replays to the live state, answers a retry from the dedup table', {
    timeout: 90_000,
  }, async () => {
    const store = await primary();
    const live = host(store);
    const payload1 = JSON.stringify({
      c: packValue({ type: 'add', readings: readings(0, 50) }),
      atMs: 1_000,
    });
    expect(await live.call(payload1, 'add-1')).toMatchObject({ ok: true });
    // Another spelling of numbers: kept as it arrived, read back as the same value.
    const c2 = JSON.stringify(packValue({ type: 'add', readings: readings(50, 30) })).replace(
      /,3600,/g,
      ',3600.0,',
    );
    expect(c2).toContain('3600.0');
    const payload2 = `{"c":${c2},"atMs":2000}`;
    expect(await live.call(payload2, 'add-2')).toMatchObject({ ok: true });

    const stored1 = JSON.parse(text(await store.get(eventKey(1)))) as { data: { event: { c: unknown } } };
    expect(stored1.data.event.c).toEqual(JSON.parse(payload1).c);
    const raw2 = text(await store.get(eventKey(2)));
    expect(raw2).toContain(c2);

    // An event written the old way (the whole record re-serialised by JSON.stringify).
    const old = {
      data: {
        idem: 'add-3',
        event: { c: packValue({ type: 'add', readings: readings(80, 20) }), nowMs: 3_000 },
        result: { c: packValue({ effects: [{ type: 'added', n: 20 }] }) },
      },
      tags: [],
      sequenceNumber: 3,
      key: `${partition}|s1`,
      createdAt: Date.now(),
    };
    await store.replicate([
      encodeStateOp({ kind: 'put', key: eventKey(3), value: new TextEncoder().encode(JSON.stringify(old)) }),
    ]);

    const get = JSON.stringify({ command: { type: 'get' } });
    const liveState = (await live.call(get, 'g-1')) as { ok: true; result: State };
    expect(liveState.result.count).toBe(80);
    stop(live.system);

    // A fresh actor recovers from the log: both new-form events and the old one.
    const replayed = host(store);
    const state = (await replayed.call(get, 'g-2')) as { ok: true; result: State };
    const all = readings(0, 100);
    expect(state.result).toEqual({
      count: 100,
      sumWh: all.reduce((s, r) => s + r.value, 0),
      last: all.at(-1),
    });
    // A retry of the second call is answered from the dedup table: nothing applied twice.
    const retry = await replayed.call(payload2, 'add-2');
    expect(retry).toMatchObject({ ok: true });
    const after = (await replayed.call(get, 'g-3')) as { ok: true; result: State };
    expect(after.result.count).toBe(100);
    expect(await store.get(eventKey(4))).toBeUndefined();
  });
});
