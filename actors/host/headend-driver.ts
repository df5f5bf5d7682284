import type { CollectedReading } from '../../adapters/field-data.js';
import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import { silentLogger } from '../../core/logger.js';
import type { FieldLink } from '../device/field.js';
import type { Job, JobOutcome } from '../domain/jobs.js';
import type { OutboxEntry } from '../hosting/outbox.js';
import type { HeadendServiceName } from '../hosting/services.js';
import type { JobsTimings } from '../jobs-manager/reminder-clock.js';
import { applyImport } from '../registry/bulk-import.js';
import { applyRegistryCommand, type RegistryCommand, type RegistryEffect } from '../registry/commands.js';
import { emptyRegistry, type RegistryState } from '../registry/types.js';
import { validLoadProfileEveryMinutes } from '../work-manager/config.js';
import { type DayClock, entryInstantMs } from '../work-manager/day-clock.js';
import { type AckHold, ActorLanes, defaultAckHold, fanInActors } from './actor-lanes.js';
import { DevicePlans } from './device-plans.js';
import { type Addressing, singleton } from './effect-routes.js';
import { EntryRouter } from './entry-router.js';
import { FieldExchanges } from './field-exchanges.js';
import { readReplay } from './resume-replay.js';
import type { ActorAddress, ServicePorts } from './service-ports.js';
import { defaultStreamWritesInFlight, type StreamWriter, StreamWrites } from './stream-writes.js';

/**
 * The head-end driver: the process that holds the field links and writes the output, while
 * every service's state lives behind ServicePorts (the cluster's actors, or the same machines
 * in process). It delivers each actor's outbox entries to the next actors (per-actor lanes:
 * ordered per actor, concurrent across actors), executes device requests on the field links,
 * hands the integration stream to the output writers, and acknowledges each entry once all
 * it caused has been committed. Nothing it holds is needed after a crash: a new driver
 * (`resume`) reads the outboxes and the last completed step back from the actors.
 */

export type { StreamWriter } from './stream-writes.js';

/** The jobs manager's part of a day clock: reminders forced on/off, and its timings (ms). */
export type JobsClockOptions = { reminders?: boolean; timings?: Partial<JobsTimings> };

export type HeadendDriverOptions = {
  ports: ServicePorts;
  clock: Clock;
  fieldLink: (concentratorId: string) => FieldLink | undefined;
  /** Key of the singletons (registry, work manager, jobs manager, integration). */
  name: string;
  /** Writes a stream batch (CSV + CIM); it must skip positions it has already written. */
  writeStream?: StreamWriter;
  logger?: Logger;
  maxConcurrentCalls?: number;
  /** TLog manager actors (buckets of concentrators); default 8. */
  tlogBuckets?: number;
  /** Fan-in actors' calls wait for their wave (ActorLanes: opt-in, see there); default false. */
  waves?: boolean;
  /**
   * The work manager runs on its own day clock (durable reminders on the cluster): this
   * driver does not tick it, it only delivers what its outbox holds (`follow`).
   */
  followWorkManager?: boolean;
  /**
   * Acknowledgements wait to ride on each actor's next call within these bounds (ActorLanes
   * `AckHold`; default `defaultAckHold`); false: every settle sends them all, each actor's in
   * a call of its own (the driver before issue 7's change, for comparison).
   */
  ackHold?: Partial<AckHold> | false;
  /**
   * Stream entries handed to `writeStream` before the earliest of them has been written
   * (default 4; 1: one at a time, as before session 13). Acknowledged in position order.
   */
  streamWritesInFlight?: number;
};

/** Which acknowledgements a settle sends: past the hold's bounds, all, or none. */
export type SettleAcks = 'bounded' | 'all' | 'none';

const importChunkRows = 200;

export class HeadendDriver {
  /** A copy of the registry actor's state, updated in step with it (the bridge reads it synchronously). */
  registry: RegistryState = emptyRegistry();
  readonly outcomes: JobOutcome[];
  private readonly lanes: ActorLanes;
  private readonly logger: Logger;
  /** Device requests running on the field links (field-exchanges.ts). */
  private readonly field: FieldExchanges;
  /** Stream entries handed to the writer, acknowledged in position order (stream-writes.ts). */
  private readonly writes: StreamWrites;
  private error: unknown;
  /** Delivering outbox entries on (entry-router.ts). */
  private readonly router: EntryRouter;
  /** Entries routed at the last recorded step (`stepDone`). */
  private routedAtMark = 0;
  /** The last step recorded, and a later one done but not recorded (it routed nothing). */
  private markedMs: number | undefined;
  private unmarkedStepMs: number | undefined;
  private readonly maxStepLagMs: number;
  /** Device requests in one write each (device-plans.ts). */
  private readonly plans: DevicePlans;

  constructor(private readonly options: HeadendDriverOptions) {
    this.logger = options.logger ?? silentLogger;
    this.field = new FieldExchanges(options.fieldLink);
    this.writes = new StreamWrites(
      options.writeStream,
      Math.max(1, options.streamWritesInFlight ?? defaultStreamWritesInFlight),
      (err) => {
        this.error ??= err;
      },
    );
    this.maxStepLagMs =
      (options.ackHold === false ? 0 : options.ackHold?.maxAgeMs) ?? defaultAckHold.maxAgeMs;
    this.lanes = new ActorLanes({
      ports: options.ports,
      now: () => options.clock.now(),
      // Following the work manager, its entries are taken from its outbox only (`follow`), in id
      // order: its reminder makes entries this driver never sees in a reply, and routing a
      // later one from a reply first would skip them (the per-source high-water mark).
      onEntry: (address, entry) => {
        if (this.options.followWorkManager && address.service === 'work-manager') return;
        this.router.route(address, entry);
      },
      onError: (err) => {
        this.error ??= err;
      },
      ...(options.maxConcurrentCalls !== undefined ? { maxConcurrentCalls: options.maxConcurrentCalls } : {}),
      ...(options.waves ? { holdsForWave: fanInActors } : {}),
      ...(options.ackHold ? { ackHold: options.ackHold } : {}),
      // Not held, so their outboxes are empty after every settle: a followed work manager
      // gets no call from this driver (its reminders tick it), so a held acknowledgement would
      // wait for a bound, and its outbox is what a new driver reads as the jobs still to
      // deliver; a worker is keyed by job kind alone, shared by every head-end name on the
      // cluster, and another head-end's driver resuming would deliver its held entries again
      // into that head-end.
      holdsAcks: (address) =>
        address.service !== 'worker' && !(options.followWorkManager && address.service === 'work-manager'),
    });
    this.plans = new DevicePlans(options.ports, this.lanes, this.field, () => options.clock.now());
    this.router = new EntryRouter({
      ports: options.ports,
      lanes: this.lanes,
      field: this.field,
      writes: this.writes,
      plans: this.plans,
      addressing: this.addressing,
      now: () => options.clock.now(),
      logger: this.logger,
      onError: (err) => {
        this.error ??= err;
      },
    });
    this.outcomes = this.router.outcomes;
  }

  /** Acknowledgements held back to ride on later calls (ActorLanes). */
  get heldAcks(): { entries: number; bytes: number } {
    return this.lanes.heldAcks;
  }

  get callCount(): number {
    return this.lanes.callCount;
  }

  /** Device requests delivered with their answer in one call (issue 7), so far. */
  get oneWriteRequests(): number {
    return this.plans.oneWriteRequests;
  }

  private get addressing(): Addressing {
    return { name: this.options.name, tlogBuckets: this.options.tlogBuckets ?? 8 };
  }

  private singleton<N extends HeadendServiceName>(service: N): ActorAddress<N> {
    return singleton(this.addressing, service);
  }

  /** Applies a registry command (throws its HeadendError, nothing changed) and sends it to the registry actor. */
  applyRegistry(command: RegistryCommand): RegistryEffect[] {
    const nowMs = this.options.clock.now();
    const { effects } = applyRegistryCommand(this.registry, command, nowMs);
    this.lanes.post(this.singleton('registry'), { commands: [command] });
    return effects;
  }

  /** A bulk import, all or nothing. */
  importRegistry(rows: (RegistryCommand | RegistryCommand[])[]): number {
    const { rows: count } = applyImport(this.registry, rows, this.options.clock.now());
    // In chunks (one replicated event each stays small); the copy above has accepted them all,
    // and the actor applies the same rows in the same order, so each chunk is accepted too.
    for (let i = 0; i < rows.length; i += importChunkRows)
      this.lanes.post(this.singleton('registry'), {
        commands: [{ type: 'import', rows: rows.slice(i, i + importChunkRows) }],
      });
    return count;
  }

  /** Submits a job (a work order); resolves with its outcome. */
  submitJob(job: Job): Promise<JobOutcome> {
    const outcome = this.router.waiters.wait(job.id);
    this.lanes.post(this.singleton('jobs-manager'), { commands: [{ type: 'submit', job }] });
    return outcome;
  }

  readingsOf(jobId: string): CollectedReading[] {
    return this.router.readingsOf(jobId);
  }

  /**
   * Runs the schedules at the current instant. The work manager's tick carries the instant
   * as its seq: a tick re-sent by a restarted driver is dropped, and what it caused is still
   * in the work manager's outbox.
   */
  tick(): void {
    const nowMs = this.options.clock.now();
    this.lanes.post(this.singleton('work-manager'), {
      from: 'clock',
      seq: nowMs,
      commands: [{ type: 'tick' }],
    });
    this.lanes.tick(this.singleton('jobs-manager'));
  }

  /**
   * Sets the work manager's load profile collection period (minutes dividing 1440; it is
   * replicated state: a resumed driver need not send it again). Validated here first, so a
   * wrong period throws its HeadendError and nothing is sent.
   */
  configureWorkManager(loadProfileEveryMinutes: number): void {
    validLoadProfileEveryMinutes(loadProfileEveryMinutes);
    this.lanes.post(this.singleton('work-manager'), {
      commands: [{ type: 'configure', loadProfileEveryMinutes }],
    });
  }

  /**
   * Starts the work manager's day clock (`followWorkManager` drivers): from now on its durable
   * reminder runs its schedule on the cluster, whether this driver runs or not. The jobs
   * manager gets it too (actors/jobs-manager/reminder-clock.ts).
   */
  async startDayClock(clock: DayClock, jobs: JobsClockOptions = {}): Promise<void> {
    this.lanes.post(this.singleton('work-manager'), { commands: [{ type: 'setClock', clock }] });
    // The jobs manager gets the same clock: at rate 1 (or with jobs.reminders) its own reminder
    // runs its retries, timeouts and deadlines; otherwise it only keeps it and this driver ticks.
    this.lanes.post(this.singleton('jobs-manager'), { commands: [{ type: 'setClock', clock, ...jobs }] });
    await this.settle();
  }

  /**
   * One round of following the work manager's day clock: the entries its reminders put in its
   * outbox since the last round are delivered in order, each at the instant it was decided at
   * (`advance` moves this driver's clock, the field's time, there), each settled and recorded
   * as a completed step; then the clock moves to the work manager's last tick. Returns
   * whether anything moved. Simulated time for the field and the jobs manager thus never runs
   * ahead of the schedule: a slow driver falls behind and catches up, and no job meets its
   * deadline because the driver was slow.
   */
  async follow(advance: (atMs: number) => void): Promise<boolean> {
    await this.settle();
    const address = this.singleton('work-manager');
    const state = await this.options.ports.state(address);
    const routed = this.router.routedUpToOf(address);
    let moved = false;
    const stepAt = async (atMs: number, entry?: OutboxEntry<unknown>) => {
      if (atMs > this.options.clock.now()) advance(atMs);
      if (entry) this.router.route(address, entry);
      this.lanes.tick(this.singleton('jobs-manager'));
      await this.settle();
      await this.stepDone(this.options.clock.now());
      moved = true;
    };
    for (const entry of state.outbox)
      if (entry.id > routed) await stepAt(entryInstantMs(entry.effects) ?? this.options.clock.now(), entry);
    const last = state.inner.lastTickMs;
    if (last !== undefined && last > this.options.clock.now()) await stepAt(last);
    return moved;
  }

  /** Records the step as done on the cluster (after settle): a new driver resumes after it. */
  async stepDone(atMs: number): Promise<void> {
    // A step that routed nothing (a clock-only step: the schedules had nothing due) changes
    // nothing a successor needs: recording it would be a call and a round of commits that
    // carry only bookkeeping. It is recorded with the next step that did route something, or
    // once it lags the last recorded step by the hold's age; a driver resuming from an older
    // step re-runs those empty steps (their ticks are dropped by instant) and finds nothing.
    if (this.router.routedCount === this.routedAtMark && atMs - (this.markedMs ?? atMs) < this.maxStepLagMs) {
      this.unmarkedStepMs = atMs;
      return;
    }
    this.markStepDone(atMs);
    await this.settle();
  }

  /**
   * `stepDone` without waiting: call it after `settle`, and its commit goes with the next
   * step's first calls (the tick) instead of taking a round of commits of its own.
   */
  markStepDone(atMs: number): void {
    this.routedAtMark = this.router.routedCount;
    this.markedMs = atMs;
    this.unmarkedStepMs = undefined;
    this.lanes.post(this.singleton('integration'), {
      from: 'clock',
      seq: atMs,
      commands: [{ type: 'stepDone', atMs }],
    });
  }

  /**
   * Waits until no call, field request or output write is outstanding; throws the first failure.
   * Then acknowledgements still held back are sent and waited for: by default ('bounded') only
   * those past the hold's bounds (`ackHold`; all of them with `ackHold: false`), the rest ride
   * on each actor's next call; 'all' leaves no outbox entry behind (the end of a run); 'none'
   * sends none (a driver stepping simulated time then calls `flushAcks()` with its next tick).
   * An entry not yet acknowledged when a driver dies is delivered again by the next one and
   * dropped by its receivers.
   */
  async settle(options: { acks?: SettleAcks } = {}): Promise<void> {
    const acks = options.acks ?? 'bounded';
    // Sending everything: the last step done is recorded too.
    if (acks === 'all' && this.unmarkedStepMs !== undefined) this.markStepDone(this.unmarkedStepMs);
    for (;;) {
      if (this.error !== undefined) throw this.error;
      if (this.lanes.busy || this.field.size > 0 || this.writes.pending > 0) {
        await Promise.all([this.lanes.idle(), ...this.field.underWay, this.writes.chain]);
        continue;
      }
      if (acks === 'none' || !this.flushAcks(acks)) return;
      await this.lanes.idle();
    }
  }

  /**
   * Sends the acknowledgements held back past the hold's bounds ('bounded', all of them with
   * `ackHold: false`) or 'all'; those of actors with a call about to start ride on it (call it
   * after `tick`). Returns whether any was sent.
   */
  flushAcks(which: 'bounded' | 'all' = 'bounded'): boolean {
    return this.lanes.flushAcks(this.options.ackHold === false ? 'all' : which);
  }

  /**
   * Waits, ignoring failures, until nothing this driver started is still running (calls,
   * field requests, output writes): a driver being replaced must not write behind its successor.
   */
  async quiesce(): Promise<void> {
    while (this.lanes.busy || this.field.size > 0 || this.writes.pending > 0)
      await Promise.all([this.lanes.idle(), ...this.field.underWay, this.writes.chain]).catch(
        () => undefined,
      );
  }

  /**
   * A new driver taking over: the registry copy and the last completed step from the actors,
   * then every actor's unacknowledged outbox entries delivered on (the receivers drop what
   * had already arrived), device requests still current re-executed, and the stream not yet
   * acknowledged written (the writers skip positions they have). Returns the last completed step.
   */
  async resume(): Promise<number | undefined> {
    const replay = await readReplay(this.options.ports, this.addressing, {
      followWorkManager: this.options.followWorkManager ?? false,
    });
    this.registry = replay.registry;
    for (const { address, entries } of replay.entries)
      for (const entry of entries) this.router.route(address, entry);
    await this.settle();
    return replay.integration.lastStepMs;
  }

  /** The whole state of one of the singletons (summary, reports). */
  singletonState<N extends 'registry' | 'work-manager' | 'jobs-manager' | 'integration'>(service: N) {
    return this.options.ports.state(this.singleton(service));
  }
}
