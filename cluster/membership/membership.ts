import { EventEmitter } from 'node:events';
import type { Etcd3, IKeyValue, Lease, Watcher } from 'etcd3';
import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import type { NodeId } from '../replicator/contract.js';
import { keys } from './etcd-client.js';
import { LeaseValidity } from './lease-validity.js';

/** What a node publishes about itself under its lease. */
export type NodeRecord = {
  id: NodeId;
  /** gRPC address other nodes dial (before per-peer overrides). */
  address: string;
  /** HTTP address of /metrics and /health. */
  metricsAddress: string;
  startedAt: string;
  version: string;
  /** Set while the node hands its primaries over before exiting. */
  draining: boolean;
  /**
   * The highest persisted format the node reads (cluster/format/persisted-format.ts).
   * Absent in registrations of builds before the format gate: they read format 1.
   */
  readsFormat?: number;
};

export type MembershipOptions = {
  client: Etcd3;
  cluster: string;
  record: NodeRecord;
  leaseTtlMs: number;
  leaseMarginMs: number;
  clock: Clock;
  logger: Logger;
};

/**
 * This node's membership: a key under its own etcd lease, kept alive every TTL/3 (etcd3's
 * autoKeepAlive), and the self-fencing instant derived from the keepalives. Emits
 * 'validUntil' (ms) whenever that instant moves, and 'nodes' (Map) when membership changes.
 * When etcd reports the lease lost the node registers again with a fresh lease.
 */
export class Membership extends EventEmitter {
  private lease: Lease | null = null;
  private validity: LeaseValidity;
  private watcher: Watcher | null = null;
  private readonly members = new Map<NodeId, NodeRecord>();
  private closed = false;
  private record: NodeRecord;
  /** A re-registration loop is running (at most one: each failure retries it once). */
  private reregistering = false;
  /** The last lease etcd3 reported lost. */
  private lostLease: Lease | null = null;

  constructor(private readonly options: MembershipOptions) {
    super();
    this.validity = new LeaseValidity(options.leaseTtlMs, options.leaseMarginMs);
    this.record = options.record;
  }

  get leaseId(): Promise<string> {
    if (!this.lease) return Promise.reject(new Error('membership not started'));
    return this.lease.grant();
  }

  get validUntilMs(): number {
    return this.validity.untilMs;
  }

  isValid(): boolean {
    return this.validity.isValid(this.options.clock.now());
  }

  get nodes(): ReadonlyMap<NodeId, NodeRecord> {
    return this.members;
  }

  async start(): Promise<void> {
    await this.register();
    await this.watchMembers();
  }

  /** Marks this node as draining (the FM then moves its primaries away). */
  async setDraining(): Promise<void> {
    this.record = { ...this.record, draining: true };
    if (this.lease)
      await this.lease
        .put(keys.node(this.options.cluster, this.record.id))
        .value(JSON.stringify(this.record));
  }

  private async register(): Promise<void> {
    const { client, cluster, clock, logger } = this.options;
    const ttlSeconds = Math.ceil(this.options.leaseTtlMs / 1000);
    const sentAtMs = clock.now();
    // A lost lease must not speak for its successor: etcd3 can leave a revoked Lease with an
    // orphaned keepalive loop (one per stream error it saw) that still emits 'keepaliveFired'.
    // Counted as sends of the new lease, those never-answered keepalives would pair every
    // answer with an ever older send time in the shared validity, and the node would stay
    // self-fenced (no FM passes, no primary writes) while its lease is alive.
    this.lease?.removeAllListeners();
    const lease = client.lease(ttlSeconds);
    this.lease = lease;
    const current = (): boolean => this.lease === lease;
    lease.on('keepaliveFired', () => {
      if (current()) this.validity.keepaliveSent(clock.now());
    });
    lease.on('keepaliveSucceeded', (res) => {
      if (!current()) return;
      this.validity.keepaliveAnswered(Number(res.TTL) * 1000);
      this.emit('validUntil', this.validity.untilMs);
    });
    lease.on('keepaliveFailed', (err) => {
      if (!current()) return;
      logger.warn({ err }, 'membership keepalive failed');
      this.validity.keepaliveFailed();
    });
    lease.on('lost', (err) => {
      if (!current()) return;
      logger.warn({ err: err.message }, 'membership lease lost; stepping down and registering again');
      this.lostLease = lease;
      this.validity.lost();
      this.emit('validUntil', 0);
      this.emit('leaseLost');
      if (!this.closed) this.reregister();
    });
    await lease.put(keys.node(cluster, this.record.id)).value(JSON.stringify(this.record));
    this.validity.granted(sentAtMs, ttlSeconds * 1000);
    this.emit('validUntil', this.validity.untilMs);
    logger.info({ leaseId: await lease.grant() }, 'membership registered');
  }

  /**
   * Registers again until it succeeds. One loop at a time: a lease whose grant fails while
   * etcd is unreachable also reports itself lost, and starting a second loop from that event
   * (next to the failed attempt's own retry) doubled the loops on every failure, until etcd
   * refused the flood ("too many requests") and the node never became a member again.
   */
  private reregister(): void {
    if (this.reregistering) return;
    this.reregistering = true;
    const retry = (): void => {
      if (this.closed) {
        this.reregistering = false;
        return;
      }
      this.register().then(
        () => {
          // Lost again before we noticed success: keep going, nobody else will.
          if (this.lostLease === this.lease && !this.closed) retry();
          else this.reregistering = false;
        },
        (err: unknown) => {
          this.options.logger.warn({ err: String(err) }, 'membership re-registration failed; retrying');
          setTimeout(retry, 500).unref();
        },
      );
    };
    retry();
  }

  private async watchMembers(): Promise<void> {
    const { client, cluster } = this.options;
    const prefix = keys.nodes(cluster);
    const watcher = await client.watch().prefix(prefix).create();
    this.watcher = watcher;
    const apply = (kv: IKeyValue, deleted: boolean): void => {
      const id = kv.key.toString().slice(prefix.length);
      if (deleted) this.members.delete(id);
      else {
        try {
          this.members.set(id, JSON.parse(kv.value.toString()) as NodeRecord);
        } catch {
          this.options.logger.warn({ key: kv.key.toString() }, 'ignoring malformed node record');
        }
      }
      this.emit('nodes', this.members);
    };
    watcher.on('put', (kv) => apply(kv, false));
    watcher.on('delete', (kv) => apply(kv, true));
    watcher.on('connected', () => void this.reloadMembers());
    await this.reloadMembers();
  }

  /** Full read: after a watch reconnect, deletes may have been missed. */
  private async reloadMembers(): Promise<void> {
    const { client, cluster } = this.options;
    const prefix = keys.nodes(cluster);
    const all = await client.getAll().prefix(prefix).strings();
    this.members.clear();
    for (const [key, value] of Object.entries(all)) {
      try {
        this.members.set(key.slice(prefix.length), JSON.parse(value) as NodeRecord);
      } catch {
        // malformed records are skipped; the watcher logs them
      }
    }
    this.emit('nodes', this.members);
  }

  /**
   * Revokes the lease, then cancels the member watch. Revoking deletes our key at once, so
   * peers need not wait a TTL to notice; it goes first because it is what peers see: with
   * etcd slow but alive, the caller's bound (stop-steps.ts) may end close() after one round
   * trip, and the watch dies with the process anyway. Safe while the watch still runs: it
   * sees our own key deleted, drops us from `nodes` and emits 'nodes' (the node's FM is
   * stopped by then, so its poke does nothing; the write format is recomputed without us),
   * and the revoked lease is no longer current, so neither its events nor a 'lost' start a
   * re-registration (`closed` is set before, too).
   */
  async close(): Promise<void> {
    this.closed = true;
    const lease = this.lease;
    this.lease = null;
    await lease?.revoke().catch(() => undefined);
    this.validity.lost();
    await this.watcher?.cancel().catch(() => undefined);
  }
}
