import { afterEach, describe, expect, it } from 'vitest';
import { controlJob, onDemandReadJob } from '../../actors/domain/work-orders.js';
import { LocalHeadend } from '../../actors/host/local-headend.js';
import { SimulatedFleet } from '../../actors/simulation/fleet.js';
import { groundTruth } from '../../actors/simulation/ground-truth.js';
import type { RoutedRecord } from '../../actors/tlog/router.js';
import { ManualClock } from '../../core/clock.js';

// Work orders to a KNX gateway's meter and to a battery site, through the in-process head-end
// over real UDP tunnelling and TCP.
const hourMs = 3_600_000;
const originMs = Date.UTC(2026, 2, 10, 6, 0);
const fleets: SimulatedFleet[] = [];
afterEach(async () => {
  for (const fleet of fleets.splice(0)) await fleet.stop();
});

function setUp() {
  const clock = new ManualClock(originMs);
  const fleet = new SimulatedFleet({
    concentrators: 0,
    metersPerConcentrator: 0,
    seed: 5,
    originMs,
    clock,
    knxSites: 1,
    batterySites: 1,
    batteryOverTemperatureChance: 0,
  });
  fleets.push(fleet);
  const routed: RoutedRecord[] = [];
  const headend = new LocalHeadend({
    clock,
    fieldLink: (id) => fleet.concentrator(id),
    sink: (batch) => {
      routed.push(...batch);
    },
  });
  for (const command of fleet.provisioning()) headend.applyRegistry(command);
  const runUntil = async (endMs: number) => {
    for (let t = clock.now(); t <= endMs; t += 5 * 60_000) {
      clock.set(t);
      headend.tick();
      await headend.settle();
    }
  };
  return { clock, fleet, headend, routed, runUntil };
}

describe('work orders to KNX and battery sites', () => {
  it("disconnect sheds a KNX meter's load once through a confirmed group write, with the CorrelationID on the high-priority stream", async () => {
    const { clock, fleet, headend, routed, runUntil } = setUp();
    await runUntil(originMs + hourMs);
    const site = fleet.knxSites[0]!;
    const serial = site.meterSerials[0]!;
    const order = () =>
      controlJob({
        meterSerial: serial,
        concentratorId: site.id,
        correlationId: 'KNX-CTL-1',
        action: 'disconnect',
        nowMs: clock.now(),
        timeoutMs: 600_000,
      });
    const first = headend.submitJob(order());
    await headend.settle();
    expect(await first).toMatchObject({ status: 'succeeded' });
    expect(site.simulator.bus.meter(serial)?.relayClosed).toBe(false);
    const high = routed.filter((r) => r.stream === 'high');
    expect(high.map((r) => r.record.type).sort()).toEqual(['event', 'workOrderResult']);
    expect(high.find((r) => r.record.type === 'event')?.record).toMatchObject({
      event: { key: 'meter.relayOpened', deviceId: serial, correlationId: 'KNX-CTL-1' },
    });

    // The same order again is answered from the device's memory: no second write on the bus.
    const writes = site.simulator.bus.writes.length;
    const routedBefore = routed.length;
    const second = headend.submitJob(order());
    await headend.settle();
    expect(await second).toMatchObject({ status: 'succeeded' });
    expect(site.simulator.bus.writes.length).toBe(writes);
    expect(routed.length).toBe(routedBefore);

    // From then on the meter draws nothing: its power samples are 0, its counter stands still.
    const disconnectedAt = clock.now();
    await runUntil(originMs + 3 * hourMs);
    const after = groundTruth(fleet, disconnectedAt, clock.now()).filter((v) => v.meterSerial === serial);
    expect(after.filter((v) => v.code === '14.056').map((v) => v.value)).toEqual([0, 0]);
    expect(new Set(after.filter((v) => v.code === '13.010').map((v) => v.value)).size).toBe(1);
    const delivered = routed.filter(
      (r) =>
        r.record.type === 'reading' &&
        r.record.reading.meterSerial === serial &&
        r.record.reading.timestampMs > disconnectedAt &&
        r.record.reading.quantity.source === 'knx' &&
        r.record.reading.quantity.dpt === '14.056',
    );
    expect(delivered.map((r) => (r.record.type === 'reading' ? r.record.reading.value : -1))).toEqual([0, 0]);
  });

  it('an on-demand reading of a battery returns its fresh sample; a disconnect order is refused, not executed', async () => {
    const { clock, fleet, headend, runUntil } = setUp();
    await runUntil(originMs + hourMs);
    const site = fleet.batterySites[0]!;
    clock.advance(90_000);
    const read = onDemandReadJob({
      meterSerial: site.deviceId,
      concentratorId: site.id,
      correlationId: 'BAT-OD-1',
      nowMs: clock.now(),
      timeoutMs: 30_000,
    });
    const outcome = headend.submitJob(read);
    await headend.settle();
    expect(await outcome).toMatchObject({ status: 'succeeded' });
    const readings = headend.readingsOf(read.id);
    const sample = site.samples.at(-1)!;
    expect(sample.timestampMs).toBe(clock.now());
    expect(
      readings.find((r) => r.quantity.source === 'battery' && r.quantity.quantity === 'stateOfCharge'),
    ).toMatchObject({
      value: sample.stateOfCharge,
      timestampMs: clock.now(),
    });

    const control = headend.submitJob(
      controlJob({
        meterSerial: site.deviceId,
        concentratorId: site.id,
        correlationId: 'BAT-CTL-1',
        action: 'disconnect',
        nowMs: clock.now(),
        timeoutMs: 60_000,
      }),
    );
    await headend.settle();
    expect(await control).toMatchObject({
      status: 'failed',
      errorCode: 'MF_DEVICE_CONTROL_FAILED',
      errorMessage: expect.stringContaining(`battery ${site.deviceId} takes no disconnect orders`),
    });
    // Nothing was asked of the battery: no broadcast, no new sample.
    expect(site.samples.at(-1)).toBe(sample);
  });
});
