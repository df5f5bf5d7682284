import { appendFile, mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CheckpointExpiredError,
  CimPublisher,
  type CimPublisherOptions,
  messageXml,
  type PublishedEntry,
  type PublishedMessage,
} from '../../actors/integration/cim-publisher.js';
import { batchLogName } from '../../actors/integration/cim-window.js';
import type { OutputBatch } from '../../actors/integration/output-batch.js';
import type { EndDeviceEventInput } from '../../adapters/cim/end-device-events.js';
import { ManualClock } from '../../core/clock.js';

/**
 * The retained window after a restart: a new publisher over the same out dir rebuilds it from
 * the CIM files the earlier one wrote (cim-window.ts), so a lagging subscriber resumes exactly.
 */

const t0 = Date.UTC(2026, 2, 10);
const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

function batch(seq: number): OutputBatch {
  const readings = Array.from({ length: 5 }, (_, i) => ({
    meterSerial: `M${seq}-${i}`,
    kind: 'interval' as const,
    quantity: { source: 'profile' as const, quantity: 'activeImportInterval' as const },
    value: seq * 100 + i,
    unit: 'Wh',
    timestampMs: t0 + 3_600_000,
    intervalSeconds: 3600,
  }));
  const event = (deviceId: string, correlationId?: string): EndDeviceEventInput => ({
    deviceId,
    deviceKind: 'meter',
    key: 'meter.relayOpened',
    phase: 'occurred',
    timestampMs: t0,
    ...(correlationId ? { correlationId } : {}),
  });
  // 3 MeterReadings messages (2 readings each), 2 EndDeviceEvents (one with a CorrelationID).
  return { csv: {}, readings, events: [event(`M${seq}`, `C-${seq}&x`), event(`M${seq}b`)] };
}

async function setUp(extra: Partial<CimPublisherOptions> = {}) {
  const outDir = await mkdtemp(join(tmpdir(), 'mf-pub-restart-'));
  dirs.push(outDir);
  const options: CimPublisherOptions = {
    outDir,
    source: 'n1',
    clock: new ManualClock(t0),
    maxReadingsPerMessage: 2,
    ...extra,
  };
  const first = new CimPublisher(options);
  await first.restoreFromDisk();
  // What a live subscriber got (copied: the bytes a listener gets may be lent for the call only).
  const all = await subscribeAll(first, 0);
  const entries: PublishedEntry[] = [];
  for (let seq = 3; seq <= 6; seq++) entries.push(...(await first.publish(batch(seq), seq)));
  expect(all.map(entryOf)).toEqual(entries);
  return { outDir, options, all };
}

/** A message as `publish` resolves with it and the window keeps it: no bytes, their length. */
function entryOf({ bytes, ...m }: PublishedMessage): PublishedEntry {
  return { ...m, byteLength: bytes.byteLength };
}

/** Every message after `checkpoint`, read from the files, then live ones as they come. */
async function subscribeAll(publisher: CimPublisher, checkpoint: number): Promise<PublishedMessage[]> {
  const got: PublishedMessage[] = [];
  await publisher.subscribe(checkpoint, (m) => got.push({ ...m, bytes: m.bytes.slice() })).caughtUp;
  return got;
}

function expired(publisher: CimPublisher, checkpoint: number): CheckpointExpiredError {
  try {
    publisher.subscribe(checkpoint, () => undefined);
  } catch (err) {
    if (err instanceof CheckpointExpiredError) return err;
    throw err;
  }
  throw new Error(`checkpoint ${checkpoint} was served`);
}

describe('CIM publisher window after a restart', () => {
  it('a subscriber resuming from a mid position gets exactly the rest: same MessageIDs, bytes, order, CorrelationIDs', async () => {
    const { options, all } = await setUp();
    expect(all).toHaveLength(20);
    const second = new CimPublisher(options);
    const restored = await second.restoreFromDisk();
    expect(restored?.messages).toHaveLength(20);
    expect(restored?.cut).toEqual([]);
    for (const from of [0, 7, 19]) {
      const checkpoint = from === 0 ? 0 : (all[from - 1] as PublishedMessage).position;
      const got = await subscribeAll(second, checkpoint);
      expect(got).toEqual(all.slice(from));
    }
    expect(second.lastPosition).toBe(all.at(-1)?.position);
    // The stream replays the unacknowledged last batch, then new batches: only new ones arrive.
    const live = await subscribeAll(second, (all[9] as PublishedMessage).position);
    expect(live).toEqual(all.slice(10));
    live.length = 0;
    await second.publish(batch(6), 6);
    expect(live).toEqual([]);
    const fresh = await second.publish(batch(7), 7);
    expect(live.map(entryOf)).toEqual(fresh);
    // The replay replaced its positions in the window instead of adding copies.
    expect(
      (await subscribeAll(second, (all[14] as PublishedMessage).position)).map((m) => m.position),
    ).toEqual([...all.slice(15).map((m) => m.position), ...fresh.map((m) => m.position)]);
  });

  it('bounds the rebuilt window like the live one: an older checkpoint gets MF_CHECKPOINT_EXPIRED naming where to resume', async () => {
    const { options, all } = await setUp();
    const second = new CimPublisher({ ...options, maxRetainedMessages: 7 });
    await second.restoreFromDisk();
    const boundary = (all[12] as PublishedMessage).position;
    const error = expired(second, (all[11] as PublishedMessage).position);
    expect(error.code).toBe('MF_CHECKPOINT_EXPIRED');
    expect(error.details).toMatchObject({ resumeFrom: boundary, lost: 1, lostExact: false });
    // 13 messages are older than the window; the record of them is bounded like the window (7).
    expect(expired(second, 0).details).toMatchObject({ lost: 7, lostExact: false });
    expect(() => second.subscribe(0, () => undefined)).toThrow(CheckpointExpiredError);
    expect(await subscribeAll(second, boundary)).toEqual(all.slice(13));

    const size = (all[19] as PublishedMessage).bytes.byteLength;
    const byBytes = new CimPublisher({ ...options, maxRetainedBytes: size * 3 + 10 });
    const restored = await byBytes.restoreFromDisk();
    expect(restored?.bytes).toBeLessThanOrEqual(size * 3 + 10);
    const kept = restored?.messages ?? [];
    expect(kept.length).toBeGreaterThan(0);
    expect(kept).toEqual(all.slice(all.length - kept.length).map(entryOf));
    expired(byBytes, 0);
  });

  it('a batch a crash left half written (no log line, a torn file) is left out and replayed; nothing invented', async () => {
    const { outDir, options, all } = await setUp();
    // The crash: batch 7's first file was renamed into place but cut short, the rest never written.
    const scratch = await mkdtemp(join(tmpdir(), 'mf-pub-scratch-'));
    dirs.push(scratch);
    const next = new CimPublisher({ ...options, outDir: scratch });
    const seven = await next.publish(batch(7), 7);
    const torn = seven[0] as PublishedEntry;
    await writeFile(
      join(outDir, 'cim', 'MeterReadings', `0000000007-${torn.messageId}.xml`),
      messageXml({ bytes: await next.bytesOf(torn) }).slice(0, 300),
    );
    const second = new CimPublisher(options);
    const restored = await second.restoreFromDisk();
    expect(restored?.messages).toEqual(all.map(entryOf));
    expect(restored?.cut).toEqual([expect.objectContaining({ seq: 7 })]);
    const got = await subscribeAll(second, (all[15] as PublishedMessage).position);
    expect(got).toEqual(all.slice(16));
    // The stream replays batch 7 (never acknowledged): the subscriber gets it whole, once.
    got.length = 0;
    const replayed = await second.publish(batch(7), 7);
    expect(got.map(entryOf)).toEqual(replayed);
    expect(replayed.map((m) => m.messageId)).toEqual(seven.map((m) => m.messageId));
    expect(await readFile(join(outDir, 'cim', 'MeterReadings', `0000000007-${torn.messageId}.xml`))).toEqual(
      Buffer.from(got[0]!.bytes),
    );
  });

  it('a torn file in a batch logged whole ends the window there: later messages served, earlier checkpoints expire', async () => {
    const { outDir, options, all } = await setUp();
    const victim = all[12] as PublishedMessage;
    const names = await readdir(join(outDir, 'cim', victim.noun));
    const name = names.find((n) => n.includes(victim.messageId)) as string;
    await truncate(join(outDir, 'cim', victim.noun, name), 200);
    // A torn line at the log's end (a crash while appending) is ignored, not misread.
    await appendFile(join(outDir, 'cim', batchLogName), '9 1');
    const second = new CimPublisher(options);
    const restored = await second.restoreFromDisk();
    expect(restored?.messages).toEqual(all.slice(13).map(entryOf));
    expect(expired(second, (all[11] as PublishedMessage).position).details).toMatchObject({
      resumeFrom: victim.position,
    });
    expect(await subscribeAll(second, victim.position)).toEqual(all.slice(13));
  });

  it('a logged batch whose files were removed ends the window there instead of being skipped', async () => {
    const { outDir, options, all } = await setUp();
    // Batch 4 (messages 5..9): its files removed by hand.
    for (const m of all.slice(5, 10)) {
      const names = await readdir(join(outDir, 'cim', m.noun));
      await rm(join(outDir, 'cim', m.noun, names.find((n) => n.includes(m.messageId)) as string));
    }
    const second = new CimPublisher(options);
    const restored = await second.restoreFromDisk();
    expect(restored?.messages).toEqual(all.slice(10).map(entryOf));
    expect(expired(second, (all[4] as PublishedMessage).position).details).toMatchObject({
      resumeFrom: (all[9] as PublishedMessage).position,
    });
    expect(await subscribeAll(second, (all[9] as PublishedMessage).position)).toEqual(all.slice(10));
  });

  it('files another source wrote (other MessageIDs) end the window instead of getting guessed positions', async () => {
    const { options, all } = await setUp();
    const other = new CimPublisher({ ...options, source: 'other' });
    const restored = await other.restoreFromDisk();
    expect(restored?.messages).toEqual([]);
    expired(other, (all[18] as PublishedMessage).position);
    expect(await subscribeAll(other, 7 * 2 ** 20 - 1)).toEqual([]);
  });
});
