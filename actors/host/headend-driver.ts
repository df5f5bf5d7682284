import type { CollectedReading } from '../../adapters/field-data.js';
import { stableHash } from '../../cluster/config/manifest.js';
import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import { silentLogger } from '../../core/logger.js';
import type { FieldLink, FieldRequest } from '../device/field.js';
import type { DeviceCommand, DeviceEffect } from '../device/state.js';
import { type Job, type JobKind, type JobOutcome, jobKinds } from '../domain/jobs.js';
import type { OutboxEntry } from '../hosting/outbox.js';
import {
  concentratorOfKey,
  type HeadendServiceName,
  type RegistryHostedEffect,
} from '../hosting/services.js';
import type { StreamBatch } from '../integration/checkpoint-stream.js';
import type { JobsManagerEffect } from '../jobs-manager/state.js';
import { applyImport } from '../registry/bulk-import.js';
import { applyRegistryCommand, type RegistryCommand, type RegistryEffect } from '../registry/commands.js';
import { emptyRegistry, type RegistryState } from '../registry/types.js';
import type { TLogRecord } from '../tlog/records.js';
import type { RoutedRecord } from '../tlog/router.js';
import type { WorkManagerEffect } from '../work-manager/schedule.js';
import type { WorkerEffect } from '../workers/state.js';
import { ActorLanes, addressId } from './actor-lanes.js';
import type { ActorAddress, ServicePorts } from './service-ports.js';

/**
 * The head-end driver: the process that holds the field links and writes the output, while
 * every service's state lives behind ServicePorts (the cluster's actors, or the same machines
 * in process). It delivers each actor's outbox entries to the next actors (per-actor lanes:
 * ordered per actor, concurrent across actors), executes device requests on the field links,
 * hands the integration stream to the output writers, and acknowledges each entry once all
 * it caused has been committed. Nothing it holds is needed after a crash: a new driver
 * (`resume`) reads the outboxes and the last completed step back from the actors.
 */

export type StreamWriter = (position: number, batches: readonly StreamBatch[]) => Promise<void>;

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
};

const importChunkRows = 200;

/** Readings kept for jobs someone waits on (on-demand reads). */
const maxRememberedJobReadings = 10_000;

export class HeadendDriver {
  /** A copy of the registry actor's state, updated in step with it (the bridge reads it synchronously). */
  registry: RegistryState = emptyRegistry();
  readonly outcomes: JobOutcome[] = [];
  private readonly lanes: ActorLanes;
  private readonly logger: Logger;
  private readonly fieldPending = new Set<Promise<void>>();
  private writeChain: Promise<void> = Promise.resolve();
  private writesPending = 0;
  private error: unknown;
  /** Per source actor: entry id -> deliveries not yet committed. */
  private readonly outstanding = new Map<string, Map<number, number>>();
  private readonly outcomeWaiters = new Map<string, ((o: JobOutcome) => void)[]>();
  private readonly readingsByJob = new Map<string, CollectedReading[]>();

  constructor(private readonly options: HeadendDriverOptions) {
    this.logger = options.logger ?? silentLogger;
    this.lanes = new ActorLanes({
      ports: options.ports,
      now: () => options.clock.now(),
      onEntry: (address, entry) => this.route(address, entry),
      onError: (err) => {
        this.error ??= err;
      },
      ...(options.maxConcurrentCalls !== undefined ? { maxConcurrentCalls: options.maxConcurrentCalls } : {}),
    });
  }

  get callCount(): number {
    return this.lanes.callCount;
  }

  private singleton<N extends HeadendServiceName>(service: N): ActorAddress<N> {
    return { service, key: this.options.name };
  }

  private device(concentratorId: string): ActorAddress<'device'> {
    return { service: 'device', key: `${this.options.name}/${concentratorId}` };
  }

  /**
   * TLog managers are buckets of concentrators (`<name>/tlog-<n>`): their duplicate checks are
   * per meter, so one actor can route many concentrators' records, in one call per batch
   * instead of one per concentrator.
   */
  private tlog(concentratorId: string): ActorAddress<'tlog-manager'> {
    return {
      service: 'tlog-manager',
      key: `${this.options.name}/tlog-${stableHash(concentratorId) % this.tlogBuckets}`,
    };
  }

  private get tlogBuckets(): number {
    return this.options.tlogBuckets ?? 8;
  }

  private worker(kind: JobKind): ActorAddress<'worker'> {
    return { service: 'worker', key: kind.toLowerCase() };
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
    const outcome = new Promise<JobOutcome>((resolve) => {
      const list = this.outcomeWaiters.get(job.id) ?? [];
      list.push(resolve);
      this.outcomeWaiters.set(job.id, list);
    });
    this.lanes.post(this.singleton('jobs-manager'), { commands: [{ type: 'submit', job }] });
    return outcome;
  }

  readingsOf(jobId: string): CollectedReading[] {
    return this.readingsByJob.get(jobId) ?? [];
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

  /** Records the step as done on the cluster (after settle): a new driver resumes after it. */
  async stepDone(atMs: number): Promise<void> {
    this.lanes.post(this.singleton('integration'), {
      from: 'clock',
      seq: atMs,
      commands: [{ type: 'stepDone', atMs }],
    });
    await this.settle();
  }

  /** Waits until no call, field request or output write is outstanding; throws the first failure. */
  async settle(): Promise<void> {
    for (;;) {
      if (this.error !== undefined) throw this.error;
      if (this.lanes.busy || this.fieldPending.size > 0 || this.writesPending > 0) {
        await Promise.all([this.lanes.idle(), ...this.fieldPending, this.writeChain]);
        continue;
      }
      if (!this.lanes.flushAcks()) return;
      await this.lanes.idle();
    }
  }

  /**
   * Waits, ignoring failures, until nothing this driver started is still running (calls,
   * field requests, output writes): a driver being replaced must not write behind its successor.
   */
  async quiesce(): Promise<void> {
    while (this.lanes.busy || this.fieldPending.size > 0 || this.writesPending > 0)
      await Promise.all([this.lanes.idle(), ...this.fieldPending, this.writeChain]).catch(() => undefined);
  }

  /**
   * A new driver taking over: the registry copy and the last completed step from the actors,
   * then every actor's unacknowledged outbox entries delivered on (the receivers drop what
   * had already arrived), device requests still current re-executed, and the stream not yet
   * acknowledged written (the writers skip positions they have). Returns the last completed step.
   */
  async resume(): Promise<number | undefined> {
    const { ports } = this.options;
    this.registry = (await ports.state(this.singleton('registry'))).inner;
    const integration = await ports.state(this.singleton('integration'));
    const concentrators = Object.keys(this.registry.concentrators);
    const addresses: ActorAddress[] = [
      this.singleton('registry'),
      this.singleton('work-manager'),
      this.singleton('jobs-manager'),
      ...jobKinds.map((k) => this.worker(k)),
      ...[...new Set(concentrators.map((c) => addressId(this.tlog(c))))].map((id) => ({
        service: 'tlog-manager' as const,
        key: id.slice(id.indexOf('/') + 1),
      })),
    ];
    for (const address of addresses)
      for (const entry of await ports.outbox(address)) this.route(address, entry);
    for (const c of concentrators) {
      const device = await ports.state(this.device(c));
      const current = device.inner.current?.requestId;
      for (const entry of device.outbox)
        this.route(this.device(c), {
          ...entry,
          // A request no longer current was answered already: executing it again could
          // operate a relay twice.
          effects: entry.effects.filter((e) => e.type !== 'send' || e.requestId === current),
        });
    }
    for (const entry of integration.outbox) this.route(this.singleton('integration'), entry);
    await this.settle();
    return integration.inner.lastStepMs;
  }

  /** The whole state of one of the singletons (summary, reports). */
  singletonState<N extends 'registry' | 'work-manager' | 'jobs-manager' | 'integration'>(service: N) {
    return this.options.ports.state(this.singleton(service));
  }

  // --- delivering outbox entries -------------------------------------------------------

  /** Tracks an entry's deliveries; it is acknowledged when the last one is committed. */
  private route(source: ActorAddress, entry: OutboxEntry<unknown>): void {
    const sourceId = addressId(source);
    let pending = this.outstanding.get(sourceId);
    if (!pending) {
      pending = new Map();
      this.outstanding.set(sourceId, pending);
    }
    if (pending.has(entry.id)) return; // already being delivered (a replayed reply)
    for (const r of entry.refused ?? [])
      this.logger.warn({ actor: sourceId, code: r.code, reason: r.message }, 'head-end command refused');
    pending.set(entry.id, 1); // held until every delivery is posted
    const from = sourceId;
    const seq = entry.id;
    const targets = new Map<string, { address: ActorAddress; commands: unknown[] }>();
    const to = (address: ActorAddress, command: unknown) => {
      const id = addressId(address);
      const target = targets.get(id) ?? { address, commands: [] };
      target.commands.push(command);
      targets.set(id, target);
    };
    const hold = () => {
      pending.set(entry.id, (pending.get(entry.id) ?? 0) + 1);
    };
    const release = () => {
      const left = (pending.get(entry.id) ?? 1) - 1;
      if (left > 0) {
        pending.set(entry.id, left);
        return;
      }
      pending.delete(entry.id);
      this.lanes.ack(source, entry.id);
    };
    switch (source.service) {
      case 'registry':
        for (const e of entry.effects as RegistryHostedEffect[]) this.fromRegistry(e, to);
        break;
      case 'work-manager':
        for (const e of entry.effects as WorkManagerEffect[])
          to(this.singleton('jobs-manager'), { type: 'submit', job: e.job });
        break;
      case 'jobs-manager':
        for (const e of entry.effects as JobsManagerEffect[]) this.fromJobsManager(e, to);
        break;
      case 'worker':
        for (const e of entry.effects as WorkerEffect[]) this.fromWorker(e, to);
        break;
      case 'device':
        for (const e of entry.effects as DeviceEffect[])
          this.fromDevice(concentratorOfKey(source.key), seq, e, to, hold, release);
        break;
      case 'tlog-manager':
        if (entry.effects.length > 0)
          to(this.singleton('integration'), { type: 'append', routed: entry.effects as RoutedRecord[] });
        break;
      case 'integration': {
        hold();
        this.write(seq, entry.effects as StreamBatch[], release);
        break;
      }
    }
    for (const { address, commands } of targets.values()) {
      hold();
      this.lanes.post(address, { from, seq, commands }, release);
    }
    release();
  }

  private fromRegistry(e: RegistryHostedEffect, to: (a: ActorAddress, c: unknown) => void): void {
    if (e.type === 'meterCommissioned') {
      to(this.singleton('work-manager'), {
        type: 'meterCommissioned',
        meterSerial: e.meterSerial,
        concentratorId: e.concentratorId,
        atMs: e.atMs,
      });
      to(this.tlog(e.concentratorId), { type: 'route', records: [lifecycleRecord(e, 'meter.commissioned')] });
    } else if (e.type === 'meterDecommissioned') {
      to(this.tlog(e.concentratorId), {
        type: 'route',
        records: [lifecycleRecord(e, 'meter.decommissioned')],
      });
    } else if (e.type === 'concentratorMeters') {
      to(this.device(e.concentratorId), { type: 'setMeters', meters: e.meters });
      if (e.timeZone)
        to(this.singleton('work-manager'), {
          type: 'addConcentrator',
          concentratorId: e.concentratorId,
          timeZone: e.timeZone,
        });
    }
  }

  private fromJobsManager(e: JobsManagerEffect, to: (a: ActorAddress, c: unknown) => void): void {
    if (e.type === 'dispatch') {
      to(this.worker(e.job.kind), { type: 'assign', job: e.job, attempt: e.attempt });
    } else if (e.type === 'outcome') {
      this.outcomes.push(e.outcome);
      to(this.singleton('work-manager'), { type: 'jobOutcome', outcome: e.outcome });
      this.resolveOutcome(e.outcome);
    } else if (this.outcomeWaiters.has(e.jobId)) {
      // A resubmitted job someone waits on: its recorded outcome, if it has one.
      void this.options.ports.state(this.singleton('jobs-manager')).then((s) => {
        const outcome = s.inner.outcomes[e.jobId];
        if (outcome) this.resolveOutcome(outcome);
      }, this.lanesError);
    }
  }

  private readonly lanesError = (err: unknown): void => {
    this.error ??= err;
  };

  private fromWorker(e: WorkerEffect, to: (a: ActorAddress, c: unknown) => void): void {
    if (e.type === 'deviceRequest') {
      to(this.device(e.concentratorId), { type: 'request', job: e.job, attempt: e.attempt });
    } else if (e.type === 'tlog') {
      const byBucket = new Map<string, { address: ActorAddress; records: TLogRecord[] }>();
      for (const r of e.records) {
        const address = this.tlog(r.concentratorId);
        const bucket = byBucket.get(address.key) ?? { address, records: [] };
        bucket.records.push(r);
        byBucket.set(address.key, bucket);
      }
      for (const { address, records } of byBucket.values()) to(address, { type: 'route', records });
    } else {
      to(this.singleton('jobs-manager'), {
        type: 'attemptResult',
        jobId: e.jobId,
        attempt: e.attempt,
        result: e.result,
      });
    }
  }

  private fromDevice(
    concentratorId: string,
    seq: number,
    e: DeviceEffect,
    to: (a: ActorAddress, c: unknown) => void,
    hold: () => void,
    release: () => void,
  ): void {
    switch (e.type) {
      case 'send':
        hold();
        this.execute(concentratorId, seq, e.requestId, e.request, release);
        return;
      case 'completed':
        if (this.outcomeWaiters.has(e.job.id)) {
          this.readingsByJob.set(e.job.id, [...this.readingsOf(e.job.id), ...e.readings]);
          while (this.readingsByJob.size > maxRememberedJobReadings) {
            const oldest = this.readingsByJob.keys().next().value;
            if (oldest === undefined) break;
            this.readingsByJob.delete(oldest);
          }
        }
        to(this.worker(e.job.kind), { type: 'deviceCompleted', result: e });
        return;
      case 'failed':
        to(this.worker(e.job.kind), { type: 'deviceFailed', result: e });
        return;
      case 'event':
        to(this.tlog(concentratorId), {
          type: 'route',
          records: [
            { type: 'event', event: e.event, concentratorId, collectedAtMs: this.options.clock.now() },
          ],
        });
        return;
    }
  }

  /** One field exchange; its answer goes back to the device as source `field` with the entry's seq. */
  private execute(
    concentratorId: string,
    seq: number,
    requestId: string,
    request: FieldRequest,
    release: () => void,
  ): void {
    const link = this.options.fieldLink(concentratorId);
    const answer = (command: DeviceCommand) =>
      this.lanes.post(this.device(concentratorId), { from: 'field', seq, commands: [command] }, release);
    const pending: Promise<void> = (
      link
        ? link.execute(request).then(
            (response) => answer({ type: 'fieldResponse', requestId, response }),
            (err: unknown) =>
              answer({
                type: 'fieldFailure',
                requestId,
                reason: err instanceof Error ? err.message : String(err),
              }),
          )
        : Promise.resolve().then(() =>
            answer({ type: 'fieldFailure', requestId, reason: 'no field link configured' }),
          )
    ).finally(() => this.fieldPending.delete(pending));
    this.fieldPending.add(pending);
  }

  /** Stream batches are written strictly in position order, then acknowledged (the checkpoint). */
  private write(position: number, batches: StreamBatch[], release: () => void): void {
    const writer = this.options.writeStream;
    this.writesPending++;
    this.writeChain = this.writeChain
      .then(() => writer?.(position, batches))
      .then(release, (err: unknown) => {
        this.error ??= err;
      })
      .finally(() => {
        this.writesPending--;
      });
  }

  private resolveOutcome(outcome: JobOutcome): void {
    const waiters = this.outcomeWaiters.get(outcome.jobId);
    if (!waiters) return;
    this.outcomeWaiters.delete(outcome.jobId);
    for (const resolve of waiters) resolve(outcome);
  }
}

function lifecycleRecord(
  effect: Extract<RegistryEffect, { type: 'meterCommissioned' | 'meterDecommissioned' }>,
  key: 'meter.commissioned' | 'meter.decommissioned',
): TLogRecord {
  return {
    type: 'event',
    concentratorId: effect.concentratorId,
    collectedAtMs: effect.atMs,
    event: {
      deviceId: effect.meterSerial,
      deviceKind: 'meter',
      key,
      phase: 'occurred',
      timestampMs: effect.atMs,
    },
  };
}
