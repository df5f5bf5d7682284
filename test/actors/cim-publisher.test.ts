import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CheckpointExpiredError,
  CimPublisher,
  MAX_POSITION_SEQ,
  messagePosition,
  messageXml,
  POSITIONS_PER_SEQ,
  type PublishedEntry,
  type PublishedMessage,
} from '../../actors/integration/cim-publisher.js';
import type { OutputBatch } from '../../actors/integration/output-batch.js';
import type { EndDeviceEventInput } from '../../adapters/cim/end-device-events.js';
import { ManualClock } from '../../core/clock.js';

const t0 = Date.UTC(2026, 2, 10);
const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

function readings(n: number): OutputBatch['readings'] {
  return Array.from({ length: n }, (_, i) => ({
    meterSerial: `M${i}`,
    kind: 'interval' as const,
    quantity: { source: 'profile' as const, quantity: 'activeImportInterval' as const },
    value: i,
    unit: 'Wh',
    timestampMs: t0 + 3_600_000,
    intervalSeconds: 3600,
  }));
}

const event = (deviceId: string, correlationId?: string): EndDeviceEventInput => ({
  deviceId,
  deviceKind: 'meter',
  key: 'meter.relayOpened',
  phase: 'occurred',
  timestampMs: t0,
  ...(correlationId ? { correlationId } : {}),
});

describe('CIM publisher', () => {
  it('writes each message of a batch to its own file once, and one EndDeviceEvents message per CorrelationID', async () => {
    const outDir = await mkdtemp(join(tmpdir(), 'mf-cim-pub-'));
    dirs.push(outDir);
    const publisher = new CimPublisher({
      outDir,
      source: 'n1',
      clock: new ManualClock(t0),
      maxReadingsPerMessage: 4,
    });
    const batch: OutputBatch = {
      csv: {},
      readings: readings(10),
      events: [event('M1', 'C-1'), event('M2'), event('M3', 'C-1'), event('M4', 'C-2')],
    };
    // What a live subscriber gets (copied: the bytes a listener gets may be lent for the call only).
    const heard: PublishedMessage[] = [];
    publisher.subscribe(0, (m) => heard.push({ ...m, bytes: m.bytes.slice() }));
    const published = await publisher.publish(batch, 1);
    expect(heard.map(({ bytes, ...m }) => ({ ...m, byteLength: bytes.byteLength }))).toEqual(published);
    expect(published.map((m) => m.noun)).toEqual([
      'MeterReadings',
      'MeterReadings',
      'MeterReadings',
      'EndDeviceEvents',
      'EndDeviceEvents',
      'EndDeviceEvents',
    ]);
    const events = published.filter((m) => m.noun === 'EndDeviceEvents');
    expect(events.map((m) => m.correlationId)).toEqual(['C-1', undefined, 'C-2']);
    expect(
      messageXml({ bytes: await publisher.bytesOf(events[0]!) }).match(/<EndDeviceEvent>/g),
    ).toHaveLength(2);
    const files = async (noun: string) => (await readdir(join(outDir, 'cim', noun))).sort();
    expect(await files('MeterReadings')).toHaveLength(3);
    expect(await files('EndDeviceEvents')).toHaveLength(3);
    for (const m of heard) {
      const name = (await files(m.noun)).find((f) => f.includes(m.messageId));
      expect(await readFile(join(outDir, 'cim', m.noun, name as string))).toEqual(Buffer.from(m.bytes));
    }
    // Replayed at the same position: nothing new published or written.
    expect(await publisher.publish(batch, 1)).toEqual([]);
    expect(await files('MeterReadings')).toHaveLength(3);
  });

  it('retains at most maxRetainedBytes of XML for resuming subscribers; an older checkpoint expires', async () => {
    const publisher = new CimPublisher({
      source: 'n1',
      clock: new ManualClock(t0),
      maxRetainedBytes: 20_000,
    });
    let size = 0;
    const all: PublishedEntry[] = [];
    for (let seq = 1; seq <= 30; seq++) {
      const [m] = await publisher.publish({ csv: {}, readings: readings(5), events: [] }, seq);
      size = (m as PublishedEntry).byteLength;
      all.push(m as PublishedEntry);
    }
    const resumed: number[] = [];
    const oldestKept = 30 - Math.floor(20_000 / size);
    const stop = publisher.subscribe(all[oldestKept - 1]?.position as number, (m) =>
      resumed.push(m.position),
    );
    stop();
    expect(resumed).toEqual(all.slice(oldestKept).map((m) => m.position));
    expect(resumed[resumed.length - 1]).toBe(all[29]?.position);
    expect(resumed.length * size).toBeLessThanOrEqual(20_000);
    expect(resumed.length).toBeGreaterThan(0);
    expect(() => publisher.subscribe(0, () => undefined)).toThrow(CheckpointExpiredError);
  });

  it('positions derive from the batch seq and the index in it: a replay in a new process has the same positions', async () => {
    const outDir = await mkdtemp(join(tmpdir(), 'mf-cim-pub-'));
    dirs.push(outDir);
    const options = { outDir, source: 'n1', clock: new ManualClock(t0), maxReadingsPerMessage: 4 };
    const batch = (n: number): OutputBatch => ({
      csv: {},
      readings: readings(n),
      events: [event('M1', 'C-1')],
    });
    const first = new CimPublisher(options);
    await first.restoreFromDisk();
    const seen: PublishedMessage[] = [];
    first.subscribe(0, (m) => seen.push(m));
    for (let seq = 5; seq <= 7; seq++) await first.publish(batch(6), seq);
    expect(seen.slice(0, 3).map((m) => m.position)).toEqual([
      5 * POSITIONS_PER_SEQ + 1,
      5 * POSITIONS_PER_SEQ + 2,
      5 * POSITIONS_PER_SEQ + 3,
    ]);
    // The subscriber's checkpoint: the last message the first process published.
    const checkpoint = seen[8]?.position as number;
    expect(checkpoint).toBe(7 * POSITIONS_PER_SEQ + 3);

    // A new process over the same out dir: the stream replays batch 7, then new batches follow.
    const second = new CimPublisher(options);
    await second.restoreFromDisk();
    expect(second.lastPublishedSeq).toBe(7);
    expect(second.lastPosition).toBe(seen.at(-1)?.position);
    const resumed: PublishedMessage[] = [];
    second.subscribe(checkpoint, (m) => resumed.push(m));
    const replayed = await second.publish(batch(6), 7);
    expect(replayed.map((m) => [m.position, m.messageId])).toEqual(
      seen.slice(6).map((m) => [m.position, m.messageId]),
    );
    const fresh = [...(await second.publish(batch(6), 8)), ...(await second.publish(batch(1), 9))];
    // Exactly the messages after the checkpoint: the replay is not announced again; 8 and 9 are.
    expect(resumed.map((m) => m.messageId)).toEqual(fresh.map((m) => m.messageId));
    expect(resumed.map((m) => m.position)).toEqual([
      8 * POSITIONS_PER_SEQ + 1,
      8 * POSITIONS_PER_SEQ + 2,
      8 * POSITIONS_PER_SEQ + 3,
      9 * POSITIONS_PER_SEQ + 1,
      9 * POSITIONS_PER_SEQ + 2,
    ]);
    // A checkpoint older than what the earlier process wrote last (here: inside batch 7) is
    // served from the window rebuilt from the files (test/headend/publisher-restart.test.ts
    // covers its limits and the expiry of checkpoints older than it).
    const older = seen[6]?.position as number;
    const fromOlder: number[] = [];
    // Read from the files (the window keeps no bytes with an out dir), then live.
    await second.subscribe(older, (m) => fromOlder.push(m.position)).caughtUp;
    expect(fromOlder).toEqual([...seen.slice(7).map((m) => m.position), ...fresh.map((m) => m.position)]);
  });

  it('an expired checkpoint reports how many messages after it were dropped, with sparse positions', async () => {
    const publisher = new CimPublisher({ source: 'n1', clock: new ManualClock(t0), maxRetainedMessages: 2 });
    const all: PublishedEntry[] = [];
    for (let seq = 10; seq < 15; seq++)
      all.push(...(await publisher.publish({ csv: {}, readings: readings(1), events: [] }, seq)));
    let error: CheckpointExpiredError | undefined;
    try {
      publisher.subscribe(all[0]?.position as number, () => undefined);
    } catch (err) {
      error = err as CheckpointExpiredError;
    }
    expect(error?.details).toMatchObject({ resumeFrom: all[2]?.position, lost: 2, lostExact: true });
    const got: number[] = [];
    publisher.subscribe(all[2]?.position as number, (m) => got.push(m.position));
    expect(got).toEqual([all[3]?.position, all[4]?.position]);
  });

  it('refuses a seq or a batch size whose positions would not be safe integers, before writing anything', async () => {
    expect(messagePosition(MAX_POSITION_SEQ, POSITIONS_PER_SEQ - 2)).toBeLessThanOrEqual(
      Number.MAX_SAFE_INTEGER,
    );
    expect(() => messagePosition(MAX_POSITION_SEQ + 1, 0)).toThrow(/MF_POSITION_RANGE|safe integers/);
    expect(() => messagePosition(3, POSITIONS_PER_SEQ - 1)).toThrow(/at most 1048575 messages/);
    expect(() => messagePosition(-1, 0)).toThrow(/outside/);
    const outDir = await mkdtemp(join(tmpdir(), 'mf-cim-pub-'));
    dirs.push(outDir);
    const publisher = new CimPublisher({ outDir, source: 'n1', clock: new ManualClock(t0) });
    await expect(
      publisher.publish({ csv: {}, readings: readings(1), events: [] }, MAX_POSITION_SEQ + 1),
    ).rejects.toMatchObject({ code: 'MF_POSITION_RANGE' });
    await expect(readdir(join(outDir, 'cim'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
