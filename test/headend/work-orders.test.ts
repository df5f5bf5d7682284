import { describe, expect, it } from 'vitest';
import { controlJob, onDemandReadJob } from '../../actors/domain/work-orders.js';
import { hourMs, originMs, runUntil, setUpDay } from './day-fixture.js';

async function tickUntil(
  run: ReturnType<typeof setUpDay>,
  done: () => boolean,
  stepMs: number,
  maxSteps: number,
) {
  for (let i = 0; i < maxSteps && !done(); i++) {
    run.clock.advance(stepMs);
    run.headend.tick();
    await run.headend.settle();
  }
}

describe('on-demand meter readings', () => {
  it("returns the meter's current registers, read over IEC 62056-21, as a high-priority job", async () => {
    const run = setUpDay({ concentrators: 2, meters: 2, outageChance: 0 });
    await runUntil(run, originMs + 3 * hourMs);
    run.clock.advance(123_000);
    const [serial, fleetMeter] = [...run.fleet.meters].find(([, m]) => m.concentratorId === 'TD-100000')!;
    const job = onDemandReadJob({
      meterSerial: serial,
      concentratorId: 'TD-100000',
      correlationId: 'OD-1',
      nowMs: run.clock.now(),
      timeoutMs: 30_000,
    });
    const outcomePromise = run.headend.submitJob(job);
    await run.headend.settle();
    const outcome = await outcomePromise;
    expect(outcome).toMatchObject({ status: 'succeeded', attempts: 1 });
    const total = run.headend
      .readingsOf(job.id)
      .find((r) => r.quantity.source === 'obis' && r.quantity.code === '1.8.0');
    expect(total).toMatchObject({ unit: 'kWh', value: fleetMeter.meter.totalAt(run.clock.now()) / 1000 });
    const results = run.routed.filter(
      (r) => r.record.type === 'workOrderResult' && r.record.correlationId === 'OD-1',
    );
    expect(results.map((r) => r.stream)).toEqual(['high']);
  });

  it('fails with MF_JOB_DEADLINE naming the timeout when the concentrator stays unreachable', async () => {
    const run = setUpDay({ concentrators: 1, meters: 1, outageChance: 1 });
    const outage = run.fleet.outages()[0]!;
    run.clock.set(outage.fromMs + 1);
    const [serial] = [...run.fleet.meters.keys()];
    const job = onDemandReadJob({
      meterSerial: serial!,
      concentratorId: 'TD-100000',
      correlationId: 'OD-2',
      nowMs: run.clock.now(),
      timeoutMs: 60_000,
    });
    let outcome: Awaited<ReturnType<typeof run.headend.submitJob>> | undefined;
    void run.headend.submitJob(job).then((o) => {
      outcome = o;
    });
    await run.headend.settle();
    await tickUntil(run, () => outcome !== undefined, 5_000, 30);
    expect(outcome).toMatchObject({ status: 'failed', errorCode: 'MF_JOB_DEADLINE' });
    expect(outcome?.errorMessage).toMatch(
      /timed out.*Concentrator TD-100000 is unreachable \[Open socket error\]/,
    );
    const perMeter = run.routed.filter(
      (r) => r.record.type === 'event' && r.record.event.correlationId === 'OD-2',
    );
    expect(perMeter.length).toBeGreaterThan(0);
    expect(perMeter[0]?.record).toMatchObject({
      event: { deviceId: serial, details: { EXTERNALREQUEST: 'True', CONCENTRATOR: 'TD-100000' } },
    });
  });
});

describe('end device control', () => {
  it('disconnect opens the relay once, emits the high-priority result and relay event with the CorrelationID; a repeat changes nothing', async () => {
    const run = setUpDay({ concentrators: 1, meters: 2, outageChance: 0 });
    await runUntil(run, originMs + hourMs);
    const [serial, fleetMeter] = [...run.fleet.meters][0]!;
    const order = () =>
      controlJob({
        meterSerial: serial,
        concentratorId: 'TD-100000',
        correlationId: '03102019093557034-WSCONSULTASMT',
        action: 'disconnect',
        nowMs: run.clock.now(),
        timeoutMs: 600_000,
      });
    const first = run.headend.submitJob(order());
    await run.headend.settle();
    expect(await first).toMatchObject({ status: 'succeeded' });
    expect(fleetMeter.meter.relayAt(run.clock.now())).toBe('open');
    const high = run.routed.filter((r) => r.stream === 'high');
    expect(high.map((r) => r.record.type).sort()).toEqual(['event', 'workOrderResult']);
    for (const r of high) {
      const correlation =
        r.record.type === 'event'
          ? r.record.event.correlationId
          : r.record.type === 'workOrderResult'
            ? r.record.correlationId
            : undefined;
      expect(correlation).toBe('03102019093557034-WSCONSULTASMT');
    }
    const routedBefore = run.routed.length;
    const second = run.headend.submitJob(order());
    await run.headend.settle();
    expect(await second).toMatchObject({ status: 'succeeded' });
    expect(fleetMeter.meter.relayOperations).toBe(1);
    expect(run.routed.length).toBe(routedBefore);
  });
});
