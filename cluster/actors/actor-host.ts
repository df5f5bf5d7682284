import {
  configurePersistence,
  type PersistenceEngine,
  query,
  type Ref,
  spawnPersistent,
  start,
  stop,
} from 'nact';
import type { Clock } from '../../core/clock.js';
import { isMeterfabricError, MeterfabricError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { distPath } from '../../core/paths.js';
import { partitionFor, type ServiceSpec } from '../config/manifest.js';
import type { LocalReplicas } from '../node/local-replicas.js';
import type { NodeMetrics } from '../node/metrics.js';
import type { NodeId, PartitionConfiguration, PartitionId } from '../replicator/contract.js';
import type { AnyActorBehaviour, OutgoingCallRequest } from './actor-definition.js';
import { rememberArrivedC } from './arrived-json.js';

export type OutgoingCall = OutgoingCallRequest;

import {
  type ActivePartition,
  type CallMsg,
  type CallReply,
  createSpawnOptions,
  newActivePartition,
} from './actor-turn.js';
import { ReminderScheduler, type ReminderStore } from './reminders.js';

/** What the data plane gives the actor host for one partition it is primary of. */
export type PartitionActorStore = { engine: PersistenceEngine; reminders: ReminderStore };

export type ActorHostOptions = {
  nodeId: NodeId;
  services: readonly ServiceSpec[];
  replicas: LocalReplicas;
  /** Opens the nact persistence engine and the reminder dictionary of a partition's replica. */
  openStore: (partition: PartitionId) => Promise<PartitionActorStore>;
  configOf: (partition: PartitionId) => PartitionConfiguration | undefined;
  primaryEpoch: (partition: PartitionId) => number | null;
  /** This node's membership lease is valid (else it has stepped down from every primary). */
  leaseValid: () => boolean;
  /** Delivers an actor's post-commit calls to other actors. */
  send?: (call: OutgoingCall) => void;
  /** TEST ONLY (MF_FAULT_INJECT=double-apply-retries): skip idempotency dedup. */
  doubleApplyRetries: boolean;
  maxPayloadBytes: number;
  /** The cluster's persisted write format (cluster/format/): snapshots are written in it. */
  writeFormat?: () => number;
  /** How long one call may wait for its actor (its turn plus the quorum commit). */
  callTimeoutMs?: number;
  clock: Clock;
  logger: Logger;
  metrics: NodeMetrics;
};

/** Bounds: actors per partition hosted at once, key and method sizes. */
const maxActorsPerPartition = 200_000;
const maxKeyBytes = 256;
/** What nact accepts as an actor name (its ActorPath.isValidName). */
const nactNamePattern = /^[a-z0-9\-$_.+!*'(),]+$/i;

/**
 * Hosts the nact actors of the partitions this node is primary of. One nact system per
 * partition, whose persistence engine writes through that partition's replicator, so
 * `ctx.persist` returns after a quorum commit and deactivation (losing the primary role)
 * simply stops the system. A call's change and its idempotency key are one persisted record.
 */
export class ActorHost {
  private readonly active = new Map<PartitionId, ActivePartition>();
  private readonly activating = new Map<PartitionId, Promise<ActivePartition | null>>();
  private readonly behaviours = new Map<string, Promise<AnyActorBehaviour>>();
  private readonly serviceByName: Map<string, ServiceSpec>;

  constructor(private readonly options: ActorHostOptions) {
    this.serviceByName = new Map(options.services.map((s) => [s.name, s]));
  }

  /** Called when this node became primary of `config`. */
  activate(config: PartitionConfiguration): void {
    const service = this.serviceByName.get(config.partition.slice(0, config.partition.indexOf('/')));
    if (!service?.actor) return;
    const existing = this.active.get(config.partition);
    if (existing && existing.config.epoch === config.epoch) return;
    if (existing) this.deactivate(config.partition);
    const activation = this.open(config).finally(() => {
      if (this.activating.get(config.partition) === activation) this.activating.delete(config.partition);
    });
    this.activating.set(config.partition, activation);
  }

  private async open(config: PartitionConfiguration): Promise<ActivePartition | null> {
    const { openStore, logger } = this.options;
    const store = await openStore(config.partition);
    if (this.options.primaryEpoch(config.partition) !== config.epoch) return null;
    const system = start(configurePersistence(store.engine));
    const partition = newActivePartition(
      config,
      system,
      new ReminderScheduler(store.reminders, this.options.clock, logger, (r) =>
        this.invoke(config.partition, r.service, r.key, r.method, r.arg, r.idem),
      ),
    );
    this.active.set(config.partition, partition);
    // Reminders are loaded when the replica becomes primary, so one due during a failover
    // fires on the new primary; its idempotency key makes it fire once.
    await partition.reminders
      .start()
      .catch((err: unknown) =>
        logger.warn({ err: String(err), partition: config.partition }, 'loading reminders failed'),
      );
    logger.debug({ partition: config.partition, epoch: config.epoch }, 'actors active');
    return partition;
  }

  /** Called when this node stopped being primary of `partition`: its actors stop at once. */
  deactivate(partition: PartitionId): void {
    const active = this.active.get(partition);
    this.activating.delete(partition);
    if (!active) return;
    this.active.delete(partition);
    active.reminders.stop();
    for (const timer of active.timers.values()) clearTimeout(timer);
    active.timers.clear();
    stop(active.system);
  }

  activeActorCount(): number {
    let n = 0;
    for (const a of this.active.values()) n += a.actors.size;
    return n;
  }

  /** Serves one gRPC actor call: route check, size bounds, then the actor's turn. */
  async call(req: {
    service: string;
    key: string;
    method: string;
    payload: Buffer;
    idempotencyKey: string;
    partition: string;
  }): Promise<Buffer> {
    const started = performance.now();
    try {
      if (req.payload.length > this.options.maxPayloadBytes) {
        throw new MeterfabricError(
          'MF_PAYLOAD_TOO_LARGE',
          `payload of ${req.payload.length} bytes exceeds ${this.options.maxPayloadBytes}`,
        );
      }
      if (Buffer.byteLength(req.key) > maxKeyBytes || req.key.length === 0) {
        throw new MeterfabricError('MF_BAD_REQUEST', `actor key must be 1..${maxKeyBytes} bytes`);
      }
      if (req.idempotencyKey.length === 0 || req.idempotencyKey.length > 128) {
        throw new MeterfabricError('MF_BAD_REQUEST', 'idempotency key must be 1..128 characters');
      }
      let arg: unknown = null;
      if (req.payload.length > 0) {
        const text = req.payload.toString('utf8');
        try {
          arg = JSON.parse(text);
        } catch {
          throw new MeterfabricError('MF_BAD_REQUEST', 'payload is not valid JSON');
        }
        // A packed command is persisted as it arrived: keep its text for the record (issue 7).
        rememberArrivedC(text, arg);
      }
      const result = await this.invoke(
        req.partition || null,
        req.service,
        req.key,
        req.method,
        arg,
        req.idempotencyKey,
      );
      this.options.metrics.actorCalls.inc({ outcome: 'ok' });
      return Buffer.from(JSON.stringify(result ?? null));
    } catch (err) {
      this.options.metrics.actorCalls.inc({ outcome: isMeterfabricError(err) ? err.code : 'MF_INTERNAL' });
      throw err;
    } finally {
      this.options.metrics.actorCallSeconds.observe((performance.now() - started) / 1000);
    }
  }

  private async invoke(
    expectedPartition: PartitionId | null,
    serviceName: string,
    key: string,
    method: string,
    arg: unknown,
    idem: string,
  ): Promise<unknown> {
    const service = this.serviceByName.get(serviceName);
    if (!service?.actor) {
      throw new MeterfabricError(
        'MF_UNKNOWN_SERVICE',
        `no actor service "${serviceName}" in this cluster's manifests`,
      );
    }
    const partition = partitionFor(service, key);
    if (expectedPartition && expectedPartition !== partition) {
      throw new MeterfabricError(
        'MF_BAD_REQUEST',
        `key "${key}" belongs to ${partition}, not ${expectedPartition}`,
      );
    }
    if (!this.options.leaseValid()) {
      throw new MeterfabricError(
        'MF_NOT_PRIMARY',
        `node ${this.options.nodeId} has stepped down: its membership lease is not valid; refresh and retry`,
        { partition },
      );
    }
    const active = this.active.get(partition) ?? (await this.activating.get(partition)) ?? null;
    if (!active || this.options.primaryEpoch(partition) !== active.config.epoch) {
      throw new MeterfabricError(
        'MF_NOT_PRIMARY',
        `node ${this.options.nodeId} is not the primary of ${partition}; refresh and retry`,
        { partition },
      );
    }
    const behaviour = await this.behaviour(service);
    let actor: Ref<CallMsg>;
    try {
      actor = this.actorFor(active, behaviour, serviceName, key);
    } catch (err) {
      if (isMeterfabricError(err)) throw err;
      // nact refuses to spawn into a stopped actor system ("Actor has stopped or never even
      // existed"): the partition was deactivated (it moved or closed) after the check above.
      // Nothing ran, so the caller refreshes and retries elsewhere.
      throw new MeterfabricError(
        'MF_NOT_PRIMARY',
        `node ${this.options.nodeId} stopped hosting ${partition} during the call (${String(err)}); refresh and retry`,
        { partition },
      );
    }
    const reply = await query(
      actor,
      (sender: Ref<CallReply>): CallMsg => ({ kind: 'call', method, arg, idem, sender }),
      this.options.callTimeoutMs ?? 10_000,
    ).catch(() => {
      // The actor stopped because it could not recover (e.g. a store this node refuses to read):
      // that reason, not a timeout. Asked only on this failure path.
      const failure = active.spawnOptions.get(serviceName)?.failureOf(key);
      if (failure) return failure;
      throw new MeterfabricError(
        'MF_NO_WRITE_QUORUM',
        `call to ${serviceName}/${key} timed out; its outcome is unknown, retry with the same idempotency key`,
      );
    });
    if (!reply.ok) throw new MeterfabricError(reply.code, reply.message);
    return reply.result;
  }

  private behaviour(service: ServiceSpec): Promise<AnyActorBehaviour> {
    let loaded = this.behaviours.get(service.name);
    if (!loaded) {
      const spec = service.actor!;
      loaded = import(distPath(spec.module)).then((module: Record<string, unknown>) => {
        const behaviour = module[spec.export] as AnyActorBehaviour | undefined;
        if (!behaviour || typeof behaviour.handle !== 'function') {
          throw new MeterfabricError(
            'MF_CONFIG_INVALID',
            `${spec.module} exports no actor behaviour "${spec.export}"`,
          );
        }
        return behaviour;
      });
      this.behaviours.set(service.name, loaded);
    }
    return loaded;
  }

  private actorFor(
    active: ActivePartition,
    behaviour: AnyActorBehaviour,
    service: string,
    key: string,
  ): Ref<CallMsg> {
    const existing = active.actors.get(key);
    if (existing) return existing;
    if (active.actors.size >= maxActorsPerPartition) {
      throw new MeterfabricError(
        'MF_TOO_MANY_ACTORS',
        `partition ${active.config.partition} hosts ${maxActorsPerPartition} actors already`,
      );
    }
    let spawnOptions = active.spawnOptions.get(service);
    if (!spawnOptions) {
      spawnOptions = createSpawnOptions(active, behaviour, service, {
        dedup: !this.options.doubleApplyRetries,
        clock: this.options.clock,
        logger: this.options.logger,
        invoke: (key, method, arg, idem) =>
          this.invoke(active.config.partition, service, key, method, arg, idem),
        send: (call) => this.options.send?.(call),
        ...(this.options.writeFormat ? { writeFormat: this.options.writeFormat } : {}),
      });
      active.spawnOptions.set(service, spawnOptions);
    }
    // The actor's nact name is its key when nact accepts it, else a generated one mapped back:
    // nact's own anonymous names are random 32-bit numbers and collide at this scale.
    let name = key;
    if (!nactNamePattern.test(key) || active.keyByName.has(key)) {
      do name = `(${active.nextName++})`;
      while (active.actors.has(name) || active.keyByName.has(name));
      active.keyByName.set(name, key);
    }
    const ref = spawnPersistent(
      active.system,
      spawnOptions.handler as never,
      `${active.config.partition}|${key}`,
      name,
      spawnOptions.properties as never,
    ) as Ref<CallMsg>;
    active.actors.set(key, ref);
    return ref;
  }

  /**
   * One handler and one options object per (partition, service), shared by all its actors:
   * per-actor closures would cost more memory than the actors themselves at 100,000 actors.
   * The handler learns its actor's key from nact's context (the actor's name).
   */
  async close(): Promise<void> {
    for (const partition of [...this.active.keys()]) this.deactivate(partition);
  }
}
