import { describe, expect, it } from 'vitest';
import { agreementLsn, appendEpoch, epochAt } from '../../cluster/replicator/core/epoch-history.js';
import { ReplicaLogState } from '../../cluster/replicator/core/log-state.js';
import { PrimaryCore } from '../../cluster/replicator/core/primary-core.js';
import { majorityPersistedLsn, quorumSize } from '../../cluster/replicator/core/quorum.js';
import { parseFaults } from '../../cluster/replicator/faults.js';

const fresh = { fencedEpoch: 0, history: [], logStartLsn: 1, lastPersistedLsn: 0, appliedLsn: 0 };

describe('quorum', () => {
  it('needs a strict majority of the voters', () => {
    expect([1, 2, 3, 4, 5].map(quorumSize)).toEqual([1, 2, 2, 3, 3]);
  });
  it('commit LSN is the highest LSN persisted by a majority; missing voters count as nothing', () => {
    expect(majorityPersistedLsn([10, 7, 3], 3)).toBe(7);
    expect(majorityPersistedLsn([10], 3)).toBe(0);
    expect(majorityPersistedLsn([10, 4], 3)).toBe(4);
    expect(majorityPersistedLsn([9, 9, 1, 1, 1], 5)).toBe(1);
  });
});

describe('epoch history', () => {
  it('maps LSNs to the epoch that wrote them', () => {
    let h = appendEpoch([], 1, 1);
    h = appendEpoch(h, 3, 5);
    expect([0, 1, 4, 5, 99].map((l) => epochAt(h, l))).toEqual([0, 1, 1, 3, 3]);
  });
  it('finds where two logs diverged', () => {
    const primary = {
      history: [
        { epoch: 1, firstLsn: 1 },
        { epoch: 3, firstLsn: 6 },
      ],
      lastLsn: 9,
    };
    // secondary kept epoch-2 false progress from LSN 6 on
    const secondary = {
      history: [
        { epoch: 1, firstLsn: 1 },
        { epoch: 2, firstLsn: 6 },
      ],
      lastLsn: 8,
    };
    expect(agreementLsn(primary, secondary)).toBe(5);
    expect(agreementLsn(primary, { history: [{ epoch: 1, firstLsn: 1 }], lastLsn: 4 })).toBe(4);
    expect(agreementLsn(primary, { history: [], lastLsn: 0 })).toBe(0);
    expect(agreementLsn(primary, { history: [{ epoch: 2, firstLsn: 1 }], lastLsn: 3 })).toBe(0);
  });
  it('refuses an epoch going backwards', () => {
    expect(() => appendEpoch([{ epoch: 4, firstLsn: 1 }], 3, 2)).toThrow(/epochs in a log only increase/);
  });
});

describe('replica log state', () => {
  it('fencing refuses older epochs with MF_STALE_EPOCH and reports progress', () => {
    const s = new ReplicaLogState('p/0', fresh);
    s.append([
      { lsn: 1, epoch: 1 },
      { lsn: 2, epoch: 1 },
    ]);
    s.markPersisted(2);
    expect(s.fence(3)).toEqual({
      partition: 'p/0',
      fencedEpoch: 3,
      lastPersistedEpoch: 1,
      lastPersistedLsn: 2,
    });
    expect(() => s.checkEpoch(2)).toThrow(expect.objectContaining({ code: 'MF_STALE_EPOCH' }));
    expect(() => s.fence(2)).toThrow(expect.objectContaining({ code: 'MF_STALE_EPOCH' }));
    expect(s.fence(3).fencedEpoch).toBe(3); // idempotent
  });
  it('skip-epoch-fencing (test-only fault) accepts older epochs', () => {
    const s = new ReplicaLogState('p/0', fresh, parseFaults('skip-epoch-fencing'));
    s.fence(5);
    expect(() => s.checkEpoch(1)).not.toThrow();
  });
  it('refuses a gap in LSNs', () => {
    const s = new ReplicaLogState('p/0', fresh);
    expect(() => s.append([{ lsn: 2, epoch: 1 }])).toThrow(/contiguous/);
  });
  it('truncates false progress but never applied operations', () => {
    const s = new ReplicaLogState('p/0', fresh);
    s.append([1, 2, 3, 4].map((lsn) => ({ lsn, epoch: lsn < 3 ? 1 : 2 })));
    s.markPersisted(4);
    s.advanceCommit(2);
    s.markApplied(2);
    s.truncateAfter(2);
    expect([s.lastLsn, s.persistedLsn, s.lastEpoch]).toEqual([2, 2, 1]);
    expect(() => s.truncateAfter(1)).toThrow(/applied/);
  });
  it('commit never passes what this replica persisted', () => {
    const s = new ReplicaLogState('p/0', fresh);
    s.append([{ lsn: 1, epoch: 1 }]);
    expect(s.advanceCommit(5)).toBe(0);
    s.markPersisted(1);
    expect(s.advanceCommit(5)).toBe(1);
  });
});

describe('primary core', () => {
  const make = (maxQueueOps = 100, committedLsn = 8) =>
    new PrimaryCore({
      partition: 'p/0',
      epoch: 2,
      self: 'a',
      voters: ['a', 'b', 'c'],
      lastLsn: 10,
      committedLsn,
      maxQueueOps,
    });
  it('assigns LSNs after the previous log within its epoch', () => {
    const core = make();
    expect(core.propose()).toEqual({ lsn: 11, epoch: 2 });
    expect(core.propose()).toEqual({ lsn: 12, epoch: 2 });
  });
  it('commits only once a majority (primary included) persisted', () => {
    const core = make();
    core.propose();
    core.propose();
    expect(core.onPersisted('a', 12)).toBeNull();
    expect(core.commitLsn).toBe(8);
    expect(core.onPersisted('c', 11)).toBe(11);
    expect(core.onPersisted('b', 12)).toBe(12);
  });
  it('does not commit older-epoch operations before its barrier', () => {
    const core = make();
    // a and b persisted up to 10 (previous epoch) but nothing of epoch 2 yet
    expect(core.onPersisted('a', 10)).toBeNull();
    expect(core.onPersisted('b', 10)).toBeNull();
    expect(core.commitLsn).toBe(8);
    core.propose();
    core.onPersisted('a', 11);
    expect(core.onPersisted('b', 11)).toBe(11);
  });
  it('ignores acks from non-voters (replicas being built)', () => {
    const core = make();
    core.setVoters(['a', 'b']);
    core.propose();
    core.onPersisted('a', 11);
    expect(core.onPersisted('c', 11)).toBeNull();
    expect(core.onPersisted('b', 11)).toBe(11);
  });
  it('bounds the replication queue with MF_REPLICATION_QUEUE_FULL', () => {
    const core = make(2, 10);
    core.propose();
    core.propose();
    expect(() => core.propose()).toThrow(expect.objectContaining({ code: 'MF_REPLICATION_QUEUE_FULL' }));
    core.onPersisted('a', 12);
    core.onPersisted('b', 12);
    expect(core.propose().lsn).toBe(13);
  });
  it('allows compaction only below what every replica persisted', () => {
    const core = make();
    core.propose();
    core.onPersisted('a', 11);
    core.onPersisted('b', 11);
    expect(core.compactableBelow(['a', 'b', 'c'])).toBe(1);
    core.onPersisted('c', 11);
    expect(core.compactableBelow(['a', 'b', 'c'])).toBe(12);
  });
});
