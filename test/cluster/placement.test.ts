import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type ClusterView,
  initialConfiguration,
  planPrimaryMoves,
  planReplicaSet,
} from '../../cluster/placement/placement.js';
import type { PartitionConfiguration } from '../../cluster/replicator/contract.js';

function placeAll(nodes: string[], partitions: string[], target = 3): Map<string, PartitionConfiguration> {
  const configs = new Map<string, PartitionConfiguration>();
  const view: ClusterView = { eligible: nodes, configs };
  for (const p of partitions) {
    const c = initialConfiguration(p, view, target);
    if (c) configs.set(p, c);
  }
  return configs;
}

describe('placement', () => {
  it('places every partition of a P=32 service and a singleton on three distinct nodes with at most ceil(P/3)+1 primaries per node', () => {
    const partitions = [...Array.from({ length: 32 }, (_, i) => `counter/${i}`), 'ledger/0'];
    const configs = placeAll(['n1', 'n2', 'n3'], partitions);
    expect(configs.size).toBe(33);
    const primaries = new Map<string, number>();
    for (const c of configs.values()) {
      expect(new Set(c.replicas).size).toBe(3);
      expect(c.replicas).toContain(c.primary);
      const s = c.partition.startsWith('counter/') ? 'counter' : 'ledger';
      if (s === 'counter') primaries.set(c.primary!, (primaries.get(c.primary!) ?? 0) + 1);
    }
    for (const count of primaries.values()) expect(count).toBeLessThanOrEqual(Math.ceil(32 / 3) + 1);
  });

  it('never puts two replicas of a partition on one node and spreads primaries evenly, for any node and partition count', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 7 }),
        fc.integer({ min: 1, max: 64 }),
        (nodeCount, partitionCount) => {
          const nodes = Array.from({ length: nodeCount }, (_, i) => `n${i + 1}`);
          const configs = placeAll(
            nodes,
            Array.from({ length: partitionCount }, (_, i) => `s/${i}`),
          );
          const perNode = new Map<string, number>();
          for (const c of configs.values()) {
            expect(new Set(c.replicas).size).toBe(c.replicas.length);
            expect(c.replicas.length).toBe(Math.min(3, nodeCount));
            perNode.set(c.primary!, (perNode.get(c.primary!) ?? 0) + 1);
          }
          for (const count of perNode.values()) {
            expect(count).toBeLessThanOrEqual(Math.ceil(partitionCount / nodeCount) + 1);
          }
        },
      ),
    );
  });

  it('drops replicas of a lost node and adds a replacement as building on a node not yet in the set', () => {
    const configs = placeAll(['n1', 'n2', 'n3', 'n4'], ['s/0']);
    const config = configs.get('s/0')!;
    const lost = config.replicas[1]!;
    const spare = ['n1', 'n2', 'n3', 'n4'].find((n) => !config.replicas.includes(n))!;
    const plan = planReplicaSet(
      config,
      { eligible: ['n1', 'n2', 'n3', 'n4'].filter((n) => n !== lost), configs },
      3,
    );
    expect(plan.changed).toBe(true);
    expect(plan.replicas).not.toContain(lost);
    expect(plan.replicas).toContain(spare);
    expect(plan.building).toEqual([spare]);
  });

  it('keeps the set unchanged when all replicas live, and promotes a built replica out of building', () => {
    const configs = placeAll(['n1', 'n2', 'n3'], ['s/0']);
    const config = configs.get('s/0')!;
    expect(planReplicaSet(config, { eligible: ['n1', 'n2', 'n3'], configs }, 3).changed).toBe(false);
    const building = { ...config, building: [config.replicas[2]!] };
    const plan = planReplicaSet(
      building,
      { eligible: ['n1', 'n2', 'n3'], configs },
      3,
      new Set([config.replicas[2]!]),
    );
    expect(plan.changed).toBe(true);
    expect(plan.building).toEqual([]);
  });

  it('with two nodes left keeps two replicas (no replacement possible) and re-adds a returning node as building', () => {
    const configs = placeAll(['n1', 'n2', 'n3'], ['s/0']);
    const config = configs.get('s/0')!;
    const shrunk = planReplicaSet(config, { eligible: ['n1', 'n2'], configs }, 3);
    expect(shrunk.replicas.sort()).toEqual(['n1', 'n2']);
    const after = { ...config, replicas: shrunk.replicas, epoch: 2 };
    const grown = planReplicaSet(after, { eligible: ['n1', 'n2', 'n3'], configs }, 3);
    expect(grown.building).toEqual(['n3']);
  });

  it('moves primaries toward a rejoined node that holds none, a few at a time, until within one of each other', () => {
    const configs = placeAll(
      ['n1', 'n2'],
      Array.from({ length: 12 }, (_, i) => `s/${i}`),
    );
    // n3 rejoined and now holds an active replica of every partition, but no primary.
    for (const [p, c] of configs) configs.set(p, { ...c, replicas: [...c.replicas, 'n3'] });
    const view = { eligible: ['n1', 'n2', 'n3'], configs };
    const moves = planPrimaryMoves('s', view, 2);
    expect(moves).toHaveLength(2);
    expect(moves.every((m) => m.to === 'n3')).toBe(true);
    for (let round = 0; round < 10; round++) {
      for (const m of planPrimaryMoves('s', view, 2))
        configs.set(m.partition, { ...configs.get(m.partition)!, primary: m.to });
    }
    const counts = ['n1', 'n2', 'n3'].map((n) => [...configs.values()].filter((c) => c.primary === n).length);
    expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
    expect(planPrimaryMoves('s', view, 2)).toEqual([]);
  });

  it('moves nothing while a partition of the service is building or reconfiguring', () => {
    const configs = placeAll(['n1', 'n2'], ['s/0', 's/1', 's/2', 's/3']);
    for (const [p, c] of configs) configs.set(p, { ...c, replicas: [...c.replicas, 'n3'], building: ['n3'] });
    expect(planPrimaryMoves('s', { eligible: ['n1', 'n2', 'n3'], configs }, 2)).toEqual([]);
  });
});
