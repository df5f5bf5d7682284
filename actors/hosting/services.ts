import { MeterfabricError } from '../../core/errors.js';
import type { FieldRequest } from '../device/field.js';
import { planRequest } from '../device/field-requests.js';
import {
  applyDeviceCommand,
  type DeviceCommand,
  type DeviceEffect,
  type DeviceState,
  newDevice,
} from '../device/state.js';
import { type Job, type JobKind, jobKinds } from '../domain/jobs.js';
import {
  applyIntegrationCommand,
  type IntegrationCommand,
  type IntegrationState,
  newIntegration,
  type StreamBatch,
} from '../integration/checkpoint-stream.js';
import {
  applyClockedJobsCommand,
  type ClockedJobsManagerCommand,
  type ClockedJobsManagerState,
  newClockedJobsManager,
} from '../jobs-manager/reminder-clock.js';
import {
  applyJobsManagerCommand,
  type JobsManagerCommand,
  type JobsManagerEffect,
  type JobsManagerState,
  newJobsManager,
} from '../jobs-manager/state.js';
import { applyImport } from '../registry/bulk-import.js';
import { applyRegistryCommand, type RegistryCommand, type RegistryEffect } from '../registry/commands.js';
import { commissionedMetersOf } from '../registry/queries.js';
import { emptyRegistry, type RegistryState } from '../registry/types.js';
import type { TLogRecord } from '../tlog/records.js';
import { newTLog, type RoutedRecord, route, type TLogState } from '../tlog/router.js';
import {
  applyClockedCommand,
  type ClockedWorkManagerCommand,
  type ClockedWorkManagerState,
  newClockedWorkManager,
} from '../work-manager/day-clock.js';
import {
  applyWorkManagerCommand,
  newWorkManager,
  type WorkManagerCommand,
  type WorkManagerEffect,
  type WorkManagerState,
} from '../work-manager/schedule.js';
import {
  applyWorkerCommand,
  newWorker,
  type WorkerCommand,
  type WorkerEffect,
  type WorkerState,
} from '../workers/state.js';
import { type CommandMachine, commandActor } from './command-actor.js';
import { type HostedCommand, type HostedState, hostMachine, type OutboxEntry } from './outbox.js';

/**
 * The head-end's services as cluster actors (declared in actors/hosting/headend-services.json,
 * which a node loads with --manifest / MF_MANIFESTS). Keys: the singleton's key is ignored;
 * workers are keyed by job kind; devices and tlog-manager by concentrator id.
 */

export const jobsManagerActor = commandActor<JobsManagerState, JobsManagerCommand, JobsManagerEffect>({
  initialState: () => newJobsManager(),
  apply: applyJobsManagerCommand,
});

export const workManagerActor = commandActor<WorkManagerState, WorkManagerCommand, WorkManagerEffect>({
  initialState: () => newWorkManager(),
  apply: applyWorkManagerCommand,
});

/** Named partitions are lower-case (`loadprofile`); the worker's kind is the job kind with that spelling. */
export function jobKindOfPartitionName(name: string): JobKind {
  const kind = jobKinds.find((k) => k.toLowerCase() === name);
  if (!kind)
    throw new MeterfabricError(
      'MF_UNKNOWN_WORKER',
      `no job kind is named "${name}" (use ${jobKinds.map((k) => k.toLowerCase()).join(', ')})`,
    );
  return kind;
}

export const workerActor = commandActor<WorkerState, WorkerCommand, WorkerEffect>({
  initialState: (key) => newWorker(jobKindOfPartitionName(key)),
  apply: applyWorkerCommand,
});

export const deviceActor = commandActor<DeviceState, DeviceCommand, DeviceEffect>({
  initialState: (key) => newDevice(key, []),
  apply: applyDeviceCommand,
});

export const registryActor = commandActor<RegistryState, RegistryCommand, RegistryEffect>({
  initialState: () => emptyRegistry(),
  apply: applyRegistryCommand,
});

export const tlogActor = commandActor<TLogState, TLogCommand, RoutedRecord>({
  initialState: () => newTLog(),
  apply: (state, command) => ({ state, effects: route(state, command.records).routed }),
});

/*
 * The same machines hosted with a transactional outbox (actors/hosting/outbox.ts): what the
 * head-end driver (actors/host/headend-driver.ts) calls, on the cluster through ActorProxy
 * and in process through the same machines. Declared in actors/hosting/headend-services.json.
 */

export type RegistryHostedCommand =
  | RegistryCommand
  /** A bulk import (actors/registry/bulk-import.ts): all rows or none. */
  | { type: 'import'; rows: (RegistryCommand | RegistryCommand[])[] };

/** Registry effects, plus the commissioned meters of each concentrator a change touched. */
export type RegistryHostedEffect =
  | RegistryEffect
  | { type: 'concentratorMeters'; concentratorId: string; timeZone?: string; meters: string[] };

export const registryMachine: CommandMachine<RegistryState, RegistryHostedCommand, RegistryHostedEffect> = {
  initialState: () => emptyRegistry(),
  apply(state, command, nowMs) {
    if (command.type === 'import') return { state, effects: applyImport(state, command.rows, nowMs).effects };
    return applyRegistryCommand(state, command, nowMs);
  },
};

function concentratorMeters(
  state: RegistryState,
  effects: readonly RegistryHostedEffect[],
): RegistryHostedEffect[] {
  const touched = new Set<string>();
  for (const e of effects) if (e.type !== 'concentratorMeters') touched.add(e.concentratorId);
  return [...touched].map((concentratorId) => {
    const timeZone = state.concentrators[concentratorId]?.timeZone;
    return {
      type: 'concentratorMeters',
      concentratorId,
      ...(timeZone ? { timeZone } : {}),
      meters: commissionedMetersOf(state, concentratorId).map((m) => m.serial),
    };
  });
}

/**
 * Device and TLog actors are keyed `<head-end>/<concentrator id>`, so one cluster can host
 * several head-ends (tests); the concentrator id is what follows the first slash.
 */
export function concentratorOfKey(key: string): string {
  return key.slice(key.indexOf('/') + 1);
}

export const deviceMachine: CommandMachine<DeviceState, DeviceCommand, DeviceEffect> = {
  initialState: (key) => newDevice(key, []),
  apply: applyDeviceCommand,
};

/** A full device queue fails the attempt (retryable): the jobs manager retries it with backoff. */
function deviceRefusal(command: DeviceCommand, err: MeterfabricError): DeviceEffect[] | undefined {
  if (command.type !== 'request') return undefined;
  return [
    {
      type: 'failed',
      job: command.job,
      attempt: command.attempt,
      errorCode: err.code,
      errorMessage: err.message,
      retryable: true,
    },
  ];
}

/**
 * The device's `plan` read (issue 7, one write per collection): the field request the device
 * would send for (job, attempt) at `atMs` (reads get no instant of their own), from its current
 * cursors; nothing is persisted. `from`/`seq` name the delivery that will carry the request: one
 * the device has applied already (a driver resuming re-routes its worker's entry) is answered
 * `delivered`, so its exchange is not run again.
 */
export type DevicePlanRead = {
  type: 'plan';
  job: Job;
  attempt: number;
  atMs: number;
  from?: string;
  seq?: number;
};

/**
 * `send`: run this exchange, then deliver `request` and its answer in one call. `twoCalls`: deliver
 * `request` alone, as before (the device not idle, a work order, the delivery applied already).
 */
export type DevicePlan =
  | { type: 'send'; requestId: string; request: FieldRequest }
  | { type: 'twoCalls'; reason: 'delivered' | 'notIdle' };

type HostedDevice = HostedState<DeviceState, DeviceEffect>;

export function planDevice(state: HostedDevice, read: DevicePlanRead): DevicePlan {
  if (read.from !== undefined && read.seq !== undefined && read.seq <= (state.seen[read.from] ?? -1))
    return { type: 'twoCalls', reason: 'delivered' };
  const planned = planRequest(state.inner, read.job, read.attempt, read.atMs);
  return planned ? { type: 'send', ...planned } : { type: 'twoCalls', reason: 'notIdle' };
}

const isPlanRead = (command: { type: string }): boolean => command.type === 'plan';

/**
 * The hosted device with `plan` among its reads. Its command type stays the hosted one (the
 * outbox's `HostedCommand`): `plan` is a read the ports send only to devices
 * (service-ports.ts `plan`), recognised here by its type before anything is applied.
 */
function withPlanRead(
  hosted: CommandMachine<HostedDevice, HostedCommand<DeviceCommand>, OutboxEntry<DeviceEffect>>,
): CommandMachine<HostedDevice, HostedCommand<DeviceCommand>, OutboxEntry<DeviceEffect>> {
  return {
    ...hosted,
    isRead: (command) => isPlanRead(command) || (hosted.isRead?.(command) ?? false),
    read: (state, command) =>
      isPlanRead(command)
        ? planDevice(state, command as unknown as DevicePlanRead)
        : hosted.read?.(state, command),
  };
}

export type TLogCommand = { type: 'route'; records: TLogRecord[] };

export const tlogMachine: CommandMachine<TLogState, TLogCommand, RoutedRecord> = {
  initialState: () => newTLog(),
  apply: (state, command) => ({ state, effects: route(state, command.records).routed }),
};

export const hostedMachines = {
  registry: hostMachine(registryMachine, { derive: concentratorMeters }),
  // With its day clock (actors/work-manager/day-clock.ts): durable reminders run its ticks
  // (actors/hosting/work-manager-actor.ts); without one, the driver's ticks do.
  'work-manager': hostMachine<ClockedWorkManagerState, ClockedWorkManagerCommand, WorkManagerEffect>({
    initialState: () => newClockedWorkManager(),
    apply: applyClockedCommand,
  }),
  // With a day clock at rate 1, durable reminders run its ticks too
  // (actors/jobs-manager/reminder-clock.ts, actors/hosting/jobs-manager-actor.ts).
  'jobs-manager': hostMachine<ClockedJobsManagerState, ClockedJobsManagerCommand, JobsManagerEffect>(
    { initialState: () => newClockedJobsManager(), apply: applyClockedJobsCommand },
    { tick: { type: 'tick' } },
  ),
  worker: hostMachine<WorkerState, WorkerCommand, WorkerEffect>({
    initialState: (key) => newWorker(jobKindOfPartitionName(key)),
    apply: applyWorkerCommand,
  }),
  device: withPlanRead(
    hostMachine(
      { ...deviceMachine, initialState: (key: string) => newDevice(concentratorOfKey(key), []) },
      { onRefused: deviceRefusal },
    ),
  ),
  'tlog-manager': hostMachine(tlogMachine),
  integration: hostMachine<IntegrationState, IntegrationCommand, StreamBatch>({
    initialState: () => newIntegration(),
    apply: applyIntegrationCommand,
  }),
};

export type HostedMachines = typeof hostedMachines;
export type HeadendServiceName = keyof HostedMachines;

/** The hosted machines validate before they change anything: they decide in place. */
const inPlace = { inPlace: true };

export const hostedRegistryActor = commandActor(hostedMachines.registry, inPlace);
// The work manager's actor (with its day-clock reminder) is in work-manager-actor.ts.
// The jobs manager's actor (with its reminder at rate 1) is in jobs-manager-actor.ts.
export const hostedWorkerActor = commandActor(hostedMachines.worker, inPlace);
export const hostedDeviceActor = commandActor(hostedMachines.device, inPlace);
export const hostedTlogActor = commandActor(hostedMachines['tlog-manager'], inPlace);
export const integrationActor = commandActor(hostedMachines.integration, inPlace);
