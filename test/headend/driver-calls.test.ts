import { rm } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { InProcessPorts } from '../../actors/host/service-ports.js';
import { cimTally, csvTally, expectExactlyOnceInOutputs } from './output-check.js';
import { CountingPorts } from './support/counting-ports.js';
import { hourMs } from './support/driver-day.js';
import { smallDayOriginMs, startSmallDay } from './support/small-day.js';

/**
 * Issue 7, calls per reading: acknowledgements ride on each actor's next call (ActorLanes'
 * ack hold), and a device's request goes with its field answer in one call (a `plan` read
 * first, session 15), so a collection costs a device one call instead of two (with every
 * acknowledgement sent in a call of its own: the one write and a call of acknowledgements
 * alone; before session 15 it was three: request, field answer, acknowledgements). Counted on
 * the real hosted machines (InProcessPorts) under a counting wrapper; the outputs must not change.
 */
const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

const originMs = smallDayOriginMs;
const endMs = originMs + 25 * hourMs;

async function countedDay(ackHold: false | undefined) {
  const ports = new CountingPorts(new InProcessPorts());
  const day = await startSmallDay({ ports, dirs, prefix: 'mf-driver-calls-', ackHold });
  const { outDir } = day;
  const before = {
    total: ports.total,
    device: ports.of('device').calls,
    integration: ports.of('integration').calls,
    requests: ports.requests,
  };
  await day.runUntil(endMs);
  const device = { ...ports.of('device') };
  const counted = {
    day,
    outDir,
    device,
    calls: ports.total - before.total,
    deviceCalls: device.calls - before.device,
    integrationCalls: ports.of('integration').calls - before.integration,
    requests: ports.requests - before.requests,
  };
  // The end of a run: every acknowledgement still held is sent (one call per actor holding one).
  await day.driver.settle({ acks: 'all' });
  await day.consumer.flush();
  return counted;
}

describe('HeadendDriver calls per collection', () => {
  it('a device request costs one call (request and field answer together), not two with acknowledgements alone, the whole day takes fewer calls, and the CSV and CIM outputs are the same', {
    timeout: 300_000,
  }, async () => {
    const before = await countedDay(false);
    const after = await countedDay(undefined);
    const perRequest = (run: typeof before) => run.deviceCalls / run.requests;
    process.stdout.write(
      `device calls per request ${perRequest(before).toFixed(2)} -> ${perRequest(after).toFixed(2)}; ` +
        `calls in the day ${before.calls} -> ${after.calls} (${(after.calls / before.calls).toFixed(2)}x); ` +
        `integration calls ${before.integrationCalls} -> ${after.integrationCalls}\n`,
    );
    // The same day: the same device requests, one per collection job attempt.
    expect(after.requests).toBe(before.requests);
    expect(before.requests).toBeGreaterThan(4 * 24);
    // Before: request with its field answer, and a call of acknowledgements alone for nearly every one.
    expect(before.device.acksAlone).toBeGreaterThan(0.9 * before.requests);
    expect(perRequest(before)).toBeGreaterThan(1.9);
    // After: request with its field answer; acknowledgements ride on it. No field answer in a
    // call of its own: every request was planned (the devices are idle between collections).
    expect(after.device.acksAlone).toBe(0);
    expect(after.device.fieldAnswers).toBe(0);
    expect(perRequest(after)).toBeLessThanOrEqual(1.05);
    expect(after.day.driver.oneWriteRequests).toBeGreaterThanOrEqual(after.requests);
    expect(after.calls).toBeLessThan(0.8 * before.calls);
    // The step record (integration's stepDone) only for steps that routed something: about one
    // step in four (hourly collections, 15-minute steps) instead of every one.
    expect(after.integrationCalls).toBeLessThan(0.6 * before.integrationCalls);
    // The outputs: every value once in each run, and the same rows and values in both.
    const truth = after.day.truth(endMs);
    await expectExactlyOnceInOutputs(truth, before.outDir, 'IT');
    await expectExactlyOnceInOutputs(truth, after.outDir, 'IT');
    expect(await csvTally(after.outDir, 'IT')).toEqual(await csvTally(before.outDir, 'IT'));
    expect((await cimTally(after.outDir)).tally).toEqual((await cimTally(before.outDir)).tally);
  });

  it('a driver replaced after a settle that held acknowledgements and after clock-only steps it did not record: the new one delivers the held entries again, their receivers drop them, every value still once', {
    timeout: 300_000,
  }, async () => {
    const services = new InProcessPorts();
    const day = await startSmallDay({ ports: services, dirs, prefix: 'mf-driver-calls-' });
    const { outDir } = day;
    // 11:00 collects; 11:15-11:45 are clock-only steps (nothing due), not recorded on their own.
    await day.runUntil(originMs + 11 * hourMs + 45 * 60_000);
    // Held: the devices' last results (delivered to their worker, not yet acknowledged).
    expect(day.driver.heldAcks.entries).toBeGreaterThan(0);
    let deviceEntriesHeld = 0;
    for (const c of day.fleet.concentrators)
      deviceEntriesHeld += (await services.state({ service: 'device', key: `it/${c.id}` })).outbox.length;
    expect(deviceEntriesHeld).toBeGreaterThan(0);
    const workerBefore = await services.state({ service: 'worker', key: 'loadprofile' });
    const resumedAfter = await day.replaceDriver(services);
    // The last recorded step (the last one that routed something: 11:00 or, with a retry or
    // an alarm due, later): the new driver re-runs the empty ones after it (their ticks are
    // dropped by instant) and finds nothing to do there.
    expect(resumedAfter).toBeGreaterThanOrEqual(originMs + 11 * hourMs);
    expect(resumedAfter).toBeLessThanOrEqual(originMs + 11 * hourMs + 45 * 60_000);
    // The worker dropped the repeated device results: nothing new in its state.
    const workerAfter = await services.state({ service: 'worker', key: 'loadprofile' });
    expect(workerAfter.inner).toEqual(workerBefore.inner);
    await day.runUntil(endMs);
    await expectExactlyOnceInOutputs(day.truth(endMs), outDir, 'IT');
  });
});
