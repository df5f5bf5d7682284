import { MeterfabricError } from '../../core/errors.js';
import {
  applyDeviceCommand,
  type DeviceCommand,
  type DeviceEffect,
  type DeviceState,
  newDevice,
} from '../device/state.js';
import { type JobKind, jobKinds } from '../domain/jobs.js';
import {
  applyJobsManagerCommand,
  type JobsManagerCommand,
  type JobsManagerEffect,
  type JobsManagerState,
  newJobsManager,
} from '../jobs-manager/state.js';
import { applyRegistryCommand, type RegistryCommand, type RegistryEffect } from '../registry/commands.js';
import { emptyRegistry, type RegistryState } from '../registry/types.js';
import type { TLogRecord } from '../tlog/records.js';
import { newTLog, route, type TLogState } from '../tlog/router.js';
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
import { commandActor } from './command-actor.js';

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

type TLogCommand = { type: 'route'; records: TLogRecord[] };

export const tlogActor = commandActor<TLogState, TLogCommand, ReturnType<typeof route>['routed'][number]>({
  initialState: () => newTLog(),
  apply: (state, command) => ({ state, effects: route(state, command.records).routed }),
});
