import type { CollectedReading } from '../../adapters/field-data.js';
import { stableHash } from '../../cluster/config/manifest.js';
import type { FieldRequest } from '../device/field.js';
import type { DeviceEffect } from '../device/state.js';
import type { JobKind, JobOutcome } from '../domain/jobs.js';
import type { OutboxEntry } from '../hosting/outbox.js';
import {
  concentratorOfKey,
  type HeadendServiceName,
  type RegistryHostedEffect,
} from '../hosting/services.js';
import type { StreamBatch } from '../integration/checkpoint-stream.js';
import type { JobsManagerEffect } from '../jobs-manager/state.js';
import { lifecycleRecord, type TLogRecord } from '../tlog/records.js';
import type { RoutedRecord } from '../tlog/router.js';
import type { WorkManagerEffect } from '../work-manager/schedule.js';
import type { WorkerEffect } from '../workers/state.js';
import { addressId } from './actor-lanes.js';
import type { ForwardedReadings } from './forwarded-readings.js';
import type { ActorAddress } from './service-ports.js';

/**
 * Where each service's effects go, as a pure function: an outbox entry of one actor becomes
 * commands for other actors (grouped per actor, in effect order) and the few things only the
 * driver can do (field I/O, writing the stream, telling waiters about outcomes). The same
 * wiring as LocalHeadend's mailbox, for services that live behind ServicePorts.
 */

export type Addressing = {
  /** Key of the singletons (registry, work manager, jobs manager, integration). */
  name: string;
  /** TLog manager actors: buckets of concentrators. */
  tlogBuckets: number;
};

export function singleton<N extends HeadendServiceName>(a: Addressing, service: N): ActorAddress<N> {
  return { service, key: a.name };
}

export function deviceOf(a: Addressing, concentratorId: string): ActorAddress<'device'> {
  return { service: 'device', key: `${a.name}/${concentratorId}` };
}

export function workerOf(kind: JobKind): ActorAddress<'worker'> {
  return { service: 'worker', key: kind.toLowerCase() };
}

/**
 * TLog managers are buckets of concentrators (`<name>/tlog-<n>`): their duplicate checks are
 * per meter, so one actor routes many concentrators' records, one call per batch instead of
 * one per concentrator.
 */
export function tlogOf(a: Addressing, concentratorId: string): ActorAddress<'tlog-manager'> {
  return { service: 'tlog-manager', key: `${a.name}/tlog-${stableHash(concentratorId) % a.tlogBuckets}` };
}

export type DriverAction =
  | { type: 'outcome'; outcome: JobOutcome }
  /** A resubmitted job: someone waiting on it wants its recorded outcome. */
  | { type: 'duplicate'; jobId: string }
  | { type: 'field'; concentratorId: string; requestId: string; request: FieldRequest }
  /** A device's readings (kept packed when its reply was: forwarded-readings.ts). */
  | { type: 'readings'; jobId: string; readings: CollectedReading[] | ForwardedReadings }
  | { type: 'write'; batches: StreamBatch[] };

export type Routes = { targets: { address: ActorAddress; commands: unknown[] }[]; actions: DriverAction[] };

export function routeEntry(
  a: Addressing,
  source: ActorAddress,
  entry: OutboxEntry<unknown>,
  nowMs: number,
): Routes {
  const targets = new Map<string, { address: ActorAddress; commands: unknown[] }>();
  const actions: DriverAction[] = [];
  const targetOf = (address: ActorAddress) => {
    const id = addressId(address);
    let target = targets.get(id);
    if (target === undefined) {
      target = { address, commands: [] };
      targets.set(id, target);
    }
    return target;
  };
  const to = (address: ActorAddress, command: unknown) => {
    targetOf(address).commands.push(command);
  };
  // Records go to their concentrator's TLog bucket, all of one bucket in one route command
  // (what `merged` made of one command per record before): the bucket is looked up once per
  // concentrator, not per record (addresses and commands per record were 4% of the driver's
  // allocations at 400x20 daily, session 14).
  const bucketRecords = new Map<string, TLogRecord[]>();
  const route = (records: TLogRecord[]) => {
    for (const record of records) {
      let list = bucketRecords.get(record.concentratorId);
      if (list === undefined) {
        const target = targetOf(tlogOf(a, record.concentratorId));
        // A TLog manager gets route commands only: its first one is the bucket's.
        let command = target.commands[0] as { type: 'route'; records: TLogRecord[] } | undefined;
        if (command === undefined) {
          command = { type: 'route', records: [] };
          target.commands.push(command);
        }
        list = command.records;
        bucketRecords.set(record.concentratorId, list);
      }
      list.push(record);
    }
  };
  switch (source.service) {
    case 'registry':
      for (const e of entry.effects as RegistryHostedEffect[]) {
        if (e.type === 'meterCommissioned') {
          to(singleton(a, 'work-manager'), {
            type: 'meterCommissioned',
            meterSerial: e.meterSerial,
            concentratorId: e.concentratorId,
            atMs: e.atMs,
          });
          route([lifecycleRecord(e, 'meter.commissioned')]);
        } else if (e.type === 'meterDecommissioned') {
          route([lifecycleRecord(e, 'meter.decommissioned')]);
        } else if (e.type === 'concentratorMeters') {
          to(deviceOf(a, e.concentratorId), { type: 'setMeters', meters: e.meters });
          if (e.timeZone)
            to(singleton(a, 'work-manager'), {
              type: 'addConcentrator',
              concentratorId: e.concentratorId,
              timeZone: e.timeZone,
            });
        }
      }
      break;
    case 'work-manager':
      for (const e of entry.effects as WorkManagerEffect[])
        to(singleton(a, 'jobs-manager'), { type: 'submit', job: e.job });
      break;
    case 'jobs-manager':
      for (const e of entry.effects as JobsManagerEffect[]) {
        if (e.type === 'dispatch')
          to(workerOf(e.job.kind), { type: 'assign', job: e.job, attempt: e.attempt });
        else if (e.type === 'outcome') {
          actions.push({ type: 'outcome', outcome: e.outcome });
          to(singleton(a, 'work-manager'), { type: 'jobOutcome', outcome: e.outcome });
        } else actions.push({ type: 'duplicate', jobId: e.jobId });
      }
      break;
    case 'worker':
      for (const e of entry.effects as WorkerEffect[]) {
        if (e.type === 'deviceRequest')
          to(deviceOf(a, e.concentratorId), { type: 'request', job: e.job, attempt: e.attempt });
        else if (e.type === 'tlog') route(e.records);
        else
          to(singleton(a, 'jobs-manager'), {
            type: 'attemptResult',
            jobId: e.jobId,
            attempt: e.attempt,
            result: e.result,
          });
      }
      break;
    case 'device': {
      const concentratorId = concentratorOfKey(source.key);
      const effects = entry.effects as DeviceEffect[];
      // A request delivered with its field answer in one call (issue 7) was sent before the
      // call: its `send` is in the entry with the `completed`/`failed` that answers it, and is
      // not executed again.
      const answered = new Set<string>();
      for (const e of effects)
        if (e.type === 'completed' || e.type === 'failed') answered.add(`${e.job.id}@${e.attempt}`);
      for (const e of effects) {
        if (e.type === 'send' && answered.has(e.requestId)) continue;
        if (e.type === 'send')
          actions.push({ type: 'field', concentratorId, requestId: e.requestId, request: e.request });
        else if (e.type === 'completed') {
          actions.push({ type: 'readings', jobId: e.job.id, readings: e.readings });
          to(workerOf(e.job.kind), { type: 'deviceCompleted', result: e });
        } else if (e.type === 'failed') to(workerOf(e.job.kind), { type: 'deviceFailed', result: e });
        else route([{ type: 'event', event: e.event, concentratorId, collectedAtMs: nowMs }]);
      }
      break;
    }
    case 'tlog-manager':
      if (entry.effects.length > 0)
        to(singleton(a, 'integration'), { type: 'append', routed: entry.effects as RoutedRecord[] });
      break;
    case 'integration':
      actions.push({ type: 'write', batches: entry.effects as StreamBatch[] });
      break;
  }
  return { targets: [...targets.values()].map(merged), actions };
}

/** A TLog manager's route commands for one entry become one command (one routing pass). */
function merged(target: { address: ActorAddress; commands: unknown[] }) {
  if (target.address.service !== 'tlog-manager' || target.commands.length === 1) return target;
  const records = (target.commands as { records: TLogRecord[] }[]).flatMap((c) => c.records);
  return { address: target.address, commands: [{ type: 'route', records }] };
}
