import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CheckpointExpiredError,
  CimPublisher,
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
    const published = await publisher.publish(batch, 1);
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
    expect(events[0]?.xml.match(/<EndDeviceEvent>/g)).toHaveLength(2);
    const files = async (noun: string) => (await readdir(join(outDir, 'cim', noun))).sort();
    expect(await files('MeterReadings')).toHaveLength(3);
    expect(await files('EndDeviceEvents')).toHaveLength(3);
    for (const m of published) {
      const name = (await files(m.noun)).find((f) => f.includes(m.messageId));
      expect(await readFile(join(outDir, 'cim', m.noun, name as string), 'utf8')).toBe(m.xml);
    }
    // Replayed at the same position: nothing new published or written.
    expect(await publisher.publish(batch, 1)).toEqual([]);
    expect(await files('MeterReadings')).toHaveLength(3);
  });

  it('retains at most maxRetainedChars of XML for resuming subscribers; an older checkpoint expires', async () => {
    const publisher = new CimPublisher({
      source: 'n1',
      clock: new ManualClock(t0),
      maxRetainedChars: 20_000,
    });
    let size = 0;
    for (let seq = 1; seq <= 30; seq++) {
      const [m] = await publisher.publish({ csv: {}, readings: readings(5), events: [] }, seq);
      size = (m as PublishedMessage).xml.length;
    }
    const resumed: number[] = [];
    const oldestKept = 30 - Math.floor(20_000 / size) + 1;
    const stop = publisher.subscribe(oldestKept - 1, (m) => resumed.push(m.position));
    stop();
    expect(resumed[resumed.length - 1]).toBe(30);
    expect(resumed.length * size).toBeLessThanOrEqual(20_000);
    expect(resumed.length).toBeGreaterThan(0);
    expect(() => publisher.subscribe(0, () => undefined)).toThrow(CheckpointExpiredError);
  });
});
