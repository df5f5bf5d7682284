import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ActorProxyPorts } from '../../actors/host/service-ports.js';
import { type DayClock, defaultMinTickIntervalMs, wallAt } from '../../actors/work-manager/day-clock.js';
import { waitFor } from '../support/wait.js';
import {
  type DriverDay,
  expectDayExactlyOnceAndValid,
  hourMs,
  startDriverDay,
} from './support/driver-day.js';
import { headendClusterPerFile, waitForThreeReplicas } from './support/headend-cluster.js';

/**
 * The head-end on three real nodes with the work manager driven by its durable reminder
 * (needs `npx tsc -p tsconfig.build.json`): the driver starts the work manager's day clock
 * (1440x) and never ticks it; it only delivers what the reminders put in the work manager's
 * outbox. Every simulated value must still reach CSV and XSD-valid CIM exactly once, with the
 * work manager's primary SIGKILLed mid-day (the reminder fires on the new primary), and with
 * the driver gone for a while (the reminders keep firing, the jobs wait in the outbox, a new
 * driver delivers them once).
 */
const headendCluster = headendClusterPerFile(120_000);
const dirs: string[] = [];
const rate = 1440;

afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function day(name: string, originMs: number): Promise<DriverDay> {
  const outDir = await mkdtemp(join(tmpdir(), `mf-reminder-day-${name}-`));
  dirs.push(outDir);
  return startDriverDay({
    ports: new ActorProxyPorts(headendCluster().proxy),
    outDir,
    name,
    originMs,
    concentrators: 6,
    meters: 4,
    organization: 'IT',
    followWorkManager: true,
  });
}

function dayClock(originMs: number, endMs: number): DayClock {
  return {
    simAtMs: originMs,
    wallAtMs: Date.now(),
    rate,
    minIntervalMs: defaultMinTickIntervalMs,
    untilSimMs: endMs,
  };
}

/** The work manager's state as the cluster holds it. */
async function workManager(run: DriverDay) {
  return (await run.driver.singletonState('work-manager')).inner;
}

describe('the work manager driven by durable reminders on a three-node cluster', () => {
  it('runs a 1440x day with no driver tick, its primary SIGKILLed mid-day: every value exactly once in CSV and valid CIM', {
    timeout: 900_000,
  }, async () => {
    const originMs = Date.UTC(2026, 3, 6);
    const endMs = originMs + 25 * hourMs;
    const run = await day('rem-a', originMs);
    const clock = dayClock(originMs, endMs);
    const startedAt = Date.now();
    await run.startDayClock(clock);
    // The node hosting the work manager's primary dies when the day clock reaches midday,
    // whatever the driver is doing then (it may lag behind the reminders).
    const killAtWallMs = wallAt(clock, originMs + 12 * hourMs);
    let victim: string | undefined;
    let lastTickAtKill: number | undefined;
    const giveUpAtMs = wallAt(clock, endMs) + 300_000;
    await run.followUntil(endMs, async () => {
      // The reminders must carry the day to its end: a chain that stopped fails here, not at the suite's timeout.
      if (Date.now() > giveUpAtMs)
        throw new Error(`the day stopped at ${new Date(run.clock.now()).toISOString()}`);
      if (victim !== undefined || Date.now() < killAtWallMs) return;
      victim = (await headendCluster().cluster.configs()).get('work-manager/0')!.primary!;
      lastTickAtKill = (await workManager(run)).lastTickMs;
      await headendCluster().cluster.signal(victim, 'SIGKILL');
    });
    expect(victim).toBeDefined();
    const successor = (await headendCluster().cluster.configs()).get('work-manager/0')!.primary;
    expect(successor).toBeDefined();
    expect(successor).not.toBe(victim);
    const wm = await workManager(run);
    // The schedule went on after the kill, on the new primary, to the day's end; no driver tick.
    expect(lastTickAtKill).toBeGreaterThan(originMs + 6 * hourMs);
    expect(lastTickAtKill).toBeLessThan(endMs);
    expect(wm.lastTickMs).toBe(endMs);
    expect(wm.nextTickMs).toBeUndefined();
    const seen = (await run.driver.singletonState('work-manager')).seen;
    expect(seen.clock).toBeUndefined();
    expect(seen['day-clock']).toBe(endMs);
    process.stdout.write(
      `reminder-driven cluster day with the work manager's primary killed: ${((Date.now() - startedAt) / 1000).toFixed(1)} s wall time, ${run.driver.callCount} driver calls\n`,
    );
    await expectDayExactlyOnceAndValid(run, endMs);
    const ids = run.driver.outcomes.map((o) => o.jobId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(new Set(ids.filter((id) => id.startsWith('dc:')).map((id) => id.replace(/#r\d+$/, ''))).size).toBe(
      6,
    );
    await headendCluster().cluster.startNode(victim!);
    await waitForThreeReplicas(headendCluster().cluster);
  });

  it('with the driver gone for hours of the day the reminders keep firing into the outbox; a new driver delivers those jobs once', {
    timeout: 900_000,
  }, async () => {
    const originMs = Date.UTC(2026, 3, 8);
    const endMs = originMs + 25 * hourMs;
    const run = await day('rem-b', originMs);
    await run.startDayClock(dayClock(originMs, endMs));
    await run.followUntil(originMs + 4 * hourMs);
    // The driver stops here (as if its process died): nobody delivers or acknowledges.
    const leftAtMs = run.clock.now();
    const ports = new ActorProxyPorts(headendCluster().proxy);
    const pendingJobs = async () =>
      (await ports.outbox({ service: 'work-manager', key: 'rem-b' })).flatMap((e) =>
        e.effects.map((x) => x.job),
      );
    await waitFor(
      async () => (await pendingJobs()).filter((j) => j.kind === 'loadProfile').length >= 6 * 3,
      'the reminders to put three slots of load profile jobs in the outbox',
      120_000,
      200,
    );
    const waiting = await pendingJobs();
    // Jobs decided while no driver ran: at instants after the driver left.
    expect(Math.max(...waiting.map((j) => j.submittedAtMs))).toBeGreaterThan(leftAtMs + 2 * hourMs);
    expect(new Set(waiting.map((j) => j.id)).size).toBe(waiting.length);
    const resumedAfter = await run.replaceDriver(ports);
    expect(resumedAfter).toBeGreaterThanOrEqual(originMs + 4 * hourMs);
    await run.followUntil(endMs);
    expect((await workManager(run)).lastTickMs).toBe(endMs);
    await expectDayExactlyOnceAndValid(run, endMs);
    // Each job that waited in the outbox ran once: one recorded outcome, and the new driver
    // saw each outcome once.
    const outcomes = (await run.driver.singletonState('jobs-manager')).inner.outcomes;
    for (const job of waiting) expect(outcomes[job.id], job.id).toBeDefined();
    const ids = run.driver.outcomes.map((o) => o.jobId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const job of waiting) expect(ids.filter((id) => id === job.id)).toHaveLength(1);
  });
});
