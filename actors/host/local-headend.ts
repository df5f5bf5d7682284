import type { CollectedReading } from '../../adapters/field-data.js';
import type { Clock } from '../../core/clock.js';
import { isMeterfabricError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { silentLogger } from '../../core/logger.js';
import type { FieldLink } from '../device/field.js';
import {
  applyDeviceCommand,
  type DeviceCommand,
  type DeviceEffect,
  type DeviceState,
  newDevice,
} from '../device/state.js';
import { type Job, type JobKind, type JobOutcome, jobKinds } from '../domain/jobs.js';
import {
  applyJobsManagerCommand,
  type JobsManagerCommand,
  type JobsManagerConfig,
  type JobsManagerEffect,
  type JobsManagerState,
  newJobsManager,
} from '../jobs-manager/state.js';
import { applyImport } from '../registry/bulk-import.js';
import { applyRegistryCommand, type RegistryCommand, type RegistryEffect } from '../registry/commands.js';
import { commissionedMetersOf } from '../registry/queries.js';
import { emptyRegistry, type RegistryState } from '../registry/types.js';
import { applyToReporting, newReporting, type ReportingState } from '../reporting/store.js';
import { lifecycleRecord, type TLogRecord } from '../tlog/records.js';
import { newTLog, type RoutedRecord, route, type TLogState } from '../tlog/router.js';
import {
  applyWorkManagerCommand,
  newWorkManager,
  type WorkManagerCommand,
  type WorkManagerConfig,
  type WorkManagerState,
} from '../work-manager/schedule.js';
import { applyWorkerCommand, newWorker, type WorkerCommand, type WorkerState } from '../workers/state.js';
import { FieldExchanges } from './field-exchanges.js';

/**
 * The head-end's services wired together in one process: each service's state machine, with
 * effects delivered to the next service through a work queue, and field requests executed
 * through FieldLinks. This is the single-node host (tests, the demo without a cluster); the
 * cluster host delivers the same commands through ActorProxy calls and persists each state.
 */

export type RoutedSink = (routed: RoutedRecord[]) => void | Promise<void>;

/**
 * Where the jobs manager runs when not in this process: e.g. the cluster's `jobs-manager`
 * actor through ActorProxy. `callKey` is unique per call, so a call retried across a failover
 * is answered from the actor's dedup table rather than applied twice.
 */
export type JobsManagerPort = {
  call(command: JobsManagerCommand, nowMs: number, callKey: string): Promise<JobsManagerEffect[]>;
};

export type LocalHeadendOptions = {
  clock: Clock;
  fieldLink: (concentratorId: string) => FieldLink | undefined;
  sink?: RoutedSink;
  workManager?: Partial<WorkManagerConfig>;
  jobsManager?: Partial<JobsManagerConfig>;
  /** Run the jobs manager elsewhere (the cluster); its calls are made one at a time, in order. */
  jobsManagerPort?: JobsManagerPort;
  logger?: Logger;
};

/** Readings kept for jobs someone waits on (on-demand reads), most recent first to survive. */
const maxRememberedJobReadings = 10_000;

type Message =
  | { to: 'workManager'; command: WorkManagerCommand }
  | { to: 'jobsManager'; command: JobsManagerCommand }
  | { to: 'worker'; kind: JobKind; command: WorkerCommand }
  | { to: 'device'; concentratorId: string; command: DeviceCommand }
  | { to: 'tlog'; records: TLogRecord[] };

export class LocalHeadend {
  readonly registry: RegistryState = emptyRegistry();
  readonly workManager: WorkManagerState;
  readonly jobsManager: JobsManagerState;
  readonly workers: Record<JobKind, WorkerState>;
  readonly devices = new Map<string, DeviceState>();
  readonly tlog: TLogState = newTLog();
  readonly reporting: ReportingState = newReporting();
  /** Completed job outcomes in order: for tests and the closing summary. */
  readonly outcomes: JobOutcome[] = [];
  private readonly mailbox: Message[] = [];
  /** Next message to deliver: an index, since shift() moves the whole array (a bulk import's
   * 600,000 messages made each drain quadratic). */
  private mailboxHead = 0;
  /** Remote jobs-manager calls under way (one at a time, chained). */
  private readonly pendingRemote = new Set<Promise<void>>();
  /** Field requests under way on the concentrators' links. */
  private readonly field = new FieldExchanges((concentratorId) => this.options.fieldLink(concentratorId));
  private readonly sinkWrites: Promise<void>[] = [];
  private readonly outcomeWaiters = new Map<string, ((o: JobOutcome) => void)[]>();
  private readonly readingsByJob = new Map<string, CollectedReading[]>();
  private readonly logger: Logger;
  private remoteChain: Promise<void> = Promise.resolve();
  private remoteCalls = 0;
  /** The first failed remote jobs-manager call (after the proxy's own retries): settle() throws it. */
  private remoteError: unknown;

  constructor(private readonly options: LocalHeadendOptions) {
    this.workManager = newWorkManager(options.workManager);
    this.jobsManager = newJobsManager(options.jobsManager);
    this.workers = Object.fromEntries(jobKinds.map((k) => [k, newWorker(k)])) as Record<JobKind, WorkerState>;
    this.logger = options.logger ?? silentLogger;
  }

  private now(): number {
    return this.options.clock.now();
  }

  /** Applies a registry command (throws its HeadendError unchanged) and feeds its effects on. */
  applyRegistry(command: RegistryCommand): RegistryEffect[] {
    const { effects } = applyRegistryCommand(this.registry, command, this.now());
    this.onRegistryEffects(effects);
    return effects;
  }

  /** A bulk import (actors/registry/bulk-import.ts), all or nothing, then its effects fed on. */
  importRegistry(rows: readonly (RegistryCommand | readonly RegistryCommand[])[]): number {
    const { rows: count, effects } = applyImport(this.registry, rows, this.now());
    this.onRegistryEffects(effects);
    return count;
  }

  private onRegistryEffects(effects: readonly RegistryEffect[]): void {
    for (const effect of effects) {
      if (effect.type === 'meterCommissioned') {
        this.syncDeviceMeters(effect.concentratorId);
        this.post({
          to: 'workManager',
          command: {
            type: 'meterCommissioned',
            meterSerial: effect.meterSerial,
            concentratorId: effect.concentratorId,
            atMs: effect.atMs,
          },
        });
        this.post({ to: 'tlog', records: [lifecycleRecord(effect, 'meter.commissioned')] });
      } else if (effect.type === 'meterDecommissioned') {
        this.syncDeviceMeters(effect.concentratorId);
        this.post({ to: 'tlog', records: [lifecycleRecord(effect, 'meter.decommissioned')] });
      } else {
        const concentrator = this.registry.concentrators[effect.concentratorId];
        if (concentrator)
          this.post({
            to: 'workManager',
            command: {
              type: 'addConcentrator',
              concentratorId: concentrator.id,
              timeZone: concentrator.timeZone,
            },
          });
        this.syncDeviceMeters(effect.concentratorId);
      }
    }
    this.drain();
  }

  /** Submits a job (a work order from the CIM bridge); resolves with its outcome. */
  submitJob(job: Job): Promise<JobOutcome> {
    const outcome = new Promise<JobOutcome>((resolve) => {
      const list = this.outcomeWaiters.get(job.id) ?? [];
      list.push(resolve);
      this.outcomeWaiters.set(job.id, list);
    });
    const existing = this.options.jobsManagerPort ? undefined : this.jobsManager.outcomes[job.id];
    this.post({ to: 'jobsManager', command: { type: 'submit', job } });
    this.post({ to: 'jobsManager', command: { type: 'tick' } });
    this.drain();
    if (existing) this.resolveOutcome(existing);
    return outcome;
  }

  /** Readings a finished job collected (kept for jobs that were waited on, e.g. on-demand reads). */
  readingsOf(jobId: string): CollectedReading[] {
    return this.readingsByJob.get(jobId) ?? [];
  }

  /** Runs the schedules at the current instant: due jobs, retries, dispatch. */
  tick(): void {
    this.post({ to: 'workManager', command: { type: 'tick' } });
    this.post({ to: 'jobsManager', command: { type: 'tick' } });
    this.drain();
  }

  /** Waits until no field request and no sink write is outstanding. */
  async settle(): Promise<void> {
    for (;;) {
      this.drain();
      if (this.remoteError !== undefined) throw this.remoteError;
      if (this.pendingRemote.size === 0 && this.field.size === 0 && this.sinkWrites.length === 0) return;
      await Promise.all([...this.pendingRemote, ...this.field.underWay, ...this.sinkWrites.splice(0)]);
    }
  }

  private syncDeviceMeters(concentratorId: string): void {
    const meters = commissionedMetersOf(this.registry, concentratorId).map((m) => m.serial);
    this.post({ to: 'device', concentratorId, command: { type: 'setMeters', meters } });
  }

  private post(message: Message): void {
    this.mailbox.push(message);
  }

  private drain(): void {
    for (let message = this.mailbox[this.mailboxHead]; message; message = this.mailbox[this.mailboxHead]) {
      this.mailboxHead += 1;
      try {
        this.deliver(message);
      } catch (err) {
        if (!isMeterfabricError(err)) throw err;
        this.logger.warn({ err, to: message.to }, 'head-end message refused');
      }
    }
    this.mailbox.length = 0;
    this.mailboxHead = 0;
  }

  private deliver(message: Message): void {
    const nowMs = this.now();
    switch (message.to) {
      case 'workManager': {
        for (const effect of applyWorkManagerCommand(this.workManager, message.command, nowMs).effects)
          this.post({ to: 'jobsManager', command: { type: 'submit', job: effect.job } });
        this.post({ to: 'jobsManager', command: { type: 'tick' } });
        return;
      }
      case 'jobsManager': {
        const port = this.options.jobsManagerPort;
        if (!port) {
          this.onJobsManagerEffects(
            applyJobsManagerCommand(this.jobsManager, message.command, nowMs).effects,
          );
          return;
        }
        // Remote calls go one at a time, in order, each with its own key (dedup across failover).
        const key = `jm-${this.remoteCalls++}`;
        const command = message.command;
        const call: Promise<void> = this.remoteChain
          .then(() => port.call(command, nowMs, key))
          .then(
            (effects) => {
              this.onJobsManagerEffects(effects);
              this.drain();
            },
            (err: unknown) => {
              this.remoteError ??= err;
            },
          )
          .finally(() => this.pendingRemote.delete(call));
        this.remoteChain = call;
        this.pendingRemote.add(call);
        return;
      }
      case 'worker': {
        for (const effect of applyWorkerCommand(this.workers[message.kind], message.command, nowMs).effects) {
          if (effect.type === 'deviceRequest')
            this.post({
              to: 'device',
              concentratorId: effect.concentratorId,
              command: { type: 'request', job: effect.job, attempt: effect.attempt },
            });
          else if (effect.type === 'tlog') this.post({ to: 'tlog', records: effect.records });
          else {
            this.post({
              to: 'jobsManager',
              command: {
                type: 'attemptResult',
                jobId: effect.jobId,
                attempt: effect.attempt,
                result: effect.result,
              },
            });
            this.post({ to: 'jobsManager', command: { type: 'tick' } });
          }
        }
        return;
      }
      case 'device': {
        let device = this.devices.get(message.concentratorId);
        if (!device) {
          device = newDevice(message.concentratorId, []);
          this.devices.set(message.concentratorId, device);
        }
        let effects: DeviceEffect[];
        try {
          effects = applyDeviceCommand(device, message.command, nowMs).effects;
        } catch (err) {
          if (!isMeterfabricError(err) || message.command.type !== 'request') throw err;
          // A full device queue fails this attempt; the jobs manager retries it with backoff.
          const { job, attempt } = message.command;
          effects = [
            { type: 'failed', job, attempt, errorCode: err.code, errorMessage: err.message, retryable: true },
          ];
        }
        for (const effect of effects) this.onDeviceEffect(message.concentratorId, effect);
        return;
      }
      case 'tlog': {
        const { routed } = route(this.tlog, message.records);
        if (routed.length === 0) return;
        applyToReporting(this.reporting, routed);
        const write = this.options.sink?.(routed);
        if (write) this.sinkWrites.push(write);
        return;
      }
    }
  }

  private onJobsManagerEffects(effects: readonly JobsManagerEffect[]): void {
    for (const effect of effects) {
      if (effect.type === 'dispatch')
        this.post({
          to: 'worker',
          kind: effect.job.kind,
          command: { type: 'assign', job: effect.job, attempt: effect.attempt },
        });
      else if (effect.type === 'outcome') {
        this.outcomes.push(effect.outcome);
        this.post({ to: 'workManager', command: { type: 'jobOutcome', outcome: effect.outcome } });
        this.resolveOutcome(effect.outcome);
      }
    }
  }

  private onDeviceEffect(concentratorId: string, effect: DeviceEffect): void {
    switch (effect.type) {
      case 'send': {
        this.field.run(concentratorId, effect.requestId, effect.request, (command: DeviceCommand) => {
          this.post({ to: 'device', concentratorId, command });
          this.drain();
        });
        return;
      }
      case 'completed':
        if (this.outcomeWaiters.has(effect.job.id)) {
          this.readingsByJob.set(effect.job.id, [...this.readingsOf(effect.job.id), ...effect.readings]);
          // Bounded: the oldest waited-on job's readings go first (Map keeps insertion order).
          while (this.readingsByJob.size > maxRememberedJobReadings) {
            const oldest = this.readingsByJob.keys().next().value;
            if (oldest === undefined) break;
            this.readingsByJob.delete(oldest);
          }
        }
        this.post({
          to: 'worker',
          kind: effect.job.kind,
          command: { type: 'deviceCompleted', result: effect },
        });
        return;
      case 'failed':
        this.post({ to: 'worker', kind: effect.job.kind, command: { type: 'deviceFailed', result: effect } });
        return;
      case 'event':
        this.post({
          to: 'tlog',
          records: [{ type: 'event', event: effect.event, concentratorId, collectedAtMs: this.now() }],
        });
        return;
    }
  }

  private resolveOutcome(outcome: JobOutcome): void {
    const waiters = this.outcomeWaiters.get(outcome.jobId);
    if (!waiters) return;
    this.outcomeWaiters.delete(outcome.jobId);
    for (const resolve of waiters) resolve(outcome);
  }
}
