import type { CollectedReading } from '../field-data.js';
import { type EndDeviceEventInput, encodeEndDeviceEvents } from './end-device-events.js';
import { encodeMeterReadings } from './meter-readings.js';
import type { MessageProperty } from './model.js';
import type { ReadingTypeProfile } from './reading-type-map.js';

/**
 * CIM encoders as pool tasks (cluster/pool): batch-shaped, structured-clone-able in and out.
 * `pool.run({ module: 'adapters/cim/pool-tasks', fn: 'encodeMeterReadingsMessages', payload: jobs })`.
 * The clock cannot cross into a worker, so each job carries its header timestamp.
 */
export type PoolMessageOptions = {
  source?: string;
  messageId?: string;
  correlationId?: string;
  properties?: MessageProperty[];
  profile?: ReadingTypeProfile;
  timestampMs: number;
};

export type MeterReadingsJob = { readings: CollectedReading[]; options: PoolMessageOptions };
export type EndDeviceEventsJob = { events: EndDeviceEventInput[]; options: PoolMessageOptions };

function messageOptions(o: PoolMessageOptions) {
  const { timestampMs, ...rest } = o;
  return { ...rest, clock: { now: () => timestampMs } };
}

/** One EventMessage per job. */
export function encodeMeterReadingsMessages(jobs: MeterReadingsJob[]): string[] {
  return jobs.map((job) => encodeMeterReadings(job.readings, messageOptions(job.options)));
}

export function encodeEndDeviceEventsMessages(jobs: EndDeviceEventsJob[]): string[] {
  return jobs.map((job) => encodeEndDeviceEvents(job.events, messageOptions(job.options)));
}
