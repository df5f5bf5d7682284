import {
  type ActorSystemRef,
  configurePersistence,
  query,
  type Ref,
  spawnPersistent,
  start,
  stop,
} from 'nact';
import { afterEach } from 'vitest';
import type { AnyActorBehaviour } from '../../../cluster/actors/actor-definition.js';
import {
  type ActivePartition,
  type CallMsg,
  type CallReply,
  createSpawnOptions,
  newActivePartition,
} from '../../../cluster/actors/actor-turn.js';
import { type Reminder, ReminderScheduler } from '../../../cluster/actors/reminders.js';
import { ReplicatedPersistenceEngine } from '../../../cluster/actors/replicated-persistence-engine.js';
import { ReplicatedReminderStore } from '../../../cluster/actors/replicated-reminder-store.js';
import { FormatGatedEngine } from '../../../cluster/format/store-format.js';
import type { NodeId, PartitionConfiguration } from '../../../cluster/replicator/contract.js';
import type { ReplicatorOptions } from '../../../cluster/replicator/options.js';
import type { ReplicatedStore } from '../../../cluster/replicator/store-api.js';
import { systemClock } from '../../../core/clock.js';
import { silentLogger } from '../../../core/logger.js';
import { addressBook, config, removeNodeData, startNode, type TestNode } from '../../replicator/support.js';

/**
 * What the actor-turn integration tests share (atomic-reminder, reminder-unknown-outcome,
 * arrived-json, persisted-format): one partition on real replica hosts (test/replicator/support.ts, gRPC, data on
 * disk) and one actor hosted by the runtime's turn (cluster/actors/actor-turn.ts) through nact's
 * persistence over that partition's replicated store, as ActorHost hosts it. Each test starts
 * its own; everything started is stopped and its data removed after each test.
 */

/** One actor hosted by the real turn. */
export type HostedActor = {
  /** A call through the turn (dedup by `idem`, persist, reply), answered within the call timeout. */
  call(method: string, arg: unknown, idem: string): Promise<CallReply>;
  /** The partition's bookkeeping: its `reminders` is the scheduler the turn arms. */
  active: ActivePartition;
  /** The actor's nact system: stopping it and hosting again recovers the actor from the store. */
  system: ActorSystemRef;
};

export type HostActorOptions = {
  service: string;
  /** The actor's key (its persistence key is `<partition>|<key>`). */
  key: string;
  behaviour: AnyActorBehaviour;
  /** What a due reminder does. */
  onFire: (reminder: Reminder) => Promise<void>;
  callTimeoutMs: number;
  /**
   * Persist through the store-format gate (FormatGatedEngine over the replicated engine), as
   * every node does (cluster/node/data-plane.ts): the persisted-format suite. Default: the
   * replicated engine alone.
   */
  formatGated?: boolean;
  /** The cluster's write format, as the node's WriteFormatWatch gives it to the turn. */
  writeFormat?: () => number;
  /** Snapshot every n events instead of the turn's default, to see snapshots in a short test. */
  snapshotEvery?: number;
};

export type ReplicatedTurn = {
  /**
   * Starts a node per id (with `options`); the first hosts the primary of epoch 1, the others
   * secondaries. Resolves with the nodes, in `ids` order, and the primary's store.
   */
  startPartition(
    ids: readonly NodeId[],
    options?: Partial<ReplicatorOptions>,
  ): Promise<{ nodes: TestNode[]; store: ReplicatedStore }>;
  /** A scheduler over `store`'s reminders (system clock), stopped after the test. */
  reminderScheduler(store: ReplicatedStore, onFire: (reminder: Reminder) => Promise<void>): ReminderScheduler;
  /** The actor `options.key` hosted on `store` in a fresh nact system (which recovers it from the log). */
  hostActor(store: ReplicatedStore, options: HostActorOptions): HostedActor;
};

/** Registers the after-each cleanup; call once, at the top of a test file, for `partition`. */
export function replicatedTurnPerTest(partition: string): ReplicatedTurn {
  let nodes: TestNode[] = [];
  let systems: ActorSystemRef[] = [];
  let schedulers: ReminderScheduler[] = [];
  afterEach(async () => {
    for (const s of schedulers) s.stop();
    schedulers = [];
    for (const s of systems) stop(s);
    systems = [];
    for (const n of nodes) await n.stop().catch(() => {});
    for (const n of nodes) removeNodeData(n);
    nodes = [];
  });

  const reminderScheduler: ReplicatedTurn['reminderScheduler'] = (store, onFire) => {
    const scheduler = new ReminderScheduler(
      new ReplicatedReminderStore(store),
      systemClock,
      silentLogger,
      onFire,
    );
    schedulers.push(scheduler);
    return scheduler;
  };

  return {
    async startPartition(ids, options = {}) {
      const started: TestNode[] = [];
      for (const id of ids) {
        const node = await startNode(id, options);
        // Registered as soon as it runs, so a failure starting the next one still cleans it up.
        nodes.push(node);
        started.push(node);
      }
      const [primary, ...secondaries] = started;
      if (!primary) throw new Error('startPartition needs at least one node id');
      const cfg = config(partition, 1, primary.id, [...ids]);
      for (const s of secondaries) await (await s.host.replica(partition)).becomeSecondary(cfg);
      const replica = await primary.host.replica(partition);
      await replica.becomePrimary(cfg, addressBook(nodes));
      return { nodes: started, store: replica as unknown as ReplicatedStore };
    },

    reminderScheduler,

    hostActor(
      store,
      { service, key, behaviour, onFire, callTimeoutMs, formatGated, writeFormat, snapshotEvery },
    ) {
      const replicated = new ReplicatedPersistenceEngine(store);
      const system = start(
        configurePersistence(formatGated ? new FormatGatedEngine(replicated, store, partition) : replicated),
      );
      systems.push(system);
      const active = newActivePartition(
        { partition, epoch: 1 } as PartitionConfiguration,
        system,
        reminderScheduler(store, onFire),
      );
      const options = createSpawnOptions(active, behaviour, service, {
        dedup: true,
        clock: systemClock,
        logger: silentLogger,
        invoke: async () => undefined,
        send: () => undefined,
        ...(writeFormat ? { writeFormat } : {}),
      });
      const properties =
        snapshotEvery === undefined
          ? options.properties
          : { ...(options.properties as object), snapshotEvery };
      const ref = spawnPersistent(
        system,
        options.handler as never,
        `${partition}|${key}`,
        key,
        properties as never,
      ) as Ref<CallMsg>;
      const call = (method: string, arg: unknown, idem: string): Promise<CallReply> =>
        query(ref, (sender: Ref<CallReply>) => ({ kind: 'call', method, arg, idem, sender }), callTimeoutMs);
      return { call, active, system };
    },
  };
}
