import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { readDemoDayFlags } from '../../actors/demo/day-flags.js';
import { InProcessPorts } from '../../actors/host/service-ports.js';
import { newClockedWorkManager } from '../../actors/work-manager/day-clock.js';
import { applyWorkManagerCommand } from '../../actors/work-manager/schedule.js';
import { run as up } from '../../cluster/cli/up-command.js';
import { cimTally, csvTally, expectExactlyOnceInOutputs, expectValidCim } from './output-check.js';
import { CountingPorts } from './support/counting-ports.js';
import { hourMs } from './support/driver-day.js';
import { smallDayOriginMs, startSmallDay } from './support/small-day.js';

/**
 * Collection windows (issue 7): the work manager's load profile period decides how many
 * intervals one job carries (a job reads everything since each meter's last collected
 * value). A day collected every 6 hours must write the same CSV rows and CIM readings as one
 * collected every hour (outages and gap recovery included), each value exactly once, in
 * fewer jobs and actor calls. And a period that does not divide a day is refused, changing nothing.
 */
const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

const originMs = smallDayOriginMs;
// Past both zones' daily closures (Europe/Rome's at 23:05 UTC, UTC's at 00:05) and the last
// 6-hour slot at 24:00.
const endMs = originMs + 24 * hourMs + 15 * 60_000;

async function dayEvery(minutes: number) {
  const ports = new CountingPorts(new InProcessPorts());
  const day = await startSmallDay({
    ports,
    dirs,
    prefix: `mf-driver-windows-${minutes}-`,
    loadProfileEveryMinutes: minutes,
  });
  const { outDir } = day;
  const callsBefore = ports.total;
  await day.runUntil(endMs);
  await day.driver.settle({ acks: 'all' });
  await day.consumer.flush();
  const outcomes = Object.values((await ports.state({ service: 'jobs-manager', key: 'it' })).inner.outcomes);
  return { day, outDir, calls: ports.total - callsBefore, requests: ports.requests, outcomes };
}

describe('load profile collection windows', () => {
  it('every 360 minutes: the same CSV rows and CIM readings as every 60, each value once, in fewer jobs and calls', {
    timeout: 300_000,
  }, async () => {
    const hourly = await dayEvery(60);
    const sixHourly = await dayEvery(360);
    const loadProfileJobs = (r: typeof hourly) => r.outcomes.filter((o) => o.jobId.startsWith('lp:')).length;
    process.stdout.write(
      `load profile jobs ${loadProfileJobs(hourly)} -> ${loadProfileJobs(sixHourly)}; device requests ${hourly.requests} -> ${sixHourly.requests}; calls ${hourly.calls} -> ${sixHourly.calls}\n`,
    );
    const truth = hourly.day.truth(endMs);
    expect(truth.size).toBeGreaterThan(300);
    await expectExactlyOnceInOutputs(truth, hourly.outDir, 'IT');
    await expectExactlyOnceInOutputs(truth, sixHourly.outDir, 'IT');
    await expectValidCim(sixHourly.outDir, 5);
    expect(await csvTally(sixHourly.outDir, 'IT')).toEqual(await csvTally(hourly.outDir, 'IT'));
    expect((await cimTally(sixHourly.outDir)).tally).toEqual((await cimTally(hourly.outDir)).tally);
    // 4 concentrators: 25 hourly slots (00:00..24:00) against 5 six-hourly ones.
    expect(loadProfileJobs(hourly)).toBe(4 * 25);
    expect(loadProfileJobs(sixHourly)).toBe(4 * 5);
    expect(sixHourly.calls).toBeLessThan(0.6 * hourly.calls);
  });

  it('a period that does not divide a day is refused: by the work manager (state unchanged), the driver and the CLI flags', async () => {
    const state = newClockedWorkManager();
    const before = structuredClone(state);
    for (const bad of [0, -60, 7, 60.5, 2880, '60'])
      expect(() =>
        applyWorkManagerCommand(
          state,
          { type: 'configure', loadProfileEveryMinutes: bad as number },
          originMs,
        ),
      ).toThrow(/loadProfileEveryMinutes must be a positive integer dividing 1440/);
    expect(state).toEqual(before);
    applyWorkManagerCommand(state, { type: 'configure', loadProfileEveryMinutes: 360 }, originMs);
    expect(state.config.loadProfileEveryMinutes).toBe(360);
    // The gap threshold follows: a 6-hour wait is not a gap.
    expect(state.config.gapThresholdMs).toBe(8 * hourMs);

    const day = await startSmallDay({
      ports: new InProcessPorts(),
      dirs,
      prefix: 'mf-driver-windows-bad-',
      concentrators: 1,
      meters: 1,
    });
    const { outDir } = day;
    expect(() => day.driver.configureWorkManager(45.5)).toThrow(
      expect.objectContaining({ code: 'MF_HEADEND_INVALID_INPUT' }),
    );
    expect((await day.driver.singletonState('work-manager')).inner.config.loadProfileEveryMinutes).toBe(60);

    expect(readDemoDayFlags({})).toEqual({});
    expect(readDemoDayFlags({ 'load-profile-every-minutes': '360' })).toEqual({
      loadProfileEveryMinutes: 360,
    });
    for (const bad of ['7', '0', '-60', '60.5', 'hourly', ''])
      expect(() => readDemoDayFlags({ 'load-profile-every-minutes': bad })).toThrow(
        expect.objectContaining({
          code: 'MF_CONFIG_INVALID',
          message: expect.stringMatching(
            /--load-profile-every-minutes must be a positive integer dividing 1440/,
          ),
        }),
      );
    // `meterfabric up` refuses it before it starts etcd or any node (nothing to clean up): exit 2.
    const stderr: string[] = [];
    const write = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      stderr.push(String(chunk));
      return true;
    });
    try {
      expect(
        await up([
          '--data',
          join(outDir, 'data'),
          '--etcd',
          '127.0.0.1:1',
          '--load-profile-every-minutes',
          '7',
        ]),
      ).toBe(2);
    } finally {
      write.mockRestore();
    }
    expect(stderr.join('')).toContain('--load-profile-every-minutes');
    expect(stderr.join('')).toContain('[MF_CONFIG_INVALID]');
  });
});
