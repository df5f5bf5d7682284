import { describe, expect, it } from 'vitest';
import type { ActorBehaviour } from '../../cluster/actors/actor-definition.js';
import {
  applyRecord,
  decodeEnvelope,
  type EncodedEnvelope,
  type Envelope,
  encodeEnvelope,
  type PersistedRecord,
} from '../../cluster/actors/actor-envelope.js';
import { buildStatusReport, renderStatusReport } from '../../cluster/cli/status-report.js';
import {
  advertisedFormat,
  clusterWriteFormat,
  maxReadFormat,
  persistedFormats,
} from '../../cluster/format/persisted-format.js';
import type { NodeRecord } from '../../cluster/membership/membership.js';
import { isMeterfabricError } from '../../core/errors.js';

/** A behaviour with a compact snapshot form: its list of amounts as one comma-joined string. */
type Tally = { amounts: number[] };
const tally: ActorBehaviour<Tally, { add: number }> = {
  initialState: () => ({ amounts: [] }),
  handle: (_s, _m, arg) => ({ event: { add: Number(arg) }, result: null }),
  apply: (s, e) => ({ amounts: [...s.amounts, e.add] }),
  snapshotOf: (s) => s.amounts.join(','),
  stateFromSnapshot: (snap) => ({ amounts: String(snap).split(',').filter(Boolean).map(Number) }),
};
const live: Envelope = { user: { amounts: [3, 4, 5] }, recent: new Map([['k1', null]]) };
const wire = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return isMeterfabricError(err) ? err.code : String(err);
  }
  return 'no error';
}

const registration = (id: string, readsFormat?: number): NodeRecord => ({
  id,
  address: `127.0.0.1:71${id.slice(1)}`,
  metricsAddress: '',
  startedAt: '',
  version: '0.1.0',
  draining: false,
  ...(readsFormat === undefined ? {} : { readsFormat }),
});

describe('persisted formats', () => {
  it('a registration without readsFormat (or with a malformed one) reads as format 1', () => {
    expect(advertisedFormat(registration('n1'))).toBe(1);
    expect(advertisedFormat({ readsFormat: 'two' })).toBe(1);
    expect(advertisedFormat({ readsFormat: 0 })).toBe(1);
    expect(advertisedFormat({ readsFormat: 1.5 })).toBe(1);
    expect(advertisedFormat(registration('n1', 2))).toBe(2);
  });

  it('the write format is the lowest format every registered node reads, format 1 with none known, capped at this build', () => {
    expect(maxReadFormat).toBe(persistedFormats.compactSnapshots);
    expect(clusterWriteFormat([registration('n1', 2), registration('n2', 2)])).toBe(2);
    expect(clusterWriteFormat([registration('n1', 2), registration('n2')])).toBe(1);
    expect(clusterWriteFormat([])).toBe(1);
    expect(clusterWriteFormat([registration('n1', 7), registration('n2', 9)])).toBe(maxReadFormat);
  });

  it('encodeEnvelope writes the compact form (s: 1) only when the write format is >= 2', () => {
    const plain = wire(encodeEnvelope(live, tally, 1));
    expect(plain).toStrictEqual({ user: { amounts: [3, 4, 5] }, recent: [['k1', null]] });
    const compact = wire(encodeEnvelope(live, tally, 2));
    expect(compact).toStrictEqual({ user: '3,4,5', recent: [['k1', null]], s: 1 });
    // A behaviour without a compact form writes the state itself whatever the format.
    const { snapshotOf: _a, stateFromSnapshot: _b, ...plainTally } = tally;
    expect(wire(encodeEnvelope(live, plainTally, 2))).toStrictEqual(plain);
    // Both forms read back to the same state.
    expect(decodeEnvelope(plain, tally).user).toStrictEqual({ amounts: [3, 4, 5] });
    expect(decodeEnvelope(compact, tally).user).toStrictEqual({ amounts: [3, 4, 5] });
  });

  it('a snapshot in a form above what this build reads fails with MF_PERSISTED_FORMAT and is left as it was', () => {
    const future = { user: 'AAEC', recent: [], f: 3 } as EncodedEnvelope;
    const unknownMark = { user: 'x', recent: [], s: 2 } as unknown as EncodedEnvelope;
    const before = wire([future, unknownMark]);
    expect(codeOf(() => decodeEnvelope(future, tally))).toBe('MF_PERSISTED_FORMAT');
    expect(codeOf(() => decodeEnvelope(unknownMark, tally))).toBe('MF_PERSISTED_FORMAT');
    expect([future, unknownMark]).toStrictEqual(before);
    let message = '';
    try {
      decodeEnvelope(future, tally);
    } catch (err) {
      message = String(err);
    }
    expect(message).toContain('persisted format 3');
    expect(message).toContain(`formats up to ${maxReadFormat}`);
  });

  it('a record in a form above what this build reads fails with MF_PERSISTED_FORMAT; the envelope is unchanged', () => {
    const envelope: Envelope = { user: { amounts: [1] }, recent: null };
    const record = { idem: 'i1', event: { add: 2 }, result: null, f: 3 } as PersistedRecord;
    expect(codeOf(() => applyRecord(tally, envelope, record))).toBe('MF_PERSISTED_FORMAT');
    expect(envelope).toStrictEqual({ user: { amounts: [1] }, recent: null });
  });

  it('records and snapshots in the forms the current main writes still replay', () => {
    // Literal JSON as main stores it: a format-1 record, a plain and a compact (s: 1) snapshot.
    const record = JSON.parse('{"idem":"c-1","event":{"add":9},"result":null}') as PersistedRecord;
    const plain = JSON.parse('{"user":{"amounts":[1,2]},"recent":[["c-0",null]]}') as EncodedEnvelope;
    const compact = JSON.parse('{"user":"1,2","recent":[["c-0",null]],"s":1}') as EncodedEnvelope;
    for (const snapshot of [plain, compact]) {
      const replayed = applyRecord(tally, decodeEnvelope(snapshot, tally), record);
      expect(replayed.user).toStrictEqual({ amounts: [1, 2, 9] });
      expect([...(replayed.recent ?? [])]).toStrictEqual([
        ['c-0', null],
        ['c-1', null],
      ]);
    }
  });

  it('status shows each node format and the cluster write format', () => {
    const report = buildStatusReport({
      cluster: 'c',
      failoverManager: 'n1',
      nodes: [registration('n1', 2), registration('n2')],
      configs: [],
      replicaStatuses: new Map(),
    });
    expect(report.writeFormat).toBe(1);
    expect(report.nodes.map((n) => [n.id, n.readsFormat])).toStrictEqual([
      ['n1', 2],
      ['n2', 1],
    ]);
    const text = renderStatusReport(report);
    expect(text).toContain('persisted write format: 1');
    expect(text).toMatch(/n2 .* 1 {2}UNREACHABLE/);
  });
});
