import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalHeadend } from '../../actors/host/local-headend.js';
import { IntegrationConsumer } from '../../actors/integration/integration.js';
import { SimulatedFleet } from '../../actors/simulation/fleet.js';
import { groundTruth, truthKey } from '../../actors/simulation/ground-truth.js';
import type { RoutedRecord } from '../../actors/tlog/router.js';
import { describeEventType, eventTypeFor } from '../../adapters/cim/event-type-map.js';
import { describeReadingType } from '../../adapters/cim/reading-type.js';
import { readingTypeFor } from '../../adapters/cim/reading-type-map.js';
import { ManualClock } from '../../core/clock.js';
import { cimFiles, cimTally, compare, csvTally, registerCsvTally, validateAll } from './output-check.js';

// KNX gateways and battery sites beside modem-attached meters, end to end through the
// in-process head-end into the SMMePlus CSV files and CIM messages: every value the field
// produced exactly once, nothing else, every message XSD-valid. Real UDP tunnelling to the
// KNXnet/IP simulator, real TCP to the GTX2500 site simulator.
const hourMs = 3_600_000;
// Evening start: the run crosses local midnight in Rome and UTC, so daily closures happen too.
const originMs = Date.UTC(2026, 2, 10, 20, 0);
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('KNX gateway and battery sites through the head-end', () => {
  it('deliver every sampled value and battery alarm once into the right CSV file and CIM message, beside the meters', async () => {
    const outDir = await mkdtemp(join(tmpdir(), 'mf-knx-battery-'));
    cleanups.push(() => rm(outDir, { recursive: true, force: true }));
    const clock = new ManualClock(originMs);
    const fleet = new SimulatedFleet({
      concentrators: 2,
      metersPerConcentrator: 2,
      seed: 7,
      originMs,
      clock,
      timeZones: ['Europe/Rome', 'UTC'],
      outageChance: 1,
      outageFromMs: originMs + hourMs,
      outageToMs: originMs + 5 * hourMs,
      alarmPerHour: 0.2,
      voltageVariationPerHour: 0.2,
      knxSites: 1,
      batterySites: 1,
      batteryOverTemperatureChance: 1,
      batteryAlarmFromMs: originMs + 2 * hourMs,
      batteryAlarmToMs: originMs + 3 * hourMs,
    });
    cleanups.push(() => fleet.stop());
    const routed: RoutedRecord[] = [];
    let consumer: IntegrationConsumer | undefined;
    const headend = new LocalHeadend({
      clock,
      fieldLink: (id) => fleet.concentrator(id),
      sink: (batch) => {
        routed.push(...batch);
        return consumer?.sink(batch);
      },
    });
    consumer = await IntegrationConsumer.open({
      outDir,
      organization: 'IT',
      server: 'n1',
      clock,
      registry: headend.registry,
    });
    for (const command of fleet.provisioning()) headend.applyRegistry(command);
    const endMs = originMs + 9 * hourMs;
    for (let t = originMs; t <= endMs; t += 5 * 60_000) {
      clock.set(t);
      headend.tick();
      await headend.settle();
    }
    await consumer.flush();

    const truth = new Map(groundTruth(fleet, originMs - 1, endMs).map((v) => [truthKey(v), v.value]));
    const kindsOf = (keys: Iterable<string>) => new Set([...keys].map((k) => k.split('|')[0]));
    expect(kindsOf(truth.keys())).toEqual(
      new Set([
        'interval',
        'dailyClosure',
        'voltage',
        'statusWord',
        'statusAlarm',
        'knx',
        'battery',
        'batteryEvent',
      ]),
    );
    // Hourly samples (but in the outage, at most 3 h) of 2 KNX meters x 3 datapoints and 5 battery quantities.
    expect([...truth.keys()].filter((k) => k.startsWith('knx|')).length).toBeGreaterThanOrEqual(6 * 2 * 3);
    expect([...truth.keys()].filter((k) => k.startsWith('battery|')).length).toBeGreaterThanOrEqual(6 * 5);
    // The over-temperature hour raises the protection and clears it, once each (at the samples
    // around it that reached the head-end: an outage may hide the first).
    const alarms = [...truth.keys()].filter((k) => k.startsWith('batteryEvent|'));
    expect(alarms.map((k) => k.split('|')[2])).toEqual([
      'battery.overTemperature:raised',
      'battery.overTemperature:cleared',
    ]);

    // CIM: every reading and alarm, meters and sites alike, exactly once with the produced value.
    const cim = await cimTally(outDir);
    const cimKinds = ['interval', 'dailyClosure', 'voltage', 'statusAlarm', 'knx', 'battery', 'batteryEvent'];
    expect(compare(truth, cim.tally, cimKinds)).toEqual({ missing: [], twice: [], extra: [] });
    // Every code comes from the shared maps and names only values of the IEC 61968-9 enumerations.
    expect(
      [...cim.readingTypes].filter((code) => describeReadingType(code).unknownFields.length > 0),
    ).toEqual([]);
    expect(cim.readingTypes).toContain(
      readingTypeFor({ source: 'battery', quantity: 'stateOfCharge' }, 'instantaneous'),
    );
    expect([...cim.eventTypes].filter((code) => describeEventType(code) === undefined)).toEqual([]);
    for (const phase of ['raised', 'cleared'] as const)
      expect(cim.eventTypes.has(eventTypeFor('battery.overTemperature', phase))).toBe(true);
    // CSV: the meters' kinds as before, and KNX energy counters as R_ register rows (tot, no tariffs).
    expect(
      compare(truth, await csvTally(outDir, 'IT'), ['interval', 'dailyClosure', 'voltage', 'statusAlarm']),
    ).toEqual({ missing: [], twice: [], extra: [] });
    const knxEnergy = new Map([...truth].filter(([k]) => k.startsWith('knx|') && k.includes('|13.010|')));
    expect(compare(knxEnergy, await registerCsvTally(outDir, 'IT'), ['knx'])).toEqual({
      missing: [],
      twice: [],
      extra: [],
    });

    // Every concentrator, KNX gateway and battery site had one outage: the head-end saw each
    // become unreachable, and the sites' links themselves never reported trouble.
    const down = new Set(
      routed.flatMap((r) =>
        r.record.type === 'event' &&
        r.record.event.key === 'concentrator.unreachable' &&
        r.record.event.phase === 'raised'
          ? [r.record.event.deviceId]
          : [],
      ),
    );
    expect(down).toEqual(new Set(['TD-100000', 'TD-100001', 'KG-200000', 'BS-300000']));
    expect(new Set(fleet.outages().map((o) => o.concentratorId))).toEqual(down);
    const siteTrouble = routed.filter(
      (r) =>
        r.record.type === 'event' &&
        ['knx.gatewayUnreachable', 'battery.linkLost'].includes(r.record.event.key),
    );
    expect(siteTrouble).toEqual([]);

    const files = await cimFiles(outDir);
    expect(files.some((f) => f.noun === 'EndDeviceEvents')).toBe(true);
    expect(await validateAll(files.map((f) => f.path))).toEqual([]);
  }, 120_000);
});
