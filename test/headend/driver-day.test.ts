import { rm } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { InProcessPorts } from '../../actors/host/service-ports.js';
import { expectExactlyOnceInOutputs, expectValidCim } from './output-check.js';
import { CrashingPorts, JitteryPorts } from './support/crashing-ports.js';
import { hourMs, stepMs } from './support/driver-day.js';
import { smallDayOriginMs, startSmallDay } from './support/small-day.js';

/**
 * The head-end driver with every service behind ServicePorts (here the in-process
 * implementation of the same hosted machines the cluster runs): a provisioned day delivers
 * every simulated value exactly once in CSV and CIM, also when the driver dies mid-step
 * (a call committed but its reply lost, every later call failing) and a new driver resumes
 * from what the services hold.
 */
const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

const originMs = smallDayOriginMs;

function expectExactlyOnce(outDir: string, truth: Map<string, number>): Promise<void> {
  return expectExactlyOnceInOutputs(truth, outDir, 'IT');
}

describe('HeadendDriver over in-process ports', () => {
  it('delivers every simulated value exactly once in CSV and XSD-valid CIM', {
    timeout: 300_000,
  }, async () => {
    const ports = new InProcessPorts();
    const day = await startSmallDay({ ports, dirs, prefix: 'mf-driver-' });
    const { outDir } = day;
    const endMs = originMs + 25 * hourMs;
    await day.runUntil(endMs);
    const truth = day.truth(endMs);
    expect(truth.size).toBeGreaterThan(300);
    await expectExactlyOnce(outDir, truth);
    await expectValidCim(outDir, 10);
    // Acknowledgements wait to ride on each actor's next call (ActorLanes' ack hold)...
    expect(day.driver.heldAcks.entries).toBeGreaterThan(0);
    // ...and a settle that sends them all leaves nothing for a next driver.
    await day.driver.settle({ acks: 'all' });
    expect(day.driver.heldAcks).toEqual({ entries: 0, bytes: 0 });
    const jm = await ports.state({ service: 'jobs-manager', key: 'it' });
    expect(jm.outbox).toEqual([]);
    expect((await ports.state({ service: 'integration', key: 'it' })).outbox).toEqual([]);
    for (const c of day.fleet.concentrators)
      expect((await ports.state({ service: 'device', key: `it/${c.id}` })).outbox).toEqual([]);
  });

  it('with folded rounds (acknowledgements and the step completion sent with the next tick) still exactly once, across a killed driver too; a final settle sending every acknowledgement leaves no outbox entry', {
    timeout: 300_000,
  }, async () => {
    const inProcess = new InProcessPorts();
    const services = new JitteryPorts(inProcess, 7);
    const crashing = new CrashingPorts(services);
    const day = await startSmallDay({ ports: crashing, dirs, prefix: 'mf-driver-' });
    const { outDir } = day;
    // The bench's loop (bench/headend-cluster.bench.ts).
    const folded = async (fromMs: number, toMs: number) => {
      for (let t = fromMs; t <= toMs; t += stepMs) {
        day.clock.set(t);
        day.driver.tick();
        day.driver.flushAcks();
        await day.driver.settle({ acks: 'none' });
        day.driver.markStepDone(t);
      }
    };
    await folded(originMs, originMs + 11 * hourMs);
    // A collecting step has just settled: its stream entry is written but not yet acknowledged.
    expect((await inProcess.state({ service: 'integration', key: 'it' })).outbox.length).toBeGreaterThan(0);
    crashing.crashAfter(7);
    await expect(folded(originMs + 11 * hourMs + stepMs, originMs + 13 * hourMs)).rejects.toThrow(/dead/);
    const resumedAfter = await day.replaceDriver(services);
    expect(resumedAfter).toBeGreaterThanOrEqual(originMs + 11 * hourMs);
    const endMs = originMs + 25 * hourMs;
    await folded((resumedAfter ?? originMs) + stepMs, endMs);
    await day.driver.settle({ acks: 'all' });
    await day.consumer.flush();
    await expectExactlyOnce(outDir, day.truth(endMs));
    for (const service of ['jobs-manager', 'integration', 'work-manager'] as const)
      expect((await inProcess.state({ service, key: 'it' })).outbox).toEqual([]);
  });

  const includes = (command: unknown, text: string) => JSON.stringify(command).includes(text);
  const crashes: [string, (crashing: CrashingPorts) => void][] = [
    // The device has committed a field response (its cursors moved on); the readings are only in its outbox.
    [
      'after a device committed a field response with readings',
      (c) =>
        c.crashWhen(
          (s, cmd) => s === 'device' && includes(cmd, '"fieldResponse"') && includes(cmd, '"interval"'),
        ),
    ],
    // The TLog manager has routed (and will drop a repeat of) the records.
    [
      'after a TLog manager routed readings',
      (c) => c.crashWhen((s, _cmd, entries) => s === 'tlog-manager' && includes(entries, '"interval"')),
    ],
    // The stream has the batch; the writers have not seen it.
    [
      'after the integration stream appended a batch',
      (c) => c.crashWhen((s, _cmd, entries) => s === 'integration' && includes(entries, '"interval"')),
    ],
    ['after 7 more calls', (c) => c.crashAfter(7)],
  ];
  for (const [when, arm] of crashes) {
    it(`a driver killed ${when} (its reply lost) is replaced by one resuming from the services: still exactly once`, {
      timeout: 300_000,
    }, async () => {
      // Jitter: calls to different actors complete out of order, as on the cluster.
      const services = new JitteryPorts(new InProcessPorts(), 7);
      const crashing = new CrashingPorts(services);
      const day = await startSmallDay({ ports: crashing, dirs, prefix: 'mf-driver-' });
      const { outDir } = day;
      await day.runUntil(originMs + 11 * hourMs);
      arm(crashing);
      await expect(day.runUntil(originMs + 13 * hourMs)).rejects.toThrow(/dead/);
      expect(crashing.crashed).toBe(true);
      const resumedAfter = await day.replaceDriver(services);
      expect(resumedAfter).toBeGreaterThanOrEqual(originMs + 11 * hourMs);
      const endMs = originMs + 25 * hourMs;
      await day.runUntil(endMs);
      await expectExactlyOnce(outDir, day.truth(endMs));
    });
  }
});
