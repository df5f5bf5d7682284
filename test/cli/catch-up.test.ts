import { describe, expect, it } from 'vitest';
import { type CatchUpVerdict, judgeCatchUp } from '../../cluster/cli/catch-up.js';
import { watchCatchUp } from '../../cluster/cli/catch-up-watch.js';
import { buildStatusReport, type StatusReport } from '../../cluster/cli/status-report.js';
import type { NodeRecord } from '../../cluster/membership/membership.js';
import type { PartitionConfiguration, ReplicaStatus } from '../../cluster/replicator/contract.js';

/**
 * catch-up.ts (pure) and catch-up-watch.ts (its polling driver): when `up` may say a restarted node (here n2) has caught up, from two status
 * reports polled one after the other. Reports are built by status-report.ts from etcd-like
 * configurations and the replica statuses each node would answer.
 */

const member = (id: string, draining = false): NodeRecord => ({
  id,
  address: `127.0.0.1:710${id.slice(1)}`,
  metricsAddress: '',
  startedAt: '',
  version: '0',
  draining,
});

const config = (partition: string, over: Partial<PartitionConfiguration> = {}): PartitionConfiguration => ({
  partition,
  epoch: 3,
  primary: 'n1',
  replicas: ['n1', 'n2', 'n3'],
  building: [],
  status: 'ok',
  previousEpochLastLsn: 0,
  ...over,
});

const replica = (
  partition: string,
  role: ReplicaStatus['role'],
  persisted: number,
  over: Partial<ReplicaStatus> = {},
): ReplicaStatus => ({
  partition,
  role,
  epoch: 3,
  lastPersistedLsn: persisted,
  committedLsn: persisted,
  appliedLsn: persisted,
  lastPersistedEpoch: 3,
  ...over,
});

type Cluster = {
  nodes?: NodeRecord[];
  configs?: PartitionConfiguration[];
  /** Replica statuses per node that answers (a node absent here is unreachable). */
  statuses: Record<string, ReplicaStatus[]>;
};

const report = (c: Cluster): StatusReport =>
  buildStatusReport({
    cluster: 'c',
    failoverManager: 'n1',
    nodes: c.nodes ?? [member('n1'), member('n2'), member('n3')],
    configs: c.configs ?? [config('s/0')],
    replicaStatuses: new Map(Object.entries(c.statuses)),
  });

/** The primary n1 at commit 18 and n3 in sync: the cluster around n2 in the earlier poll. */
const earlierSteady: Cluster = {
  statuses: {
    n1: [replica('s/0', 'primary', 20, { committedLsn: 18 })],
    n2: [],
    n3: [replica('s/0', 'active-secondary', 20)],
  },
};

const targets = new Map([['s', 3]]);

type Case = {
  name: string;
  earlier?: Cluster;
  now: Cluster;
  target?: Map<string, number>;
  expected: CatchUpVerdict | { caughtUp: false; pendingMatches: RegExp };
};

const cases: Case[] = [
  {
    name: 'not registered in etcd (lease lapsed, not back yet)',
    now: { nodes: [member('n1'), member('n3')], statuses: earlierSteady.statuses },
    expected: { caughtUp: false, pendingMatches: /n2 is not registered/ },
  },
  {
    name: 'registered but its Admin Status does not answer',
    now: { statuses: { n1: earlierSteady.statuses.n1!, n3: earlierSteady.statuses.n3! } },
    expected: { caughtUp: false, pendingMatches: /n2 does not answer/ },
  },
  {
    name: 'draining',
    now: { nodes: [member('n1'), member('n2', true), member('n3')], statuses: earlierSteady.statuses },
    expected: { caughtUp: false, pendingMatches: /n2 is draining/ },
  },
  {
    name: 'dropped from the replica set while away: registered, the placement puts it back, not there yet',
    now: {
      configs: [config('s/0', { replicas: ['n1', 'n3'] })],
      statuses: { ...earlierSteady.statuses, n2: [] },
    },
    expected: { caughtUp: false, pendingMatches: /s\/0: n2 is to be placed there/ },
  },
  {
    name: 'a partition the placement does not put on it (target 3 of 4 nodes) does not count',
    now: {
      nodes: [member('n1'), member('n2'), member('n3'), member('n4')],
      configs: [config('s/0', { replicas: ['n1', 'n3', 'n4'] }), config('s/1')],
      statuses: {
        n1: [replica('s/0', 'primary', 20, { committedLsn: 18 }), replica('s/1', 'primary', 20)],
        n2: [replica('s/1', 'active-secondary', 20)],
        n3: [],
        n4: [],
      },
    },
    earlier: {
      nodes: [member('n1'), member('n2'), member('n3'), member('n4')],
      configs: [config('s/0', { replicas: ['n1', 'n3', 'n4'] }), config('s/1')],
      statuses: { n1: [replica('s/1', 'primary', 20)] },
    },
    expected: { caughtUp: true, replicas: 1, primaries: 0 },
  },
  {
    name: "a service whose target is unknown is not judged for placement (only the node's replicas are)",
    now: { configs: [config('s/0', { replicas: ['n1', 'n3'] })], statuses: earlierSteady.statuses },
    target: new Map(),
    expected: { caughtUp: true, replicas: 0, primaries: 0 },
  },
  {
    name: 'back in the set as a building replica (copying state)',
    now: {
      configs: [config('s/0', { building: ['n2'] })],
      statuses: { ...earlierSteady.statuses, n2: [replica('s/0', 'idle-secondary', 20)] },
    },
    expected: { caughtUp: false, pendingMatches: /s\/0: n2 is building/ },
  },
  {
    name: 'still in the set from before the restart, no replica open yet (the FM has not reconfigured)',
    now: { statuses: { ...earlierSteady.statuses, n2: [] } },
    expected: { caughtUp: false, pendingMatches: /no replica running on n2/ },
  },
  {
    name: 'fenced to a newer epoch but holding no role yet',
    now: {
      configs: [config('s/0', { epoch: 4 })],
      statuses: {
        n1: [replica('s/0', 'primary', 20, { epoch: 4, committedLsn: 18 })],
        n2: [replica('s/0', 'none', 20, { epoch: 4 })],
        n3: [],
      },
    },
    earlier: {
      configs: [config('s/0', { epoch: 4 })],
      statuses: { n1: [replica('s/0', 'primary', 20, { epoch: 4, committedLsn: 18 })] },
    },
    expected: { caughtUp: false, pendingMatches: /n2 reports none, configured active secondary/ },
  },
  {
    name: 'an active secondary of an older epoch than the configuration',
    now: {
      configs: [config('s/0', { epoch: 4 })],
      statuses: { ...earlierSteady.statuses, n2: [replica('s/0', 'active-secondary', 20)] },
    },
    expected: { caughtUp: false, pendingMatches: /n2 is at epoch 3, the configuration at 4/ },
  },
  {
    name: 'the configuration is being reconfigured',
    now: {
      configs: [config('s/0', { status: 'reconfiguring', primary: null, epoch: 4 })],
      statuses: { ...earlierSteady.statuses, n2: [replica('s/0', 'active-secondary', 20)] },
    },
    expected: { caughtUp: false, pendingMatches: /configuration reconfiguring at epoch 4/ },
  },
  {
    name: 'an active secondary still streaming what it missed: persisted below what the primary had committed',
    now: {
      statuses: {
        n1: [replica('s/0', 'primary', 30, { committedLsn: 29 })],
        n2: [replica('s/0', 'active-secondary', 17)],
        n3: [replica('s/0', 'active-secondary', 30)],
      },
    },
    expected: {
      caughtUp: false,
      pendingMatches: /n2 persisted LSN 17, primary n1 had committed 18/,
    },
  },
  {
    name: "in sync: holds what the primary had committed in the earlier poll though the primary's commit moved on since",
    now: {
      statuses: {
        n1: [replica('s/0', 'primary', 30, { committedLsn: 29 })],
        n2: [replica('s/0', 'active-secondary', 18)],
        n3: [replica('s/0', 'active-secondary', 30)],
      },
    },
    expected: { caughtUp: true, replicas: 1, primaries: 0 },
  },
  {
    name: 'the primary changed between the polls: nothing to compare with yet',
    earlier: {
      configs: [config('s/0', { epoch: 2 })],
      statuses: { n1: [replica('s/0', 'primary', 20, { epoch: 2, committedLsn: 18 })] },
    },
    now: {
      statuses: {
        n1: [replica('s/0', 'primary', 30, { committedLsn: 29 })],
        n2: [replica('s/0', 'active-secondary', 30)],
      },
    },
    expected: { caughtUp: false, pendingMatches: /primary n1 not acting at epoch 3 in the previous poll/ },
  },
  {
    name: 'the configured primary not acting as one in the earlier poll',
    earlier: { statuses: { n1: [replica('s/0', 'active-secondary', 20)] } },
    now: { statuses: { n1: [replica('s/0', 'primary', 30)], n2: [replica('s/0', 'active-secondary', 30)] } },
    expected: { caughtUp: false, pendingMatches: /primary n1 not acting at epoch 3/ },
  },
  {
    name: 'primary of a partition and acting as one',
    earlier: { configs: [config('s/0', { primary: 'n2' })], statuses: {} },
    now: {
      configs: [config('s/0', { primary: 'n2' })],
      statuses: { n2: [replica('s/0', 'primary', 30)], n1: [] },
    },
    expected: { caughtUp: true, replicas: 1, primaries: 1 },
  },
  {
    name: 'configured primary but not acting as one',
    now: {
      configs: [config('s/0', { primary: 'n2' })],
      statuses: { n2: [replica('s/0', 'active-secondary', 30)], n1: [] },
    },
    expected: { caughtUp: false, pendingMatches: /n2 is configured primary but reports active-secondary/ },
  },
  {
    name: 'rebuilt by copy after the configuration made it active: idle until the copy ends',
    now: { statuses: { ...earlierSteady.statuses, n2: [replica('s/0', 'idle-secondary', 30)] } },
    expected: { caughtUp: false, pendingMatches: /n2 reports idle-secondary/ },
  },
  {
    name: 'every replica in sync, counted, with the one it is primary of; one lagging partition holds it back',
    earlier: {
      configs: [config('s/0'), config('s/1', { primary: 'n2' }), config('s/2')],
      statuses: {
        n1: [replica('s/0', 'primary', 20, { committedLsn: 18 }), replica('s/2', 'primary', 9)],
      },
    },
    now: {
      configs: [config('s/0'), config('s/1', { primary: 'n2' }), config('s/2')],
      statuses: {
        n1: [replica('s/0', 'primary', 25), replica('s/2', 'primary', 12)],
        n2: [
          replica('s/0', 'active-secondary', 19),
          replica('s/1', 'primary', 5),
          replica('s/2', 'active-secondary', 8),
        ],
      },
    },
    expected: { caughtUp: false, pendingMatches: /^s\/2: n2 persisted LSN 8, primary n1 had committed 9$/ },
  },
  {
    name: 'every replica in sync, counted, with the one it is primary of',
    earlier: {
      configs: [config('s/0'), config('s/1', { primary: 'n2' }), config('s/2')],
      statuses: {
        n1: [replica('s/0', 'primary', 20, { committedLsn: 18 }), replica('s/2', 'primary', 9)],
      },
    },
    now: {
      configs: [config('s/0'), config('s/1', { primary: 'n2' }), config('s/2')],
      statuses: {
        n1: [replica('s/0', 'primary', 25), replica('s/2', 'primary', 12)],
        n2: [
          replica('s/0', 'active-secondary', 19),
          replica('s/1', 'primary', 5),
          replica('s/2', 'active-secondary', 9),
        ],
      },
    },
    expected: { caughtUp: true, replicas: 3, primaries: 1 },
  },
];

describe('judgeCatchUp: a restarted node is caught up only once every replica placed on it is in sync', () => {
  it.each(cases)('$name', ({ earlier, now, target, expected }) => {
    const verdict = judgeCatchUp({
      node: 'n2',
      earlier: report(earlier ?? earlierSteady),
      now: report(now),
      targetReplicas: (service) => (target ?? targets).get(service),
    });
    if ('pendingMatches' in expected) {
      expect(verdict.caughtUp).toBe(false);
      const pending = verdict.caughtUp ? [] : verdict.pending;
      expect(pending).toHaveLength(1);
      expect(pending[0]).toMatch(expected.pendingMatches);
    } else {
      expect(verdict).toEqual(expected);
    }
  });

  it('lists every partition not in sync, each once', () => {
    const configs = [
      config('s/0'),
      config('s/1', { building: ['n2'] }),
      config('s/2', { replicas: ['n1', 'n3'] }),
    ];
    const verdict = judgeCatchUp({
      node: 'n2',
      earlier: report({ configs, statuses: { n1: [replica('s/0', 'primary', 20, { committedLsn: 18 })] } }),
      now: report({ configs, statuses: { n1: [], n2: [replica('s/0', 'active-secondary', 3)] } }),
      targetReplicas: (service) => targets.get(service),
    });
    expect(verdict).toEqual({
      caughtUp: false,
      replicas: 2,
      pending: [
        's/0: n2 persisted LSN 3, primary n1 had committed 18',
        's/1: n2 is building (copying state)',
        's/2: n2 is to be placed there (not in its replica set yet)',
      ],
    });
  });
});

describe('watchCatchUp: polls the status until the node is caught up, or warns past its deadline', () => {
  /** n2 streaming what it missed: the primary commits 10 more per poll, n2 persists 30 more. */
  const catchingUp = (poll: number): StatusReport =>
    report({
      statuses: {
        n1: [replica('s/0', 'primary', 100 + 10 * poll, { committedLsn: 100 + 10 * poll })],
        n2: [replica('s/0', 'active-secondary', Math.min(100 + 10 * poll, 30 * poll))],
        n3: [replica('s/0', 'active-secondary', 100 + 10 * poll)],
      },
    });

  const watch = (
    status: () => Promise<StatusReport>,
    over: { timeoutMs?: number; signal?: AbortSignal } = {},
  ) => {
    const said: string[] = [];
    const result = watchCatchUp({
      node: 'n2',
      status,
      targetReplicas: (service) => targets.get(service),
      timeoutMs: over.timeoutMs ?? 5_000,
      pollMs: 1,
      signal: over.signal ?? new AbortController().signal,
      caughtUp: (v) => said.push(`caught up ${v.replicas}/${v.primaries}`),
      notCaughtUp: (missing) => said.push(`not caught up: ${missing}`),
    });
    return { said, result };
  };

  it('says caught up at the first poll where n2 holds what the primary had committed in the poll before, not earlier', async () => {
    let polls = 0;
    // Poll 5: n2 at 150 >= 140 committed at poll 4 (poll 4: 120 < 130 at poll 3).
    const { said, result } = watch(async () => catchingUp(polls++));
    expect(await result).toBe('caught-up');
    expect(polls).toBe(6);
    expect(said).toEqual(['caught up 1/0']);
  });

  it('retries a status that cannot be read (etcd briefly away)', async () => {
    let polls = 0;
    const { said, result } = watch(async () => {
      polls++;
      if (polls % 2 === 0) throw new Error('etcd unreachable');
      return report({
        statuses: { ...earlierSteady.statuses, n2: [replica('s/0', 'active-secondary', 20)] },
      });
    });
    expect(await result).toBe('caught-up');
    expect(polls).toBe(3);
    expect(said).toEqual(['caught up 1/0']);
  });

  it('past its deadline warns what is missing (three partitions named, the rest counted) and stops watching', async () => {
    const configs = ['s/0', 's/1', 's/2', 's/3', 's/4'].map((p) => config(p, { building: ['n2'] }));
    let polls = 0;
    const { said, result } = watch(
      async () => {
        polls++;
        return report({ configs, statuses: { n1: [], n2: [], n3: [] } });
      },
      { timeoutMs: 20 },
    );
    expect(await result).toBe('timed-out');
    expect(said).toEqual([
      'not caught up: s/0: n2 is building (copying state); s/1: n2 is building (copying state); s/2: n2 is building (copying state) and 2 more',
    ]);
    const after = polls;
    await new Promise((r) => setTimeout(r, 20));
    expect(polls).toBe(after);
  });

  it('says nothing once aborted (the process exited again, or up is stopping)', async () => {
    const abort = new AbortController();
    let polls = 0;
    const { said, result } = watch(
      async () => {
        if (++polls === 3) abort.abort();
        return catchingUp(0);
      },
      { signal: abort.signal },
    );
    expect(await result).toBe('abandoned');
    expect(polls).toBe(3);
    expect(said).toEqual([]);
  });
});
