import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CheckpointExpiredError,
  CimPublisher,
  type PublishedMessage,
} from '../../actors/integration/cim-publisher.js';
import { catchUpChunk } from '../../actors/integration/cim-subscription.js';
import { messageFilePath } from '../../actors/integration/cim-window.js';
import type { OutputBatch } from '../../actors/integration/output-batch.js';
import type { CollectedReading } from '../../adapters/field-data.js';
import { WorkerPool } from '../../cluster/pool/pool.js';
import { ManualClock } from '../../core/clock.js';

/**
 * The retained window with an out dir keeps no bytes (session 17): live subscribers get the bytes
 * at publish time (lent from the pool's arenas), a resuming subscriber reads them from the files.
 * Real publisher, real worker pool, real files.
 */
const t0 = Date.UTC(2026, 2, 10);
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function readings(n: number, seq: number): CollectedReading[] {
  return Array.from({ length: n }, (_, i) => ({
    meterSerial: `M${seq}-${i % 40}`,
    usagePoint: `P${i % 40}`,
    kind: 'interval' as const,
    quantity: { source: 'profile' as const, quantity: 'activeImportInterval' as const },
    value: seq * 1000 + i,
    unit: 'Wh',
    timestampMs: t0 + 900_000 * (i % 96),
    intervalSeconds: 900,
  }));
}

/** 1,200 readings in messages of 100 (encoded in the pool: lent bytes), and one event message. */
function batchOf(seq: number): OutputBatch {
  return {
    csv: {},
    readings: readings(1200, seq),
    events: [
      {
        deviceId: `M${seq}`,
        deviceKind: 'meter',
        key: 'meter.relayOpened',
        phase: 'occurred',
        timestampMs: t0,
        correlationId: `C-${seq}`,
      },
    ],
  };
}

/** A listener keeping copies (the bytes it gets may be lent for the call only), as latin1 text for fast exact compares. */
function collector(): {
  got: (Omit<PublishedMessage, 'bytes'> & { text: string })[];
  listener: (m: PublishedMessage) => void;
} {
  const got: (Omit<PublishedMessage, 'bytes'> & { text: string })[] = [];
  return {
    got,
    listener: ({ bytes, ...m }) =>
      got.push({
        ...m,
        text: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1'),
      }),
  };
}

async function setUp(batches: number) {
  const outDir = await mkdtemp(join(tmpdir(), 'mf-cim-window-files-'));
  cleanups.push(() => rm(outDir, { recursive: true, force: true }));
  const pool = new WorkerPool({ mode: 'workers', threads: 2 });
  cleanups.push(() => pool.close());
  const publisher = await CimPublisher.open({
    outDir,
    source: 'n1',
    clock: new ManualClock(t0),
    maxReadingsPerMessage: 100,
    pool,
  });
  const live = collector();
  publisher.subscribe(0, live.listener);
  for (let seq = 1; seq <= batches; seq++) await publisher.publish(batchOf(seq), seq);
  return { outDir, publisher, live: live.got };
}

describe('CimPublisher window served from the files', () => {
  it('a resuming subscriber gets from the files exactly what live subscribers got at publish time, byte for byte', async () => {
    // 13 messages a batch: 52 messages, more than one catch-up chunk.
    const { publisher, live } = await setUp(4);
    expect(live).toHaveLength(52);
    expect(live.length).toBeGreaterThan(catchUpChunk.messages);
    for (const from of [0, 5, 33, 51]) {
      const resumed = collector();
      const checkpoint = from === 0 ? 0 : live[from - 1]!.position;
      await publisher.subscribe(checkpoint, resumed.listener).caughtUp;
      expect(resumed.got).toEqual(live.slice(from));
    }
  });

  it('a subscriber catching up while batches are published gets every message once, in order, then live ones', async () => {
    const { publisher, live } = await setUp(3);
    const resumed = collector();
    // The first chunk at once; the second only once batch 4 is published: that one and batch 5
    // are announced while the subscriber reads the backlog from the files, not yet a live listener.
    let gate: Promise<unknown> = Promise.resolve();
    const subscription = publisher.subscribe(0, resumed.listener, {
      ready: () => gate.then(() => undefined),
    });
    const more = [publisher.publish(batchOf(4), 4), publisher.publish(batchOf(5), 5)];
    gate = more[0]!;
    await subscription.caughtUp;
    await Promise.all(more);
    await publisher.publish(batchOf(6), 6);
    expect(live).toHaveLength(6 * 13);
    expect(resumed.got).toEqual(live);
  });

  it('reads the backlog only as fast as the subscriber is ready for it (one chunk at a time)', async () => {
    const { publisher, live } = await setUp(4);
    const resumed = collector();
    let readyCalls = 0;
    let release: (() => void) | undefined;
    const subscription = publisher.subscribe(0, resumed.listener, {
      ready: () => {
        readyCalls++;
        // The first chunk at once, then the subscriber is busy until released.
        return readyCalls === 1 ? undefined : new Promise<void>((resolve) => (release = resolve));
      },
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(resumed.got).toHaveLength(catchUpChunk.messages);
    release?.();
    // From here on every chunk waits for the next release: release as they come.
    while (resumed.got.length < live.length) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      release?.();
    }
    await subscription.caughtUp;
    expect(resumed.got).toEqual(live);
  });

  for (const damage of ['removed', 'torn', 'overwritten with another message'] as const) {
    it(`a file ${damage} inside the window ends it there: the messages before it, then MF_CHECKPOINT_EXPIRED; nothing invented`, async () => {
      const { outDir, publisher, live } = await setUp(3);
      const victim = live[20]!;
      const path = messageFilePath(outDir, victim);
      if (damage === 'removed') await rm(path);
      else if (damage === 'torn') await truncate(path, victim.text.length - 40);
      // Whole, but not this message (another MessageID): the same length, so only the id tells.
      else await writeFile(path, victim.text.replace(victim.messageId, live[21]!.messageId), 'latin1');

      const resumed = collector();
      let ended: unknown;
      const subscription = publisher.subscribe(live[4]!.position, resumed.listener, {
        onError: (err) => {
          ended = err;
        },
      });
      await expect(subscription.caughtUp).rejects.toBeInstanceOf(CheckpointExpiredError);
      // Up to the damaged file, exactly; the damaged one and everything after it not from this subscription.
      expect(resumed.got).toEqual(live.slice(5, 20));
      expect(ended).toBeInstanceOf(CheckpointExpiredError);
      expect((ended as CheckpointExpiredError).details).toMatchObject({
        checkpoint: live[19]!.position,
        resumeFrom: victim.position,
      });
      // Every checkpoint before it is refused at once now, counting the damaged message as lost.
      for (const checkpoint of [0, live[4]!.position, live[19]!.position]) {
        let refused: unknown;
        try {
          publisher.subscribe(checkpoint, () => undefined);
        } catch (err) {
          refused = err;
        }
        expect(refused).toBeInstanceOf(CheckpointExpiredError);
        expect((refused as CheckpointExpiredError).details.resumeFrom).toBe(victim.position);
      }
      // From the damaged one on: the rest, then live.
      const after = collector();
      await publisher.subscribe(victim.position, after.listener).caughtUp;
      expect(after.got).toEqual(live.slice(21));
      await publisher.publish(batchOf(4), 4);
      expect(after.got).toEqual(live.slice(21));
      expect(after.got.at(-1)?.position).toBe(live.at(-1)?.position);
    });
  }
});
