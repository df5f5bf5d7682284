import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeEntryValue, encodeEntryValue } from '../../cluster/replicator/disk/entry-codec.js';
import { EntryCache } from '../../cluster/replicator/entry-cache.js';
import { grpcStatusOf } from '../../cluster/replicator/errors.js';
import { parseFaults } from '../../cluster/replicator/faults.js';
import { boundedBatch } from '../../cluster/replicator/primary-session.js';
import { decodeStateOp, encodeStateOp, MAX_STATE_KEY_BYTES } from '../../cluster/replicator/state-ops.js';

describe('state operation codec', () => {
  it('round-trips puts and deletes', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 100 }),
        fc.option(fc.uint8Array({ maxLength: 300 }), { nil: null }),
        (key, value) => {
          const op = value === null ? { kind: 'del' as const, key } : { kind: 'put' as const, key, value };
          expect(decodeStateOp(encodeStateOp(op))).toEqual(op);
        },
      ),
    );
  });
  it('refuses malformed operations with MF_STATE_OP_INVALID', () => {
    const bad = [
      new Uint8Array([1, 0, 0]), // truncated header
      new Uint8Array([1, 0, 0, 0, 9, 97]), // key length beyond the end
      new Uint8Array([7, 0, 0, 0, 1, 97]), // unknown kind
      new Uint8Array([2, 0, 0, 0, 1, 97, 1]), // delete with a value
      new Uint8Array([1, 0, 0, 0, 0]), // empty key
    ];
    for (const bytes of bad)
      expect(() => decodeStateOp(bytes)).toThrow(expect.objectContaining({ code: 'MF_STATE_OP_INVALID' }));
  });
  it('bounds keys', () => {
    expect(() => encodeStateOp({ kind: 'del', key: 'k'.repeat(MAX_STATE_KEY_BYTES + 1) })).toThrow(
      /state key must be/,
    );
    expect(() => encodeStateOp({ kind: 'del', key: '' })).toThrow(/state key must be/);
  });
});

describe('log entry codec', () => {
  it('round-trips the epoch and operations', () => {
    fc.assert(
      fc.property(fc.nat(), fc.array(fc.uint8Array({ maxLength: 50 }), { maxLength: 10 }), (epoch, ops) => {
        const decoded = decodeEntryValue(encodeEntryValue(epoch, ops));
        expect(decoded.epoch).toBe(epoch);
        expect(decoded.ops.map((o) => [...o])).toEqual(ops.map((o) => [...o]));
      }),
    );
  });
  it('reports corruption (MF_LOG_CORRUPT) instead of guessing', () => {
    const good = encodeEntryValue(3, [new Uint8Array([1, 2, 3])]);
    for (const bytes of [good.slice(0, 5), good.slice(0, good.length - 1), new Uint8Array([...good, 0])]) {
      expect(() => decodeEntryValue(bytes)).toThrow(expect.objectContaining({ code: 'MF_LOG_CORRUPT' }));
    }
  });
});

describe('entry cache', () => {
  const entry = (lsn: number) => ({ lsn, epoch: 1, ops: [] });
  it('holds a contiguous, bounded window and releases what is no longer needed', () => {
    const cache = new EntryCache(1, 3);
    for (let lsn = 1; lsn <= 5; lsn++) cache.add(entry(lsn));
    expect(cache.lowLsn).toBe(3);
    expect(cache.covers(2)).toBe(false);
    expect(cache.range(3, 9).map((e) => e.lsn)).toEqual([3, 4, 5]);
    cache.truncateAfter(3);
    expect(cache.range(3, 9).map((e) => e.lsn)).toEqual([3]);
    cache.add(entry(4));
    cache.releaseBelow(4);
    expect(cache.range(1, 9).map((e) => e.lsn)).toEqual([]);
    expect(cache.range(4, 9).map((e) => e.lsn)).toEqual([4]);
  });
});

describe('fault switches and error mapping', () => {
  it('are off unless named, and parse combinations', () => {
    expect(parseFaults(undefined)).toEqual({ ackBeforePersist: false, skipEpochFencing: false });
    expect(parseFaults('nonsense')).toEqual({ ackBeforePersist: false, skipEpochFencing: false });
    expect(parseFaults('ack-before-persist, skip-epoch-fencing')).toEqual({
      ackBeforePersist: true,
      skipEpochFencing: true,
    });
  });
  it('maps replication codes to gRPC statuses once', () => {
    expect(grpcStatusOf('MF_NOT_PRIMARY')).toBe(9);
    expect(grpcStatusOf('MF_QUORUM_LOSS')).toBe(14);
    expect(grpcStatusOf('MF_REPLICATION_QUEUE_FULL')).toBe(8);
  });
});

describe('replication message bound', () => {
  const entry = (lsn: number, bytes: number) => ({ lsn, epoch: 1, ops: [new Uint8Array(bytes)] });
  it('cuts a batch at maxMessageBytes but always sends at least one entry', () => {
    const entries = [entry(1, 400), entry(2, 400), entry(3, 400)];
    expect(boundedBatch(entries, 1_000).map((e) => e.lsn)).toEqual([1, 2]);
    expect(boundedBatch(entries, 10_000).map((e) => e.lsn)).toEqual([1, 2, 3]);
    expect(boundedBatch([entry(1, 5_000), entry(2, 1)], 1_000).map((e) => e.lsn)).toEqual([1]);
  });
});
