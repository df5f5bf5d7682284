import { type JobsManagerPort, LocalHeadend } from '../../actors/host/local-headend.js';
import { SimulatedFleet } from '../../actors/simulation/fleet.js';
import { groundTruth, type TruthValue, truthKey } from '../../actors/simulation/ground-truth.js';
import type { RoutedRecord } from '../../actors/tlog/router.js';
import { ManualClock } from '../../core/clock.js';

export const originMs = Date.UTC(2026, 2, 10, 0, 0);
export const hourMs = 3_600_000;

export type DayRun = {
  clock: ManualClock;
  fleet: SimulatedFleet;
  headend: LocalHeadend;
  routed: RoutedRecord[];
  /** Extra consumer of routed batches (e.g. the integration writers), set before provision(). */
  forward?: (batch: RoutedRecord[]) => Promise<void>;
};

export function setUpDay(
  options: {
    concentrators?: number;
    meters?: number;
    outageChance?: number;
    provision?: boolean;
    jobsManagerPort?: JobsManagerPort;
  } = {},
): DayRun {
  const clock = new ManualClock(originMs);
  const fleet = new SimulatedFleet({
    concentrators: options.concentrators ?? 4,
    metersPerConcentrator: options.meters ?? 3,
    seed: 7,
    originMs,
    clock,
    timeZones: ['Europe/Rome', 'UTC'],
    outageChance: options.outageChance ?? 0.5,
    outageFromMs: originMs + 2 * hourMs,
    outageToMs: originMs + 20 * hourMs,
    iec62056Every: 2,
    alarmPerHour: 0.05,
  });
  const routed: RoutedRecord[] = [];
  const run: DayRun = { clock, fleet, routed, headend: undefined as unknown as LocalHeadend };
  run.headend = new LocalHeadend({
    clock,
    fieldLink: (id) => fleet.concentrator(id),
    sink: (batch) => {
      routed.push(...batch);
      return run.forward?.(batch);
    },
    ...(options.jobsManagerPort ? { jobsManagerPort: options.jobsManagerPort } : {}),
  });
  if (options.provision !== false) provision(run);
  return run;
}

export function provision(run: DayRun): void {
  for (const command of run.fleet.provisioning()) run.headend.applyRegistry(command);
}

/** Steps simulated time by stepMs up to endMs, letting every field exchange finish at each step. */
export async function runUntil(run: DayRun, endMs: number, stepMs = 5 * 60_000): Promise<void> {
  for (let t = run.clock.now(); t <= endMs; t += stepMs) {
    run.clock.set(t);
    run.headend.tick();
    await run.headend.settle();
  }
}

/** The routed record as a ground-truth key, or undefined for records the simulator does not produce (reachability, lifecycle). */
export function keyOfRouted(r: RoutedRecord): { key: string; value: number } | undefined {
  const record = r.record;
  if (record.type === 'reading') {
    const reading = record.reading;
    const code = reading.quantity.source === 'obis' ? reading.quantity.code : 'profile';
    const kind: TruthValue['kind'] | undefined =
      reading.kind === 'interval'
        ? 'interval'
        : reading.kind === 'dailyClosure'
          ? 'dailyClosure'
          : reading.kind === 'instantaneous'
            ? 'voltage'
            : undefined;
    if (!kind) return undefined;
    return {
      key: truthKey({ kind, meterSerial: reading.meterSerial, code, timestampMs: reading.timestampMs }),
      value: reading.value,
    };
  }
  if (record.type === 'statusWord')
    return {
      key: truthKey({
        kind: 'statusWord',
        meterSerial: record.meterSerial,
        code: 'word',
        timestampMs: record.timestampMs,
      }),
      value: record.word,
    };
  if (record.type === 'event' && record.event.key === 'meter.statusWordAlarm') {
    const word = Number.parseInt(record.event.details?.STATUSWORD ?? '0', 16);
    return {
      key: truthKey({
        kind: 'statusAlarm',
        meterSerial: record.event.deviceId,
        code: String(Math.log2(word)),
        timestampMs: record.event.timestampMs,
      }),
      value: word,
    };
  }
  return undefined;
}

export function truthOf(run: DayRun, endMs: number): Map<string, number> {
  return new Map(groundTruth(run.fleet, originMs, endMs).map((v) => [truthKey(v), v.value]));
}
