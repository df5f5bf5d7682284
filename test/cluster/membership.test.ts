import { EventEmitter } from 'node:events';
import type { Etcd3 } from 'etcd3';
import { describe, expect, it } from 'vitest';
import { Membership } from '../../cluster/membership/membership.js';
import { ManualClock } from '../../core/clock.js';
import { silentLogger } from '../../core/logger.js';

/** An etcd3 Lease as far as Membership uses it: events plus put/grant/revoke. */
class FakeLease extends EventEmitter {
  constructor(
    readonly id: string,
    private readonly unreachable: () => boolean,
  ) {
    super();
  }
  put(_key: string) {
    return {
      value: async (_v: string) => {
        if (!this.unreachable()) return;
        // etcd3: the grant fails, the lease reports itself lost, and the put rejects.
        setImmediate(() =>
          this.emit('lost', new Error('Execution prevented because the circuit breaker is open')),
        );
        throw new Error('Execution prevented because the circuit breaker is open');
      },
    };
  }
  async grant(): Promise<string> {
    return this.id;
  }
  revoked = false;
  async revoke(): Promise<void> {
    this.revoked = true;
  }
  fire(): void {
    this.emit('keepaliveFired');
  }
  answer(ttlSeconds: number): void {
    this.emit('keepaliveSucceeded', { ID: this.id, TTL: String(ttlSeconds) });
  }
}

type FakeWatcher = EventEmitter & { cancel(): Promise<void> };

function fakeClient(
  leases: FakeLease[],
  unreachable = () => false,
  watcher: FakeWatcher = Object.assign(new EventEmitter(), { cancel: async () => undefined }),
): Etcd3 {
  const client = {
    lease: () => {
      const lease = new FakeLease(`lease-${leases.length + 1}`, unreachable);
      leases.push(lease);
      return lease;
    },
    watch: () => ({ prefix: () => ({ create: async () => watcher }) }),
    getAll: () => ({ prefix: () => ({ strings: async () => ({}) }) }),
  };
  return client as unknown as Etcd3;
}

const settle = (ms = 10) => new Promise((r) => setTimeout(r, ms));

const record = {
  id: 'n1',
  address: '127.0.0.1:1',
  metricsAddress: '127.0.0.1:2',
  startedAt: new Date(0).toISOString(),
  version: 'test',
  draining: false,
};

/** A membership of node n1 in cluster c (TTL 3 s, margin 0.5 s) on `client`, on a manual clock. */
function membershipOn(client: ReturnType<typeof fakeClient>, clock = new ManualClock(1_000_000)): Membership {
  return new Membership({
    client,
    cluster: 'c',
    record,
    leaseTtlMs: 3000,
    leaseMarginMs: 500,
    clock,
    logger: silentLogger,
  });
}

describe('membership lease validity across re-registration', () => {
  it('stays valid on a new lease although the lost lease still fires keepalives', async () => {
    const clock = new ManualClock(1_000_000);
    const leases: FakeLease[] = [];
    const membership = membershipOn(fakeClient(leases), clock);
    await membership.start();
    const first = leases[0]!;
    first.fire();
    first.answer(3);
    expect(membership.isValid()).toBe(true);

    // etcd says the first lease is gone; the node registers again with a second one.
    first.emit('lost', new Error('Lease is expired or revoked'));
    await settle();
    expect(leases).toHaveLength(2);
    const second = leases[1]!;
    expect(membership.isValid()).toBe(true);

    // For a minute the second lease is kept alive every second, while an orphaned keepalive
    // loop of the first (as etcd3 leaves after repeated stream errors) fires too, unanswered.
    for (let s = 0; s < 60; s++) {
      clock.advance(1000);
      first.fire();
      second.fire();
      first.fire();
      clock.advance(5);
      second.answer(3);
    }
    expect(membership.validUntilMs - clock.now()).toBeGreaterThan(1000);
    expect(membership.isValid()).toBe(true);
    await membership.close();
  });

  it('retries registration in one loop while etcd is unreachable, then registers again', async () => {
    const leases: FakeLease[] = [];
    let unreachable = false;
    const membership = membershipOn(fakeClient(leases, () => unreachable));
    await membership.start();
    unreachable = true;
    leases[0]!.emit('lost', new Error('We lost connection to etcd and our lease has expired.'));
    await settle(1_800);
    // One attempt at once and one per 500 ms: not a loop that doubles on every failure.
    expect(leases.length - 1).toBeLessThanOrEqual(5);
    unreachable = false;
    await settle(600);
    const registered = leases.length;
    expect(membership.isValid()).toBe(true);
    await settle(600);
    expect(leases).toHaveLength(registered); // nothing left retrying
    await membership.close();
  });
});

describe('membership close', () => {
  it('revokes the lease without waiting for the member watch cancel; its own key deleted starts no re-registration', async () => {
    // etcd slow but alive: the watch cancel is not answered (yet). Peers notice a departing
    // node by its key, deleted by the revoke, so the revoke must not wait behind the cancel.
    let cancelled = false;
    const watcher: FakeWatcher = Object.assign(new EventEmitter(), {
      cancel: () => new Promise<void>(() => undefined),
    });
    const leases: FakeLease[] = [];
    const membership = membershipOn(fakeClient(leases, () => false, watcher));
    await membership.start();
    watcher.emit('put', { key: Buffer.from('/c/nodes/n1'), value: Buffer.from(JSON.stringify(record)) });
    expect([...membership.nodes.keys()]).toEqual(['n1']);
    void membership.close().then(() => {
      cancelled = true;
    });
    await settle();
    expect(leases[0]!.revoked).toBe(true);
    expect(cancelled).toBe(false);
    expect(membership.isValid()).toBe(false);

    // What etcd then tells the node while its watch still runs: its key deleted, its lease
    // gone. It drops itself from the members and does not register again.
    watcher.emit('delete', { key: Buffer.from('/c/nodes/n1'), value: Buffer.from('') });
    leases[0]!.emit('lost', new Error('Lease is expired or revoked'));
    await settle(600);
    expect(membership.nodes.size).toBe(0);
    expect(leases).toHaveLength(1);
  });
});
