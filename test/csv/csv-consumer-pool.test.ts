import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CsvConsumer } from '../../actors/integration/csv-consumer.js';
import type { OutputBatch } from '../../actors/integration/output-batch.js';
import { parseCsvFile } from '../../adapters/csv/codec.js';
import { loadProfileRows, registerRows } from '../../adapters/csv/rows.js';
import type { CollectedReading } from '../../adapters/field-data.js';
import { WorkerPool } from '../../cluster/pool/pool.js';
import { ManualClock } from '../../core/clock.js';
import { tempDirs } from './support/files.js';

/**
 * The integration consumer's CSV path with the node's worker pool: the same daily files, byte
 * for byte, as encoding on the consumer's own thread, and the rows really went through the
 * pool's workers.
 */
const tempDir = tempDirs('mf-csv-consumer-pool-');
const DAY_MS = Date.UTC(2026, 10, 22);

function readingsOf(batch: number): CollectedReading[] {
  const out: CollectedReading[] = [];
  for (let m = 0; m < 200; m++) {
    const meterSerial = `UAAEEDN${batch}${String(m).padStart(5, '0')}`;
    for (let h = 1; h <= 24; h++)
      out.push({
        meterSerial,
        usagePoint: `POD;${m}`,
        kind: 'interval',
        quantity: { source: 'profile', quantity: 'activeImportInterval' },
        value: (m * 31 + h * 17) / 8,
        unit: 'Wh',
        timestampMs: DAY_MS + h * 3_600_000,
        intervalSeconds: 3600,
      });
    out.push({
      meterSerial,
      usagePoint: `POD;${m}`,
      kind: 'register',
      quantity: { source: 'obis', code: '1.8.0' },
      value: 1000 + m,
      unit: 'kWh',
      timestampMs: DAY_MS + 86_400_000,
    });
  }
  return out;
}

function batchOf(n: number): OutputBatch {
  const readings = readingsOf(n);
  return {
    csv: { S: loadProfileRows(readings), R: registerRows(readings, 'register') },
    readings,
    events: [],
  };
}

function filesUnder(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, e.name);
      if (e.isDirectory()) walk(path);
      else if (e.name.endsWith('.csv')) out.set(relative(dir, path), readFileSync(path));
    }
  };
  walk(dir);
  return out;
}

describe('CsvConsumer with a worker pool', () => {
  it('writes the same daily files byte for byte as without one, every row encoded in the workers', async () => {
    const [pooledDir, plainDir] = [tempDir(), tempDir()];
    const clock = new ManualClock(DAY_MS + 86_400_000 + 3_600_000);
    const pool = new WorkerPool({ mode: 'workers', threads: 2 });
    try {
      const common = {
        organization: 'org',
        server: 'n1',
        clock,
        kinds: ['S', 'R'] as const,
        maxPartBytes: 1_000_000,
      };
      const pooled = await CsvConsumer.open({ ...common, kinds: [...common.kinds], outDir: pooledDir, pool });
      const plain = await CsvConsumer.open({ ...common, kinds: [...common.kinds], outDir: plainDir });
      for (let seq = 1; seq <= 4; seq++) {
        await pooled.consume(batchOf(seq), seq, clock.now());
        await plain.consume(batchOf(seq), seq, clock.now());
      }
      await pooled.flush();
      await plain.flush();
      // Each batch: 4800 S_ rows in the pool (one chunk per thread); its 200 R_ rows are below
      // the writers' poolMinRows (1000) and encoded inline.
      expect(pool.completed).toBe(4 * 2);
      expect(pooled.rowsByKind).toEqual({ S: 4 * 4800, R: 4 * 200 });
      const want = filesUnder(plainDir);
      const got = filesUnder(pooledDir);
      expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
      expect(want.size).toBeGreaterThan(2); // S_ spans parts at this size
      for (const [file, bytes] of want) expect(got.get(file)!.equals(bytes)).toBe(true);
      const sFiles = [...got.keys()].filter((f) => f.includes('S_')).sort();
      const rows = sFiles.flatMap((f) => parseCsvFile('S', got.get(f)!.toString('utf8')));
      expect(rows).toHaveLength(4 * 4800);
      expect(rows[0]!.pod).toBe('POD;0');
    } finally {
      await pool.close();
    }
  });
});
