import { expect } from 'vitest';
import {
  HeadendDriver,
  type HeadendDriverOptions,
  type StreamWriter,
} from '../../../actors/host/headend-driver.js';
import type { ServicePorts } from '../../../actors/host/service-ports.js';
import { handleCimRequest } from '../../../actors/integration/bridge/execute.js';
import { CheckpointConsumer } from '../../../actors/integration/checkpoint-consumer.js';
import { concentratorImportCommands } from '../../../actors/registry/bulk-import.js';
import { SimulatedFleet } from '../../../actors/simulation/fleet.js';
import { groundTruth, truthKey } from '../../../actors/simulation/ground-truth.js';
import type { DayClock } from '../../../actors/work-manager/day-clock.js';
import { ManualClock } from '../../../core/clock.js';
import { linkageConfig, soapMeterConfig, usagePointConfig } from '../cim-requests.js';
import { expectExactlyOnceInOutputs, expectValidCim } from '../output-check.js';

/**
 * A simulated day through the HeadendDriver (every service behind ServicePorts: in process
 * or on the cluster), provisioned through CIM requests, written by the checkpoint consumer.
 * The fleet, clock and output directory outlive a driver: `replaceDriver` builds a new one
 * that resumes from what the services hold, as a restarted process would.
 */
export const hourMs = 3_600_000;
export const stepMs = 15 * 60_000;

export type DriverDay = {
  clock: ManualClock;
  fleet: SimulatedFleet;
  originMs: number;
  driver: HeadendDriver;
  consumer: CheckpointConsumer;
  outDir: string;
  /** Steps until endMs (inclusive), each step settled and recorded as done. */
  runUntil(endMs: number): Promise<void>;
  /**
   * With `followWorkManager`: starts the work manager's day clock (its reminders run the
   * schedule on the cluster from then on).
   */
  startDayClock(clock: DayClock): Promise<void>;
  /**
   * With `followWorkManager`: delivers what the work manager's reminders produce until the
   * clock (moved to each entry's instant) reaches endMs; `between` runs after each round.
   */
  followUntil(endMs: number, between?: () => Promise<void>): Promise<void>;
  /** A new driver and consumer over `ports` resuming from the services; returns the step it resumes after. */
  replaceDriver(ports: ServicePorts): Promise<number | undefined>;
  truth(endMs: number): Map<string, number>;
};

export async function startDriverDay(options: {
  ports: ServicePorts;
  outDir: string;
  name: string;
  originMs: number;
  concentrators: number;
  meters: number;
  organization: string;
  /** The work manager runs on its day clock's reminders; the driver only follows its outbox. */
  followWorkManager?: boolean;
  /** Acknowledgement hold of every driver of the day (HeadendDriverOptions.ackHold). */
  ackHold?: HeadendDriverOptions['ackHold'];
  /** The work manager's load profile collection period, set before provisioning (default 60). */
  loadProfileEveryMinutes?: number;
  /** Wraps each driver's stream writer (the consumer's `write`): tests watch or fail writes. */
  wrapWrite?: (write: StreamWriter) => StreamWriter;
}): Promise<DriverDay> {
  const clock = new ManualClock(options.originMs);
  const fleet = new SimulatedFleet({
    concentrators: options.concentrators,
    metersPerConcentrator: options.meters,
    seed: 7,
    originMs: options.originMs,
    clock,
    timeZones: ['Europe/Rome', 'UTC'],
    outageChance: 0.5,
    outageFromMs: options.originMs + 2 * hourMs,
    outageToMs: options.originMs + 20 * hourMs,
    iec62056Every: 2,
    alarmPerHour: 0.05,
  });
  const build = async (ports: ServicePorts) => {
    let driver: HeadendDriver | undefined;
    const consumer = await CheckpointConsumer.open({
      outDir: options.outDir,
      organization: options.organization,
      server: 'n1',
      clock,
      registry: () => driver!.registry,
    });
    driver = new HeadendDriver({
      ports,
      clock,
      name: options.name,
      fieldLink: (id) => fleet.concentrator(id),
      writeStream: options.wrapWrite ? options.wrapWrite(consumer.write) : consumer.write,
      ...(options.followWorkManager ? { followWorkManager: true } : {}),
      ...(options.ackHold !== undefined ? { ackHold: options.ackHold } : {}),
    });
    return { driver, consumer };
  };
  const first = await build(options.ports);
  let nextStepMs = options.originMs;
  const day: DriverDay = {
    clock,
    fleet,
    originMs: options.originMs,
    outDir: options.outDir,
    ...first,
    async runUntil(endMs) {
      for (let t = nextStepMs; t <= endMs; t += stepMs) {
        nextStepMs = t + stepMs;
        clock.set(t);
        day.driver.tick();
        await day.driver.settle();
        await day.driver.stepDone(t);
      }
      await day.consumer.flush();
    },
    startDayClock: (dayClock) => day.driver.startDayClock(dayClock),
    async followUntil(endMs, between) {
      while (clock.now() < endMs) {
        const moved = await day.driver.follow((t) => clock.set(t));
        await between?.();
        if (!moved) await new Promise((r) => setTimeout(r, 50));
      }
      await day.driver.settle();
      await day.consumer.flush();
    },
    async replaceDriver(ports) {
      // The dead driver's last writes finish first (a killed process's would stop; the CSV
      // writer's own crash recovery is tested in test/csv), so two writers never share the files.
      await day.driver.quiesce();
      await day.consumer.flush().catch(() => undefined);
      const next = await build(ports);
      day.driver = next.driver;
      day.consumer = next.consumer;
      const last = await next.driver.resume();
      if (last !== undefined) nextStepMs = last + stepMs;
      return last;
    },
    truth(endMs) {
      return new Map(groundTruth(fleet, options.originMs, endMs).map((v) => [truthKey(v), v.value]));
    },
  };
  if (options.loadProfileEveryMinutes !== undefined)
    day.driver.configureWorkManager(options.loadProfileEveryMinutes);
  await provisionThroughCim(day);
  return day;
}

/** Concentrators by bulk import (CIM has no noun for them), meters, usage points and links by CIM requests. */
async function provisionThroughCim(day: DriverDay): Promise<void> {
  const header = 'id;type;serial;substation;transformer;timezone;communicationtype;address';
  const lines = day.fleet.concentrators.map(
    (c, i) => `${c.id};DC-SIM;DC${i};SUB;TR-${i};${c.timeZone};gprs;sim://${c.id}`,
  );
  day.driver.importRegistry(concentratorImportCommands([header, ...lines].join('\n')));
  const meters = [...day.fleet.meters];
  const options = { clock: day.clock, source: 'test', onDemandTimeoutMs: 5_000, controlTimeoutMs: 60_000 };
  const requests = [
    soapMeterConfig(
      meters.map(([serial, m]) => ({ serial, concentrator: m.concentratorId, commissioned: true })),
    ),
    usagePointConfig(meters.map(([, m]) => m.pod)),
    ...meters.map(([serial, m]) => linkageConfig(serial, m.pod, new Date(day.originMs).toISOString())),
  ];
  for (const xml of requests) {
    const { reply } = await handleCimRequest(day.driver, xml, options);
    if (reply.result !== 'OK') throw new Error(`provisioning refused: ${JSON.stringify(reply.errors)}`);
  }
  await day.driver.settle();
}

/** A cluster day's outputs: more than 500 truth values, each exactly once in CSV and CIM, and valid CIM. */
export async function expectDayExactlyOnceAndValid(run: DriverDay, endMs: number): Promise<void> {
  const truth = run.truth(endMs);
  expect(truth.size).toBeGreaterThan(500);
  await expectExactlyOnceInOutputs(truth, run.outDir, 'IT');
  await expectValidCim(run.outDir, 20);
}
