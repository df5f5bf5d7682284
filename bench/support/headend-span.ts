import {
  HeadendDriver,
  type HeadendDriverOptions,
  type StreamWriter,
} from '../../actors/host/headend-driver.js';
import type { ServicePorts } from '../../actors/host/service-ports.js';
import { CheckpointConsumer } from '../../actors/integration/checkpoint-consumer.js';
import { SimulatedFleet } from '../../actors/simulation/fleet.js';
import type { CsvEncodePool } from '../../adapters/csv/daily-writer-options.js';
import { ManualClock } from '../../core/clock.js';
import { type Span, TimedPorts } from './headend-probe.js';

/**
 * One measured span of the head-end (bench/headend-cluster.bench.ts): a simulated fleet
 * provisioned through a HeadendDriver over `ports` (the cluster's actors or the same machines
 * in process), primed, then stepped through simulated time while the readings the checkpoint
 * consumer writes are counted.
 */

export const hourMs = 3_600_000;
export const originMs = Date.UTC(2026, 2, 10);

export type Scenario = {
  concentrators: number;
  meters: number;
  /** The work manager's load profile period (minutes). */
  everyMinutes: number;
  /** Simulated time per settled step. */
  stepMs: number;
};

export type Variant = {
  /** Fan-in actors wait for their wave (ActorLanes). */
  waves?: boolean;
  /** A step's completion and acknowledgements go with the next step's tick. */
  folded?: boolean;
  /** HeadendDriverOptions.ackHold (false: every settle sends every acknowledgement, as before issue 7's change). */
  ackHold?: HeadendDriverOptions['ackHold'];
  maxConcurrentCalls?: number;
  /** HeadendDriverOptions.streamWritesInFlight (1: stream entries written one at a time, as before session 13). */
  streamWritesInFlight?: number;
  /** CSV rows and CIM MeterReadings encoded in this worker pool, as `meterfabric up`'s driver does. */
  pool?: CsvEncodePool;
};

/** The benches' simulated fleet: seed 11, every meter in UTC, from originMs on `clock`. */
export function benchFleet(concentrators: number, meters: number, clock: ManualClock): SimulatedFleet {
  return new SimulatedFleet({
    concentrators,
    metersPerConcentrator: meters,
    seed: 11,
    originMs,
    clock,
    timeZones: ['UTC'],
  });
}

export type BenchDriver = {
  clock: ManualClock;
  fleet: SimulatedFleet;
  driver: HeadendDriver;
  consumer: CheckpointConsumer;
  /**
   * Readings the consumer has written, and the wall time with at least one stream entry being
   * written (a bench zeroes both where its measured span starts).
   */
  written: { readings: number; entries: number; busyMs: number };
};

/**
 * A HeadendDriver named `name` over `ports` for the bench fleet, writing its stream through a
 * CheckpointConsumer into `outDir` (organization BENCH) that counts the readings it writes.
 * Nothing is provisioned yet.
 */
export async function openBenchDriver(
  ports: ServicePorts,
  name: string,
  outDir: string,
  fleetSize: { concentrators: number; meters: number },
  options: Partial<
    Pick<HeadendDriverOptions, 'maxConcurrentCalls' | 'waves' | 'ackHold' | 'streamWritesInFlight'>
  > & { pool?: CsvEncodePool } = {},
): Promise<BenchDriver> {
  const { pool, ...driverOptions } = options;
  const clock = new ManualClock(originMs);
  const fleet = benchFleet(fleetSize.concentrators, fleetSize.meters, clock);
  const written = { readings: 0, entries: 0, busyMs: 0 };
  let writing = 0;
  let busySince = 0;
  const timedWrite: StreamWriter = async (position, batches) => {
    if (writing++ === 0) busySince = performance.now();
    try {
      await consumer.write(position, batches);
      written.entries++;
    } finally {
      if (--writing === 0) written.busyMs += performance.now() - busySince;
    }
  };
  let driver: HeadendDriver | undefined;
  const consumer = await CheckpointConsumer.open({
    outDir,
    organization: 'BENCH',
    server: 'n1',
    clock,
    registry: () => driver!.registry,
    ...(pool ? { pool } : {}),
    onWritten: (routed) => {
      for (const { record } of routed) if (record.type === 'reading') written.readings++;
    },
  });
  driver = new HeadendDriver({
    ports,
    clock,
    name,
    fieldLink: (id) => fleet.concentrator(id),
    writeStream: timedWrite,
    ...driverOptions,
  });
  return { clock, fleet, driver, consumer, written };
}

/**
 * Provisions the fleet, then runs the first step unmeasured: it collects each meter's day of
 * history (the device's initial lookback) and the previous day's closure, a one-off whose
 * size depends on neither the collection period nor the driver. Then steps simulated time
 * until `wallBudgetMs` has passed or `endMs` is reached (each step settled and recorded done),
 * counting the readings written meanwhile.
 */
export async function driveSpan(
  ports: ServicePorts,
  name: string,
  outDir: string,
  scenario: Scenario,
  stop: { wallBudgetMs: number } | { endMs: number },
  variant: Variant = {},
): Promise<Span> {
  const { clock, fleet, driver, consumer, written } = await openBenchDriver(ports, name, outDir, scenario, {
    ...(variant.maxConcurrentCalls !== undefined ? { maxConcurrentCalls: variant.maxConcurrentCalls } : {}),
    waves: variant.waves ?? false,
    ...(variant.ackHold !== undefined ? { ackHold: variant.ackHold } : {}),
    ...(variant.streamWritesInFlight !== undefined
      ? { streamWritesInFlight: variant.streamWritesInFlight }
      : {}),
    ...(variant.pool ? { pool: variant.pool } : {}),
  });
  const provisionStart = performance.now();
  driver.configureWorkManager(scenario.everyMinutes);
  for (const command of fleet.provisioning()) driver.applyRegistry(command);
  await driver.settle();
  await consumer.flush();
  const provisionMs = performance.now() - provisionStart;
  const step = async (t: number) => {
    clock.set(t);
    driver.tick();
    if (!variant.folded) {
      await driver.settle();
      await driver.stepDone(t);
    } else {
      // The step's first round of calls also carries the last step's completion and the
      // acknowledgements it left (neither takes a round of commits of its own).
      driver.flushAcks();
      await driver.settle({ acks: 'none' });
      driver.markStepDone(t);
    }
  };
  let t = originMs + scenario.stepMs;
  await step(t);
  await driver.settle();
  await consumer.flush();
  written.readings = 0;
  written.entries = 0;
  written.busyMs = 0;
  const callsBefore = driver.callCount;
  const start = performance.now();
  const cpuBefore = process.cpuUsage();
  let steps = 0;
  let activeSteps = 0;
  let activeMs = 0;
  if (ports instanceof TimedPorts) ports.recording = true;
  for (;;) {
    steps++;
    t += scenario.stepMs;
    const stepStart = performance.now();
    const readingsBefore = written.readings;
    await step(t);
    if (written.readings > readingsBefore) {
      activeSteps++;
      activeMs += performance.now() - stepStart;
    }
    if ('endMs' in stop ? t >= stop.endMs : performance.now() - start >= stop.wallBudgetMs) break;
    if (t >= originMs + 25 * hourMs) break;
  }
  await driver.settle();
  await consumer.flush();
  if (ports instanceof TimedPorts) ports.recording = false;
  const cpu = process.cpuUsage(cpuBefore);
  return {
    driverCpuMs: (cpu.user + cpu.system) / 1000,
    steps,
    activeSteps,
    activeMs,
    readings: written.readings,
    streamEntries: written.entries,
    writeBusyMs: written.busyMs,
    elapsedMs: performance.now() - start,
    startMs: originMs + scenario.stepMs,
    endMs: t,
    calls: driver.callCount - callsBefore,
    provisionMs,
  };
}
