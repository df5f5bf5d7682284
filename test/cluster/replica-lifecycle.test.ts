import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ReplicaLifecycle } from '../../cluster/node/replica-lifecycle.js';
import { primaryConflicts, type RoleChange, RoleLog } from '../../cluster/node/role-log.js';
import type {
  PartitionConfiguration,
  PartitionReplica,
  ReplicaStatus,
} from '../../cluster/replicator/contract.js';
import { ManualClock } from '../../core/clock.js';
import { silentLogger } from '../../core/logger.js';

/** Records the lifecycle calls the driver makes (the real replica is exercised by the integration suites). */
class RecordingReplica implements PartitionReplica {
  readonly calls: string[] = [];
  fenced = 0;
  constructor(readonly partition: string) {}
  status(): ReplicaStatus {
    return {
      partition: this.partition,
      role: 'none',
      epoch: this.fenced,
      lastPersistedLsn: 0,
      committedLsn: 0,
      appliedLsn: 0,
      lastPersistedEpoch: 0,
    };
  }
  async fence(epoch: number) {
    this.fenced = Math.max(this.fenced, epoch);
    this.calls.push(`fence:${epoch}`);
    return {
      partition: this.partition,
      fencedEpoch: this.fenced,
      lastPersistedEpoch: 0,
      lastPersistedLsn: 0,
    };
  }
  async becomePrimary(config: PartitionConfiguration) {
    this.calls.push(`primary:${config.epoch}`);
  }
  async becomeSecondary(config: PartitionConfiguration) {
    this.calls.push(`secondary:${config.epoch}`);
  }
  async demote() {
    this.calls.push('demote');
  }
  async replicate(): Promise<number> {
    return 0;
  }
  setLeaseValidUntil(): void {}
  async close() {}
}

function setup() {
  const replica = new RecordingReplica('s/0');
  const events: string[] = [];
  const logPath = join(mkdtempSync(join(tmpdir(), 'mf-roles-')), 'roles.jsonl');
  const lifecycle = new ReplicaLifecycle(
    'n1',
    { open: async () => replica, opened: () => [replica], close: async () => {} },
    () => undefined,
    new RoleLog(logPath),
    new ManualClock(1000),
    silentLogger,
    { onPrimary: (c) => events.push(`active:${c.epoch}`), onNotPrimary: (p) => events.push(`inactive:${p}`) },
  );
  return { replica, events, lifecycle, logPath };
}

const config = (
  epoch: number,
  primary: string,
  status: PartitionConfiguration['status'] = 'ok',
): PartitionConfiguration => ({
  partition: 's/0',
  epoch,
  primary,
  replicas: ['n1', 'n2', 'n3'],
  building: [],
  status,
  previousEpochLastLsn: 0,
});

async function waitUntil(done: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
}

describe('replica lifecycle driver', () => {
  it('takes a role only for an epoch this process was fenced to (a restarted node ignores old configurations)', async () => {
    const { replica, lifecycle, events } = setup();
    lifecycle.onConfiguration(config(3, 'n1'));
    await settle();
    expect(replica.calls).toEqual([]);
    await lifecycle.fence('s/0', 4);
    lifecycle.onConfiguration(config(4, 'n1'));
    await settle();
    expect(replica.calls).toEqual(['fence:4', 'primary:4']);
    expect(events).toEqual(['active:4']);
    expect(lifecycle.primaryEpoch('s/0')).toBe(4);
  });

  it('stops serving as primary the moment it is fenced to a newer epoch, then follows the new configuration', async () => {
    const { replica, lifecycle, events } = setup();
    await lifecycle.fence('s/0', 2);
    lifecycle.onConfiguration(config(2, 'n1'));
    await settle();
    await lifecycle.fence('s/0', 3);
    expect(events).toEqual(['active:2', 'inactive:s/0']);
    expect(lifecycle.primaryEpoch('s/0')).toBeNull();
    lifecycle.onConfiguration(config(3, 'n2', 'reconfiguring'));
    await settle();
    expect(replica.calls).toEqual(['fence:2', 'primary:2', 'fence:3']);
    lifecycle.onConfiguration(config(3, 'n2'));
    await settle();
    expect(replica.calls.at(-1)).toBe('secondary:3');
  });

  it('ignores a configuration older than one already seen, and demotes when dropped from the set', async () => {
    const { replica, lifecycle } = setup();
    await lifecycle.fence('s/0', 5);
    lifecycle.onConfiguration(config(5, 'n2'));
    await settle();
    lifecycle.onConfiguration(config(4, 'n1'));
    await settle();
    expect(replica.calls).toEqual(['fence:5', 'secondary:5']);
    lifecycle.onConfiguration({ ...config(6, 'n2'), replicas: ['n2', 'n3'] });
    await settle();
    expect(replica.calls.at(-1)).toBe('demote');
  });

  it('steps down as primary when the lease expires and resumes only through a newer configuration', async () => {
    const { replica, lifecycle, events, logPath } = setup();
    await lifecycle.fence('s/0', 3);
    lifecycle.onConfiguration(config(3, 'n1'));
    await settle();
    let leaseValid = true;
    lifecycle.watchLease(() => leaseValid, 5);
    await new Promise((r) => setTimeout(r, 30));
    expect(lifecycle.primaryEpoch('s/0')).toBe(3); // a valid lease changes nothing
    leaseValid = false;
    await waitUntil(() => replica.calls.at(-1) === 'demote');
    expect(events).toEqual(['active:3', 'inactive:s/0']);
    expect(lifecycle.primaryEpoch('s/0')).toBeNull();
    expect(lifecycle.primaries()).toEqual([]);
    // The lease comes back, and the same configuration arrives again (a watch reload): no role.
    leaseValid = true;
    lifecycle.onConfiguration({ ...config(3, 'n1') });
    await settle();
    expect(replica.calls).toEqual(['fence:3', 'primary:3', 'demote']);
    // The FM's next configuration (fenced first) brings the role back.
    await lifecycle.fence('s/0', 4);
    lifecycle.onConfiguration(config(4, 'n1'));
    await settle();
    expect(replica.calls.slice(-2)).toEqual(['fence:4', 'primary:4']);
    expect(lifecycle.primaryEpoch('s/0')).toBe(4);
    const roles = readFileSync(logPath, 'utf8')
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as RoleChange).role);
    expect(roles).toEqual(['primary', 'none', 'primary']);
    lifecycle.close();
  });

  it('records every role change in the append-only history before acting', async () => {
    const { lifecycle, logPath } = setup();
    await lifecycle.fence('s/0', 2);
    lifecycle.onConfiguration(config(2, 'n1'));
    await settle();
    const lines = readFileSync(logPath, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as RoleChange);
    expect(lines).toEqual([{ node: 'n1', partition: 's/0', epoch: 2, role: 'primary', atMs: 1000 }]);
  });
});

describe('one-primary-per-epoch checker', () => {
  it('finds two primaries of one partition in one epoch and accepts a clean history', () => {
    const clean: RoleChange[] = [
      { node: 'n1', partition: 'p/0', epoch: 1, role: 'primary', atMs: 1 },
      { node: 'n2', partition: 'p/0', epoch: 2, role: 'primary', atMs: 2 },
      { node: 'n1', partition: 'p/0', epoch: 2, role: 'active-secondary', atMs: 2 },
    ];
    expect(primaryConflicts(clean)).toEqual([]);
    const broken = [...clean, { node: 'n3', partition: 'p/0', epoch: 2, role: 'primary' as const, atMs: 3 }];
    expect(primaryConflicts(broken)).toEqual([{ partition: 'p/0', epoch: 2, nodes: ['n2', 'n3'] }]);
  });
});
