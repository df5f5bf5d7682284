import { rm } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import type { StreamWriter } from '../../actors/host/headend-driver.js';
import { InProcessPorts } from '../../actors/host/service-ports.js';
import type { StreamBatch } from '../../actors/integration/checkpoint-stream.js';
import { expectExactlyOnceInOutputs } from './output-check.js';
import { hourMs } from './support/driver-day.js';
import { smallDayOriginMs, startSmallDay } from './support/small-day.js';

/**
 * The driver's stream writes in flight together (HeadendDriverOptions.streamWritesInFlight,
 * default 4): the next stream entry is handed to the writers while the last waits for its
 * fsyncs, entries are acknowledged (the stream's checkpoint) in position order, and a failed
 * entry stops every later one from being written or acknowledged before it.
 */
const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});
const originMs = smallDayOriginMs;

describe('HeadendDriver stream writes in flight together', () => {
  it('writes each stream entry once, in position order, with up to 4 in flight; every value once in CSV and CIM', {
    timeout: 300_000,
  }, async () => {
    const calls: number[] = [];
    let inFlight = 0;
    let highWater = 0;
    let wakeHeld: (() => void) | undefined;
    // Each write waits (up to 50 ms) for the next one to be handed over before it goes on, so
    // entries routed close together are written together.
    const wrapWrite =
      (write: StreamWriter): StreamWriter =>
      async (position, batches) => {
        calls.push(position);
        inFlight++;
        highWater = Math.max(highWater, inFlight);
        wakeHeld?.();
        try {
          await new Promise<void>((resolve) => {
            wakeHeld = resolve;
            setTimeout(resolve, 50);
          });
          await write(position, batches);
        } finally {
          inFlight--;
        }
      };
    const day = await startSmallDay({ ports: new InProcessPorts(), dirs, prefix: 'mf-overlap-', wrapWrite });
    const endMs = originMs + 25 * hourMs;
    await day.runUntil(endMs);
    await expectExactlyOnceInOutputs(day.truth(endMs), day.outDir, 'IT');
    expect(calls.length).toBeGreaterThan(10);
    for (let i = 1; i < calls.length; i++) expect(calls[i]).toBeGreaterThan(calls[i - 1]!);
    expect(highWater).toBeGreaterThan(1);
    expect(highWater).toBeLessThanOrEqual(4);
  });

  it('a failed entry N stops N+1 and later from being written or acknowledged; a resumed driver writes every value once', {
    timeout: 300_000,
  }, async () => {
    const services = new InProcessPorts();
    let fresh = 0;
    let failedAt: number | undefined;
    const afterFailure: number[] = [];
    // The 6th fresh entry fails inside the consumer before its writers see it (a record it
    // cannot read); the entries after it are in flight or queued behind it.
    const wrapWrite =
      (write: StreamWriter): StreamWriter =>
      (position, batches) => {
        if (failedAt !== undefined) afterFailure.push(position);
        if (failedAt === undefined && ++fresh === 6) {
          failedAt = position;
          const corrupt = batches.map((b) => ({ ...b, routed: [null] })) as unknown as StreamBatch[];
          return write(position, corrupt);
        }
        return write(position, batches);
      };
    const day = await startSmallDay({ ports: services, dirs, prefix: 'mf-overlap-fail-', wrapWrite });
    await expect(day.runUntil(originMs + 25 * hourMs)).rejects.toThrow();
    expect(failedAt).toBeDefined();
    await day.driver.quiesce();
    // The checkpoint stopped before the failed entry: it and every later one are still in the
    // stream (the integration actor's outbox), none acknowledged.
    const stream = (await services.outbox({ service: 'integration', key: 'it' })).map((e) => e.id);
    expect(stream).toContain(failedAt);
    for (const position of afterFailure) expect(stream).toContain(position);
    // Nothing after the failed entry reached the files: the CSV writers' last position is below it.
    expect(day.consumer.csv.highestSeq).toBeLessThan(failedAt!);
    expect(day.consumer.cim.lastPublishedSeq).toBeLessThan(failedAt!);
    await day.replaceDriver(services);
    const endMs = originMs + 25 * hourMs;
    await day.runUntil(endMs);
    await expectExactlyOnceInOutputs(day.truth(endMs), day.outDir, 'IT');
  });
});
