import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Addressing, routeEntry, tlogOf } from '../../actors/host/effect-routes.js';
import type { OutboxEntry } from '../../actors/hosting/outbox.js';
import type { TLogRecord } from '../../actors/tlog/records.js';
import type { WorkerEffect } from '../../actors/workers/state.js';

const addressing: Addressing = { name: 'day', tlogBuckets: 8 };

/**
 * The routing of TLog records as first written: one `route` command per record to its
 * concentrator's bucket, then each bucket's commands merged into one (records in order).
 */
function referenceTlogTargets(records: TLogRecord[]): Map<string, TLogRecord[]> {
  const out = new Map<string, TLogRecord[]>();
  for (const record of records) {
    const address = tlogOf(addressing, record.concentratorId);
    const id = `${address.service}/${address.key}`;
    out.set(id, [...(out.get(id) ?? []), record]);
  }
  return out;
}

const reading = (concentratorId: string, meter: number, timestampMs: number): TLogRecord => ({
  type: 'reading',
  concentratorId,
  collectedAtMs: timestampMs + 60_000,
  reading: {
    meterSerial: `M-${concentratorId}-${meter}`,
    kind: 'interval',
    quantity: { source: 'profile', quantity: 'activeImportInterval' },
    value: meter * 10,
    unit: 'Wh',
    timestampMs,
    intervalSeconds: 3600,
  },
});

describe('routeEntry: TLog records to their buckets', () => {
  it("gives each bucket one route command with its records in the entry's order, the other targets unchanged", () => {
    const effect = fc.oneof(
      fc
        .array(fc.tuple(fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 5 })), {
          minLength: 1,
          maxLength: 40,
        })
        .map(
          (rs): WorkerEffect => ({
            type: 'tlog',
            records: rs.map(([c, m], i) => reading(`TD-${c}`, m, 1_773_108_000_000 + i * 3_600_000)),
          }),
        ),
      fc.integer({ min: 0, max: 30 }).map(
        (c): WorkerEffect => ({
          type: 'deviceRequest',
          concentratorId: `TD-${c}`,
          job: { id: `j-${c}`, kind: 'LOAD_PROFILE' } as never,
          attempt: 1,
        }),
      ),
    );
    fc.assert(
      fc.property(fc.array(effect, { maxLength: 6 }), (effects) => {
        const entry: OutboxEntry<unknown> = { id: 7, effects } as OutboxEntry<unknown>;
        const { targets } = routeEntry(addressing, { service: 'worker', key: 'load_profile' }, entry, 0);
        const records = effects.flatMap((e) => (e.type === 'tlog' ? e.records : []));
        const expected = referenceTlogTargets(records);
        const tlogTargets = targets.filter((t) => t.address.service === 'tlog-manager');
        expect(tlogTargets.map((t) => `${t.address.service}/${t.address.key}`)).toEqual([...expected.keys()]);
        for (const t of tlogTargets)
          expect(t.commands).toEqual([
            { type: 'route', records: expected.get(`${t.address.service}/${t.address.key}`) },
          ]);
        const devices = targets.filter((t) => t.address.service === 'device');
        const requests = effects.filter((e) => e.type === 'deviceRequest');
        expect(devices.flatMap((t) => t.commands)).toHaveLength(requests.length);
      }),
      { numRuns: 300 },
    );
  });
});
