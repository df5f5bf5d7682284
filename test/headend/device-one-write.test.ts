import { rm } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { controlJob } from '../../actors/domain/work-orders.js';
import { InProcessPorts } from '../../actors/host/service-ports.js';
import { expectExactlyOnceInOutputs } from './output-check.js';
import { CountingPorts } from './support/counting-ports.js';
import { CrashingPorts } from './support/crashing-ports.js';
import { hourMs } from './support/driver-day.js';
import { smallDayOriginMs, startSmallDay } from './support/small-day.js';

/**
 * Issue 7's one device write per collection, on the real hosted machines (InProcessPorts): the
 * driver reads the device's plan, runs the exchange and delivers request and answer in one
 * call. A driver that dies between the plan and that call has recorded nothing on the device;
 * its successor plans the request again (the worker's entry is still unacknowledged) and the
 * day still delivers every value exactly once.
 */
const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

const originMs = smallDayOriginMs;

describe('one device write per collection', () => {
  it('a driver dying between a device plan and its write (the exchange ran) recorded nothing on the device; its successor collects again and every value is in the outputs exactly once', {
    timeout: 300_000,
  }, async () => {
    const services = new InProcessPorts();
    const crashing = new CrashingPorts(services);
    const day = await startSmallDay({ ports: crashing, dirs, prefix: 'mf-one-write-' });
    await day.runUntil(originMs + 11 * hourMs);
    const planned = day.driver.oneWriteRequests;
    expect(planned).toBeGreaterThan(0);
    crashing.crashAfterPlan();
    await expect(day.runUntil(originMs + 13 * hourMs)).rejects.toThrow(/dead/);
    const crashed = crashing.crashedPlan;
    expect(crashed).toBeDefined();
    if (!crashed) return;
    // Nothing of the planned request is on the device: not current, not queued, and the
    // delivery that was to carry it not applied (its source's high-water mark is below it).
    const device = await services.state(crashed.address as { service: 'device'; key: string });
    const requestId = `${crashed.read.job.id}@${crashed.read.attempt}`;
    expect(device.inner.current?.requestId).not.toBe(requestId);
    expect(device.inner.queue.map((r) => r.requestId)).not.toContain(requestId);
    expect(device.seen[crashed.read.from ?? ''] ?? -1).toBeLessThan(crashed.read.seq ?? 0);
    // The worker's entry that asked for it is still unacknowledged: the successor routes it again.
    const worker = await services.state({ service: 'worker', key: crashed.read.job.kind.toLowerCase() });
    expect(worker.outbox.length).toBeGreaterThan(0);
    await day.replaceDriver(services);
    const endMs = originMs + 25 * hourMs;
    await day.runUntil(endMs);
    // The request was planned again and written once: its delivery is applied now.
    const after = await services.state(crashed.address as { service: 'device'; key: string });
    expect(after.seen[crashed.read.from ?? ''] ?? -1).toBeGreaterThanOrEqual(crashed.read.seq ?? 0);
    await day.driver.settle({ acks: 'all' });
    await day.consumer.flush();
    await expectExactlyOnceInOutputs(day.truth(endMs), day.outDir, 'IT');
  });

  it('a work order keeps the two-call path (the device records the operation before the relay is touched): disconnect operates the relay once, and a repeated order not again', {
    timeout: 300_000,
  }, async () => {
    const ports = new CountingPorts(new InProcessPorts());
    const day = await startSmallDay({ ports, dirs, prefix: 'mf-one-write-ctl-' });
    await day.runUntil(originMs + 2 * hourMs);
    const [serial, fleetMeter] = [...day.fleet.meters][0] ?? [];
    if (!serial || !fleetMeter) throw new Error('no meter in the fleet');
    const order = () =>
      controlJob({
        meterSerial: serial,
        concentratorId: fleetMeter.concentratorId,
        correlationId: 'ONE-WRITE-CTL-1',
        action: 'disconnect',
        nowMs: day.clock.now(),
        timeoutMs: 600_000,
      });
    const planned = day.driver.oneWriteRequests;
    const answersBefore = ports.of('device').fieldAnswers;
    const first = day.driver.submitJob(order());
    await day.driver.settle();
    expect(await first).toMatchObject({ status: 'succeeded' });
    expect(fleetMeter.meter.relayAt(day.clock.now())).toBe('open');
    expect(fleetMeter.meter.relayOperations).toBe(1);
    // Two calls: the request (recorded, then sent), and the field answer in a call of its own.
    expect(day.driver.oneWriteRequests).toBe(planned);
    expect(ports.of('device').fieldAnswers).toBe(answersBefore + 1);
    const second = day.driver.submitJob(order());
    await day.driver.settle();
    expect(await second).toMatchObject({ status: 'succeeded' });
    expect(fleetMeter.meter.relayOperations).toBe(1);
  });
});
