import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeMeterReadings } from '../../adapters/cim/meter-readings.js';
import type { MeterReadingsJob } from '../../adapters/cim/pool-tasks.js';
import { parseInboundRequest } from '../../adapters/cim/requests.js';
import { encodeCsvRows } from '../../adapters/csv/codec.js';
import { WorkerPool } from '../../cluster/pool/pool.js';

const job: MeterReadingsJob = {
  readings: [
    {
      meterSerial: 'M1',
      kind: 'register',
      quantity: { source: 'obis', code: '1.8.0' },
      value: 12.5,
      unit: 'kWh',
      timestampMs: Date.UTC(2026, 0, 1),
    },
  ],
  options: { source: 'n1', messageId: 'm-1', timestampMs: Date.UTC(2026, 0, 1, 0, 5) },
};
const rows = [
  {
    serialnumber: 'M1',
    pod: 'P;1',
    value: 364,
    state: 0,
    cimcode: '0.0.7.4.1.1.12.0.0.0.0.0.0.0.0.0.72.0',
    sampledate: 0,
  },
];

describe('CIM and CSV pool tasks', () => {
  for (const mode of ['inline', 'workers'] as const)
    it(`produce exactly what the direct encoders produce (${mode})`, async () => {
      const pool = new WorkerPool({ mode, threads: 1 });
      try {
        const [xml] = await pool.run<string[]>({
          module: 'adapters/cim/pool-tasks',
          fn: 'encodeMeterReadingsMessages',
          payload: [job],
        });
        expect(xml).toBe(
          encodeMeterReadings(job.readings, {
            source: 'n1',
            messageId: 'm-1',
            clock: { now: () => job.options.timestampMs },
          }),
        );
        const [csv] = await pool.run<string[]>({
          module: 'adapters/csv/pool-tasks',
          fn: 'encodeRowChunks',
          payload: [{ kind: 'S', rows }],
        });
        expect(csv).toBe(encodeCsvRows('S', rows));
        await expect(
          pool.run({
            module: 'adapters/csv/pool-tasks',
            fn: 'encodeRowChunks',
            payload: [{ kind: 'S', rows: [{ bogus: 1 }] }],
          }),
        ).rejects.toMatchObject({ code: 'MF_CSV_ROW' });
      } finally {
        await pool.close();
      }
    });
});

describe('inbound request parser on arbitrary input', () => {
  it('never throws: every input yields a typed request or a FAILED reply with coded errors', () => {
    const ctx = { meterExists: () => true, usagePointExists: () => true };
    const fragments = fc.constantFrom(
      '<RequestMessage xmlns="http://iec.ch/TC57/2011/schema/message">',
      '</RequestMessage>',
      '<Header><Verb>create</Verb><Noun>MasterDataLinkageConfig</Noun></Header>',
      '<Payload>',
      '</Payload>',
      '<MasterDataLinkageConfig xmlns="http://iec.ch/TC57/2011/MasterDataLinkageConfig#">',
      '</MasterDataLinkageConfig>',
      '<Meter><Names><name>M1</name></Names></Meter>',
      '<!DOCTYPE x>',
      '&amp;',
      '<a>',
      '</a>',
      '<',
      '"',
    );
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 200 }),
          fc.array(fragments, { maxLength: 12 }).map((a) => a.join('')),
        ),
        (xml) => {
          const o = parseInboundRequest(xml, ctx);
          if (!o.ok) {
            expect(o.reply.result).toBe('FAILED');
            expect(o.reply.errors.length).toBeGreaterThan(0);
            for (const e of o.reply.errors) expect(e.code).toMatch(/^MF_[A-Z_]+$/);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
