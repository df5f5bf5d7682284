import { describe, expect, it } from 'vitest';
import type { FieldLink, FieldRequest } from '../../actors/device/field.js';
import { LocalHeadend } from '../../actors/host/local-headend.js';
import { concentratorImportCommands, meterImportCommands } from '../../actors/registry/bulk-import.js';
import { SimulatedConcentrator } from '../../actors/simulation/concentrator.js';
import { MeterModel } from '../../actors/simulation/meter-model.js';
import { ManualClock } from '../../core/clock.js';

/**
 * Initialization through the whole in-process head-end (work manager, jobs manager, worker,
 * device) against a simulated concentrator: one request for the concentrator's meters, and a
 * meter it does not serve retried alone.
 */

const t0 = Date.UTC(2026, 0, 1, 12);
const minute = 60_000;

describe('initialization through the head-end', () => {
  it('initializes 20 meters with one request and retries only the meter the concentrator refused', async () => {
    const clock = new ManualClock(t0);
    const served = Array.from({ length: 20 }, (_, i) => `M${i + 1}`);
    const concentrator = new SimulatedConcentrator({
      id: 'DC1',
      timeZone: 'Europe/Rome',
      meters: served.map((serial, i) => new MeterModel({ serial, seed: i, originMs: t0 - 86_400_000 })),
      clock,
    });
    const initRequests: string[][] = [];
    const link: FieldLink = {
      execute: (request: FieldRequest) => {
        if (request.type === 'initialize') initRequests.push([...request.meters]);
        return concentrator.execute(request);
      },
    };
    const headend = new LocalHeadend({
      clock,
      fieldLink: (id) => (id === 'DC1' ? link : undefined),
      workManager: { collectionRetryDelayMs: 15 * minute, maxCollectionRetries: 2 },
    });
    headend.importRegistry(
      concentratorImportCommands(
        'id;type;serial;substation;transformer;timezone;communicationtype;address\nDC1;DC450;S1;SUB;TR;Europe/Rome;gprs;10.0.0.1:4001',
      ),
    );
    // M21 is registered on DC1 but not behind it in the field.
    const meters = [...served, 'M21'].map((s) => `${s};MFS;CERM1;1.0;DC1`);
    headend.importRegistry(
      meterImportCommands(['serialnumber;manufacturer;model;firmware;concentrator', ...meters].join('\n')),
    );
    headend.tick();
    await headend.settle();

    expect(initRequests).toEqual([[...served, 'M21']]);
    const first = headend.outcomes.find((o) => o.jobId === 'init:DC1:1');
    expect(first).toMatchObject({ status: 'succeeded', failedMeters: ['M21'] });

    // The retry after the delay asks for M21 alone; the jobs manager retries its attempts
    // with backoff, then the work manager once more, then gives up.
    for (let t = t0 + minute; t <= t0 + 60 * minute; t += minute) {
      clock.set(t);
      headend.tick();
      await headend.settle();
    }
    expect(initRequests.slice(1).every((meters) => meters.length === 1 && meters[0] === 'M21')).toBe(true);
    expect(initRequests.length).toBeGreaterThan(1);
    const retries = headend.outcomes.filter((o) => o.jobId.startsWith('init:DC1:1#r'));
    expect(retries.map((o) => [o.jobId, o.status, o.errorCode])).toEqual([
      ['init:DC1:1#r1', 'failed', 'MF_DEVICE_INIT_FAILED'],
      ['init:DC1:1#r2', 'failed', 'MF_DEVICE_INIT_FAILED'],
    ]);
    // Each served meter was asked to initialize exactly once.
    for (const serial of served) expect(initRequests.flat().filter((s) => s === serial)).toHaveLength(1);
    expect(headend.workManager.init.outstanding).toEqual({});
  });
});
