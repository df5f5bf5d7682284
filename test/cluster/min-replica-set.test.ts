import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { minReplicaSetSize, parseManifest } from '../../cluster/config/manifest.js';
import {
  activeCount,
  decidePrimary,
  type FenceAnswer,
  nextConfiguration,
} from '../../cluster/failover/reconfiguration.js';
import { partitionHealth } from '../../cluster/node/health.js';
import type { PartitionConfiguration } from '../../cluster/replicator/contract.js';
import { ConfigError } from '../../core/errors.js';

const old: PartitionConfiguration = {
  partition: 'counter/30',
  epoch: 4,
  primary: 'n3',
  replicas: ['n3', 'n1', 'n2'],
  building: [],
  status: 'ok',
  previousEpochLastLsn: 0,
};
const answer = (node: string, lsn: number): FenceAnswer => ({
  node,
  lastPersistedEpoch: 4,
  lastPersistedLsn: lsn,
});

function manifestError(service: Record<string, unknown>): ConfigError {
  try {
    parseManifest(JSON.stringify({ services: [service] }), 'test.json');
  } catch (err) {
    return err as ConfigError;
  }
  throw new Error('manifest was accepted');
}

describe('minimum replica-set size (Service Fabric MinReplicaSetSize)', () => {
  it('defaults to a majority of the target and is never above it', () => {
    const parse = (extra: Record<string, unknown>) =>
      parseManifest(
        JSON.stringify({ services: [{ name: 's', partitioning: { kind: 'singleton' }, ...extra }] }),
        'test.json',
      )[0]!;
    expect(minReplicaSetSize(parse({}))).toBe(2); // default target 3
    expect(minReplicaSetSize(parse({ replicas: 1 }))).toBe(1);
    expect(minReplicaSetSize(parse({ replicas: 5 }))).toBe(3);
    expect(minReplicaSetSize(parse({ replicas: 3, minReplicas: 3 }))).toBe(3);
    expect(minReplicaSetSize(parse({ replicas: 3, minReplicas: 1 }))).toBe(1);
  });

  it('rejects a manifest whose minimum exceeds its target, or is not a positive integer, saying what to fix', () => {
    const tooHigh = manifestError({
      name: 's',
      partitioning: { kind: 'singleton' },
      replicas: 1,
      minReplicas: 2,
    });
    expect(tooHigh).toBeInstanceOf(ConfigError);
    expect(tooHigh.code).toBe('MF_CONFIG_INVALID');
    expect(tooHigh.message).toContain(
      'manifest test.json: services.0.minReplicas: minReplicas (2) must not exceed replicas (1)',
    );
    const zero = manifestError({ name: 's', partitioning: { kind: 'singleton' }, minReplicas: 0 });
    expect(zero.message).toContain('services.0.minReplicas');
    const fraction = manifestError({ name: 's', partitioning: { kind: 'singleton' }, minReplicas: 1.5 });
    expect(fraction.message).toContain('services.0.minReplicas');
  });

  it('the chaos shape: a pass that saw one eligible node does not commit replicas [n1]; it waits with the old voters', () => {
    // n1 and n2 answered the fence (a majority of the old set), but the pass planned from a
    // membership snapshot holding only n1.
    const decision = decidePrimary(old, [answer('n1', 41), answer('n2', 41)], new Set(['n1']), null);
    expect(decision).toMatchObject({ kind: 'primary', node: 'n1' });
    const next = nextConfiguration(old, 5, decision, ['n1'], [], 2);
    expect(next).toMatchObject({
      partition: 'counter/30',
      epoch: 5,
      primary: null,
      status: 'quorum-loss',
      replicas: ['n3', 'n1', 'n2'],
      building: [],
    });
    expect(next.reason).toContain('1 active replicas available, minimum replica-set size is 2');
  });

  it('commits when the new set keeps the minimum, primary first', () => {
    const decision = decidePrimary(old, [answer('n1', 40), answer('n2', 41)], new Set(['n1', 'n2']), null);
    const next = nextConfiguration(old, 5, decision, ['n1', 'n2'], [], 2);
    expect(next).toEqual({
      partition: 'counter/30',
      epoch: 5,
      primary: 'n2',
      replicas: ['n2', 'n1'],
      building: [],
      status: 'ok',
      previousEpochLastLsn: 41,
    });
  });

  it('does not count replicas still being built toward the minimum', () => {
    const decision = decidePrimary(old, [answer('n1', 41), answer('n2', 41)], new Set(['n1']), null);
    expect(decision.kind).toBe('primary');
    const next = nextConfiguration(old, 5, decision, ['n1', 'n4'], ['n4'], 2);
    expect(next.status).toBe('quorum-loss');
    expect(next.primary).toBeNull();
  });

  it('keeps a one-replica service working on one node', () => {
    const single: PartitionConfiguration = { ...old, primary: 'n1', replicas: ['n1'] };
    const decision = decidePrimary(single, [answer('n1', 7)], new Set(['n1']), 'n1');
    const next = nextConfiguration(single, 5, decision, ['n1'], [], 1);
    expect(next).toMatchObject({ status: 'ok', primary: 'n1', replicas: ['n1'], epoch: 5 });
  });

  it('reports why it waits in the partition health shown by status', () => {
    const decision = decidePrimary(old, [answer('n1', 40)], new Set(['n1']), null);
    const next = nextConfiguration(old, 5, decision, ['n1'], [], 2);
    expect(next.reason).toContain('1 of the 2 replicas needed answered');
    expect(partitionHealth(next)).toEqual({
      partition: 'counter/30',
      status: 'ERROR',
      reason: next.reason,
    });
    const belowMin = nextConfiguration(
      old,
      5,
      decidePrimary(old, [answer('n1', 40), answer('n2', 40)], new Set(['n1']), null),
      ['n1'],
      [],
      2,
    );
    expect(partitionHealth(belowMin).reason).toMatch(/^quorum loss: .*minimum replica-set size is 2/);
  });

  it('property: never commits fewer active replicas than the minimum; waiting keeps the old set', () => {
    const nodes = ['n1', 'n2', 'n3', 'n4', 'n5'];
    fc.assert(
      fc.property(
        fc.subarray(nodes, { minLength: 1 }),
        fc.subarray(nodes),
        fc.subarray(nodes),
        fc.subarray(nodes),
        fc.integer({ min: 1, max: 5 }),
        fc.array(fc.integer({ min: 0, max: 100 }), { minLength: 5, maxLength: 5 }),
        (oldSet, answered, plan, planBuilding, minReplicas, lsns) => {
          const before: PartitionConfiguration = { ...old, primary: oldSet[0]!, replicas: oldSet };
          const answers = answered.map((n, i) => answer(n, lsns[i]!));
          const building = planBuilding.filter((n) => plan.includes(n));
          const fit = new Set(plan.filter((n) => !building.includes(n)));
          const decision = decidePrimary(before, answers, fit, null);
          const next = nextConfiguration(before, 5, decision, plan, building, minReplicas);
          expect(next.epoch).toBe(5);
          if (next.status === 'ok') {
            expect(activeCount(next.replicas, next.building)).toBeGreaterThanOrEqual(minReplicas);
            expect(next.replicas[0]).toBe(next.primary);
          } else {
            expect(next.status).toBe('quorum-loss');
            expect(next.primary).toBeNull();
            expect(next.replicas).toEqual(before.replicas);
            expect(next.reason).toMatch(/^quorum loss: /);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
