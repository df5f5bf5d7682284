import { describe, expect, it } from 'vitest';
import type { FieldLink, FieldResponse } from '../../actors/device/field.js';
import { LocalHeadend } from '../../actors/host/local-headend.js';
import {
  applyJobsManagerCommand,
  defaultJobsManagerConfig,
  newJobsManager,
  queuedCount,
} from '../../actors/jobs-manager/state.js';
import { concentratorImportCommands, meterImportCommands } from '../../actors/registry/bulk-import.js';
import { applyWorkManagerCommand, newWorkManager } from '../../actors/work-manager/schedule.js';
import { ManualClock } from '../../core/clock.js';

/**
 * A national head-end's bulk import: 10,000 concentrators x 20 meters commissioned at once.
 * One initialization job per meter was 200,000 jobs, the jobs manager's whole queue
 * (maxQueuedJobs); per concentrator it is 10,000. These assert job counts, never time.
 */

const concentratorCount = 10_000;
const metersPerConcentrator = 20;
const t0 = Date.UTC(2026, 0, 1, 12);
const concentratorId = (c: number) => `DC${String(c).padStart(5, '0')}`;
const meterSerial = (c: number, m: number) => `M${String(c).padStart(5, '0')}${String(m).padStart(2, '0')}`;

// 200,000 meters take seconds on an idle box and far longer beside the rest of the suite on two
// cores: a generous timeout, since what is asserted is the job count, never the time.
describe('initialization of a 10,000 x 20 bulk import', { timeout: 180_000 }, () => {
  it('the work manager and jobs manager queue 10,000 jobs for 200,000 meters, well under the cap', () => {
    const wm = newWorkManager();
    const jm = newJobsManager();
    const submit = (effects: ReturnType<typeof applyWorkManagerCommand>['effects']) => {
      for (const e of effects) applyJobsManagerCommand(jm, { type: 'submit', job: e.job }, t0);
    };
    for (let c = 0; c < concentratorCount; c++)
      for (let m = 0; m < metersPerConcentrator; m++)
        submit(
          applyWorkManagerCommand(
            wm,
            {
              type: 'meterCommissioned',
              meterSerial: meterSerial(c, m),
              concentratorId: concentratorId(c),
              atMs: t0,
            },
            t0,
          ).effects,
        );
    submit(applyWorkManagerCommand(wm, { type: 'tick' }, t0).effects);
    expect(queuedCount(jm)).toBe(concentratorCount);
    expect(queuedCount(jm)).toBeLessThan(defaultJobsManagerConfig.maxQueuedJobs / 10);
    const jobs = Object.values(jm.entries).map((e) => e.job);
    expect(new Set(jobs.map((j) => j.concentratorId)).size).toBe(concentratorCount);
    expect(
      jobs.every((j) => j.kind === 'initialization' && j.meterSerials.length === metersPerConcentrator),
    ).toBe(true);
    expect(jobs.reduce((n, j) => n + j.meterSerials.length, 0)).toBe(
      concentratorCount * metersPerConcentrator,
    );
  });

  it('a LocalHeadend fed the bulk import CSV files queues one initialization job per concentrator and refuses none', () => {
    const clock = new ManualClock(t0);
    // A field that never answers: what is asserted is what got queued and dispatched.
    const silent: FieldLink = { execute: () => new Promise<FieldResponse>(() => {}) };
    const headend = new LocalHeadend({ clock, fieldLink: () => silent });
    const concentrators = ['id;type;serial;substation;transformer;timezone;communicationtype;address'];
    const meters = ['serialnumber;manufacturer;model;firmware;concentrator'];
    for (let c = 0; c < concentratorCount; c++) {
      const id = concentratorId(c);
      concentrators.push(
        `${id};DC450;S${id};SUB-${c % 97};TR-${c};Europe/Rome;gprs;10.0.${c >> 8}.${c & 255}:4001`,
      );
      for (let m = 0; m < metersPerConcentrator; m++) meters.push(`${meterSerial(c, m)};MFS;CERM1;1.0;${id}`);
    }
    headend.importRegistry(concentratorImportCommands(concentrators.join('\n')));
    const imported = headend.importRegistry(meterImportCommands(meters.join('\n')));
    expect(imported).toBe(concentratorCount * metersPerConcentrator);
    headend.tick();
    const jm = headend.jobsManager;
    const initJobs = Object.values(jm.entries)
      .map((e) => e.job)
      .filter((j) => j.kind === 'initialization');
    // One job per concentrator with its 20 meters, queued or in flight (at most the per-kind
    // limit), none refused by the queue cap.
    expect(initJobs).toHaveLength(concentratorCount);
    expect(new Set(initJobs.map((j) => j.concentratorId)).size).toBe(concentratorCount);
    expect(initJobs.reduce((n, j) => n + j.meterSerials.length, 0)).toBe(
      concentratorCount * metersPerConcentrator,
    );
    expect(jm.inFlightByKind.initialization).toBe(jm.config.maxInFlightPerKind.initialization);
    expect(headend.outcomes).toEqual([]);
    expect(headend.workManager.init.pendingCount).toBe(0);
  }, 240_000);
});
