import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decidePrimary, type FenceAnswer } from '../../cluster/failover/reconfiguration.js';
import type { PartitionConfiguration } from '../../cluster/replicator/contract.js';

const old: PartitionConfiguration = {
  partition: 's/0',
  epoch: 4,
  primary: 'n1',
  replicas: ['n1', 'n2', 'n3'],
  building: [],
  status: 'ok',
  previousEpochLastLsn: 0,
};
const a = (node: string, lastPersistedEpoch: number, lastPersistedLsn: number): FenceAnswer => ({
  node,
  lastPersistedEpoch,
  lastPersistedLsn,
});

describe('reconfiguration: pick the new primary', () => {
  it('picks the highest (epoch, LSN) among a majority of the old set', () => {
    const d = decidePrimary(old, [a('n2', 4, 90), a('n3', 4, 95)], new Set(['n2', 'n3']), null);
    expect(d).toEqual({ kind: 'primary', node: 'n3', previousEpochLastLsn: 95 });
  });

  it('compares epoch before LSN: a longer log of an older epoch loses', () => {
    const d = decidePrimary(old, [a('n2', 3, 200), a('n3', 4, 10)], new Set(['n2', 'n3']), null);
    expect(d).toMatchObject({ kind: 'primary', node: 'n3' });
  });

  it('keeps the preferred primary when it is among the most advanced', () => {
    const d = decidePrimary(
      old,
      [a('n1', 4, 50), a('n2', 4, 50), a('n3', 4, 49)],
      new Set(['n1', 'n2', 'n3']),
      'n1',
    );
    expect(d).toMatchObject({ kind: 'primary', node: 'n1' });
  });

  it('declares quorum loss and elects nobody when only a minority of the old set answers', () => {
    const d = decidePrimary(old, [a('n3', 4, 99)], new Set(['n3']), null);
    expect(d).toEqual({ kind: 'quorum-loss', answered: 1, needed: 2 });
  });

  it('ignores answers from replicas that were still building (they do not count toward the quorum)', () => {
    const withBuilding = { ...old, replicas: ['n1', 'n2', 'n3', 'n4'], building: ['n4'] };
    const d = decidePrimary(withBuilding, [a('n3', 4, 9), a('n4', 4, 9)], new Set(['n3', 'n4']), null);
    expect(d.kind).toBe('quorum-loss');
  });

  it('on drain picks the best other replica only when the others alone form a majority', () => {
    const d = decidePrimary(
      old,
      [a('n1', 4, 100), a('n2', 4, 99), a('n3', 4, 98)],
      new Set(['n2', 'n3']),
      null,
    );
    expect(d).toEqual({ kind: 'primary', node: 'n2', previousEpochLastLsn: 99 });
    const lonely = decidePrimary(old, [a('n1', 4, 100), a('n2', 4, 99)], new Set(['n2']), null);
    expect(lonely.kind).toBe('quorum-loss');
  });

  it('on a primary move prefers the target among equally advanced replicas, never a less advanced one', () => {
    const answers = [a('n1', 4, 100), a('n2', 4, 99), a('n3', 4, 99)];
    expect(decidePrimary(old, answers, new Set(['n2', 'n3']), 'n3')).toMatchObject({ node: 'n3' });
    const ahead = [a('n1', 4, 100), a('n2', 4, 99), a('n3', 4, 98)];
    expect(decidePrimary(old, ahead, new Set(['n2', 'n3']), 'n3')).toMatchObject({ node: 'n2' });
  });

  it('property: the chosen primary holds every operation persisted by a majority (committed)', () => {
    const nodes = ['n1', 'n2', 'n3', 'n4', 'n5'];
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.array(fc.integer({ min: 0, max: 50 }), { minLength: 5, maxLength: 5 }),
        fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }),
        (size, lsns, answered) => {
          const set = nodes.slice(0, size);
          const config = { ...old, replicas: set };
          // committed = highest LSN persisted by a majority
          const sorted = set.map((_, i) => lsns[i]!).sort((x, y) => y - x);
          const committed = sorted[Math.floor(size / 2)]!;
          const answers = set.filter((_, i) => answered[i]).map((n) => a(n, 4, lsns[nodes.indexOf(n)]!));
          const d = decidePrimary(config, answers, new Set(set), null);
          if (answers.length < Math.floor(size / 2) + 1) {
            expect(d.kind).toBe('quorum-loss');
          } else {
            expect(d.kind).toBe('primary');
            if (d.kind === 'primary') expect(d.previousEpochLastLsn).toBeGreaterThanOrEqual(committed);
          }
        },
      ),
    );
  });
});
