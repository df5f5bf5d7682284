import { describe, expect, it } from 'vitest';
import { buildOutputBatch } from '../../actors/integration/output-batch.js';
import { truthKey } from '../../actors/simulation/ground-truth.js';
import { encodeCsvFile, parseCsvFile, parseCsvTimestamp } from '../../adapters/csv/codec.js';
import { hourMs, keyOfRouted, originMs, runUntil, setUpDay, truthOf } from './day-fixture.js';

describe('a simulated day through the in-process head-end', () => {
  it('delivers every value the field produced exactly once and nothing else, across outages', async () => {
    const run = setUpDay({ concentrators: 6, meters: 3, outageChance: 0.6 });
    expect(run.fleet.outages().length).toBeGreaterThan(0);
    const endMs = originMs + 25 * hourMs;
    await runUntil(run, endMs);
    const truth = truthOf(run, endMs);
    const kinds = new Set([...truth.keys()].map((k) => k.split('|')[0]));
    expect([...kinds].sort()).toEqual(['dailyClosure', 'interval', 'statusAlarm', 'statusWord', 'voltage']);

    const seen = new Map<string, number>();
    const extra: string[] = [];
    for (const r of run.routed) {
      const item = keyOfRouted(r);
      if (!item) continue;
      seen.set(item.key, (seen.get(item.key) ?? 0) + 1);
      if (truth.get(item.key) !== item.value) extra.push(`${item.key}=${item.value}`);
    }
    const missing = [...truth.keys()].filter((k) => !seen.has(k));
    const twice = [...seen].filter(([, n]) => n > 1).map(([k]) => k);
    expect({ missing, twice, extra }).toEqual({ missing: [], twice: [], extra: [] });
    expect(seen.size).toBe(truth.size);
  });

  it('writes an MP_ row for every daily maximum demand and a PP_ row for every prepayment register, once', async () => {
    const run = setUpDay({ concentrators: 6, meters: 4, outageChance: 0.6 });
    const endMs = originMs + 25 * hourMs;
    await runUntil(run, endMs);
    const truth = truthOf(run, endMs);
    const codeOf = (k: string) => k.split('|')[2];
    const mdTruth = [...truth].filter(([k]) => codeOf(k) === '1.6.0');
    const ppTruth = [...truth].filter(([k]) => codeOf(k)?.startsWith('19.'));
    // Every meter closes one day in the window; 10 % of the fleet (seeded) pays in advance.
    expect(mdTruth).toHaveLength(24);
    expect(ppTruth.length).toBeGreaterThanOrEqual(2);

    const pods = new Map([...run.fleet.meters].map(([serial, m]) => [serial, m.pod]));
    const batch = buildOutputBatch(run.routed, (serial) => pods.get(serial));
    // Through the CSV codec and back, as a reader of the files sees them.
    const mp = parseCsvFile('MP', encodeCsvFile('MP', batch.csv.MP ?? []));
    const pp = parseCsvFile('PP', encodeCsvFile('PP', batch.csv.PP ?? []));
    const seen = [
      ...mp.map((r) => [
        truthKey({
          kind: 'dailyClosure',
          meterSerial: r.serialnumber!,
          code: '1.6.0',
          timestampMs: parseCsvTimestamp(r.time!),
        }),
        Number(r.value),
      ]),
      ...pp.map((r) => [
        truthKey({
          kind: 'dailyClosure',
          meterSerial: r.serialnumber!,
          code: r.register!,
          timestampMs: parseCsvTimestamp(r.time!),
        }),
        Number(r.value),
      ]),
    ] as [string, number][];
    expect(seen.sort()).toEqual([...mdTruth, ...ppTruth].sort());
    for (const r of mp) expect(r.pod).toBe(pods.get(r.serialnumber!));
    for (const r of pp) expect(r.unit).toBe('EUR');
  });

  it('talks to each concentrator one request at a time and raises unreachable events for outages', async () => {
    const run = setUpDay({ concentrators: 4, meters: 2, outageChance: 1 });
    await runUntil(run, originMs + 24 * hourMs);
    for (const c of run.fleet.concentrators) expect(c.maxConcurrentRequests).toBe(1);
    const unreachable = run.routed.filter(
      (r) =>
        r.record.type === 'event' &&
        r.record.event.key === 'concentrator.unreachable' &&
        r.record.event.phase === 'raised',
    );
    const concentratorsDown = new Set(
      unreachable.map((r) => (r.record.type === 'event' ? r.record.event.deviceId : '')),
    );
    expect(concentratorsDown).toEqual(new Set(run.fleet.outages().map((o) => o.concentratorId)));
    for (const r of unreachable)
      expect(r.record.type === 'event' && r.record.event.details?.DESCRIPTION).toBe(
        'Concentrator is unreachable [Open socket error]',
      );
  });
});
