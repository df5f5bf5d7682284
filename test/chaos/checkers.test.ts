/**
 * Every checker on hand-made histories: each anomaly it claims to find, and clean histories
 * (including ones with unknown outcomes) that it must pass. Non-vacuous: the clean cases
 * assert the checker actually examined operations.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkCounter } from '../../chaos/checkers/counter-checker.js';
import {
  checkReadingsExactlyOnce,
  type ReadingRecord,
  readingsFromCim,
} from '../../chaos/checkers/headend-checker.js';
import { HistoryRecorder, pairOperations } from '../../chaos/checkers/history.js';
import { appendHistoryEvent, readHistory } from '../../chaos/checkers/history-file.js';
import { checkListAppend } from '../../chaos/checkers/list-append-checker.js';
import { checkOnePrimary } from '../../chaos/checkers/primary-checker.js';
import { checkRecovery, type StatusSnapshot } from '../../chaos/checkers/recovery-checker.js';
import type { RoleChange } from '../../cluster/node/role-log.js';

function recorder() {
  let t = 0;
  return new HistoryRecorder(() => ++t);
}

const kinds = (result: { anomalies: { kind: string }[] }) => result.anomalies.map((a) => a.kind);

describe('history', () => {
  it('pairs invocations with completions; an invocation never completed is unknown', () => {
    const h = recorder();
    h.invoke(0, 'increment', 'c', { by: 1 });
    h.invoke(1, 'increment', 'c', { by: 1 });
    h.complete(0, 'ok', { value: 1 });
    h.invoke(0, 'read', 'c', null);
    h.complete(0, 'fail', null, 'MF_BAD_REQUEST');
    const ops = pairOperations(h.events);
    expect(ops.map((o) => [o.process, o.f, o.outcome])).toEqual([
      [0, 'increment', 'ok'],
      [1, 'increment', 'unknown'],
      [0, 'read', 'fail'],
    ]);
  });

  it('refuses a second operation in flight on one process', () => {
    const h = recorder();
    h.invoke(0, 'read', 'c', null);
    expect(() => h.invoke(0, 'read', 'c', null)).toThrow(/already has an operation in flight/);
  });

  it('round-trips through JSON lines on disk; a torn last line (kill -9) is ignored, a corrupt middle line is an error', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mf-history-'));
    try {
      const path = join(dir, 'history.jsonl');
      const h = new HistoryRecorder(Date.now, (e) => appendHistoryEvent(path, e));
      h.invoke(0, 'increment', 'c', { by: 1 });
      h.complete(0, 'ok', { value: 1 });
      expect(readHistory(path)).toEqual(h.events);
      writeFileSync(path, `${JSON.stringify(h.events[0])}\n{"index":1,"pro`);
      expect(readHistory(path)).toEqual([h.events[0]]);
      writeFileSync(path, `{broken\n${JSON.stringify(h.events[0])}\n`);
      expect(() => readHistory(path)).toThrow(/history.jsonl:1: not JSON/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('counter checker', () => {
  it('passes a clean history with concurrency, unknown and failed increments', () => {
    const h = recorder();
    h.invoke(0, 'increment', 'c', { by: 1 });
    h.invoke(1, 'increment', 'c', { by: 1 });
    h.complete(1, 'ok', { value: 1 });
    h.complete(0, 'ok', { value: 2 });
    h.invoke(2, 'increment', 'c', { by: 1 });
    h.complete(2, 'info', null, 'MF_DEADLINE'); // unknown: may or may not have applied
    h.invoke(3, 'increment', 'c', { by: 1 });
    h.complete(3, 'fail', null, 'MF_BAD_REQUEST');
    h.invoke(0, 'read', 'c', null);
    h.complete(0, 'ok', { value: 3 }); // the unknown one did apply: allowed
    const result = checkCounter(h.events);
    expect(result.anomalies).toEqual([]);
    expect(result.stats.observations).toBe(3);
    expect(result.stats.acknowledgedIncrements).toBe(2);
  });

  it('finds a lost acknowledged increment (final read too low)', () => {
    const h = recorder();
    for (let i = 0; i < 3; i++) {
      h.invoke(0, 'increment', 'c', { by: 1 });
      h.complete(0, 'ok', { value: i + 1 });
    }
    h.invoke(0, 'read', 'c', null);
    h.complete(0, 'ok', { value: 2 });
    expect(kinds(checkCounter(h.events))).toEqual(['lost-increment']);
  });

  it('finds an increment applied twice (value above every possible application)', () => {
    const h = recorder();
    h.invoke(0, 'increment', 'c', { by: 1 });
    h.complete(0, 'ok', { value: 2 });
    expect(kinds(checkCounter(h.events))).toEqual(['duplicated-increment']);
  });

  it('counts an unknown increment at most once', () => {
    const h = recorder();
    h.invoke(0, 'increment', 'c', { by: 1 });
    h.complete(0, 'info', null, 'timeout');
    h.invoke(1, 'read', 'c', null);
    h.complete(1, 'ok', { value: 2 });
    expect(kinds(checkCounter(h.events))).toEqual(['duplicated-increment']);
  });

  it('finds two acknowledged increments that saw the same state (split brain)', () => {
    const h = recorder();
    h.invoke(0, 'increment', 'c', { by: 1 });
    h.invoke(1, 'increment', 'c', { by: 1 });
    h.complete(0, 'ok', { value: 1 });
    h.complete(1, 'ok', { value: 1 });
    expect(kinds(checkCounter(h.events))).toContain('conflicting-increments');
  });
});

describe('list-append checker', () => {
  function clean() {
    const h = recorder();
    h.invoke(0, 'append', 'l', 1);
    h.complete(0, 'ok', null);
    h.invoke(1, 'append', 'l', 2);
    h.invoke(0, 'read', 'l', null);
    h.complete(0, 'ok', [1]);
    h.complete(1, 'info', null, 'timeout');
    h.invoke(0, 'append', 'l', 3);
    h.complete(0, 'fail', null, 'refused');
    h.invoke(0, 'read', 'l', null);
    h.complete(0, 'ok', [1, 2]);
    return h;
  }

  it('passes a clean history (unknown append visible later; failed append never seen)', () => {
    const result = checkListAppend(clean().events);
    expect(result.anomalies).toEqual([]);
    expect(result.stats.readsChecked).toBe(2);
  });

  it('finds a duplicated element', () => {
    const h = clean();
    h.invoke(0, 'read', 'l', null);
    h.complete(0, 'ok', [1, 2, 2]);
    expect(kinds(checkListAppend(h.events))).toContain('duplicate-element');
  });

  it('finds a lost acknowledged append', () => {
    const h = clean();
    h.invoke(0, 'read', 'l', null);
    h.complete(0, 'ok', [2]);
    expect(kinds(checkListAppend(h.events))).toEqual(
      expect.arrayContaining(['lost-append', 'incompatible-order']),
    );
  });

  it('finds reordered elements (reads that are not prefixes of one order)', () => {
    const h = clean();
    h.invoke(0, 'read', 'l', null);
    h.complete(0, 'ok', [1, 2]);
    h.invoke(1, 'read', 'l', null);
    h.complete(1, 'ok', [2, 1]);
    expect(kinds(checkListAppend(h.events))).toContain('incompatible-order');
  });

  it('finds an aborted read (G1a) and a garbage read', () => {
    const h = clean();
    h.invoke(0, 'read', 'l', null);
    h.complete(0, 'ok', [1, 2, 3, 99]);
    expect(kinds(checkListAppend(h.events))).toEqual(
      expect.arrayContaining(['aborted-read', 'garbage-read']),
    );
  });

  it('finds a read from the future (element seen before its append was invoked)', () => {
    const h = recorder();
    h.invoke(0, 'read', 'l', null);
    h.complete(0, 'ok', [7]);
    h.invoke(0, 'append', 'l', 7);
    h.complete(0, 'ok', null);
    expect(kinds(checkListAppend(h.events))).toEqual(['future-read']);
  });
});

describe('one-primary checker', () => {
  const change = (node: string, partition: string, epoch: number, role: RoleChange['role'], atMs: number) =>
    ({ node, partition, epoch, role, atMs }) as RoleChange;

  it('passes a clean failover history (new primary at a higher epoch)', () => {
    const result = checkOnePrimary([
      change('n1', 'counter/0', 1, 'primary', 1),
      change('n2', 'counter/0', 1, 'active-secondary', 2),
      change('n2', 'counter/0', 2, 'primary', 10),
      change('n1', 'counter/0', 3, 'primary', 20),
    ]);
    expect(result.anomalies).toEqual([]);
    expect(result.stats.primaryClaims).toBe(3);
  });

  it('finds two primaries of one partition in one epoch', () => {
    const result = checkOnePrimary([
      change('n1', 'counter/0', 4, 'primary', 1),
      change('n2', 'counter/0', 4, 'primary', 2),
    ]);
    expect(kinds(result)).toEqual(['two-primaries']);
    expect(result.anomalies[0]?.message).toMatch(/counter\/0 epoch 4: n2 became primary while n1/);
  });

  it('finds a node taking an older epoch after a newer one', () => {
    const result = checkOnePrimary([change('n1', 'p', 5, 'primary', 1), change('n1', 'p', 3, 'primary', 2)]);
    expect(kinds(result)).toEqual(['epoch-regression']);
  });
});

describe('recovery checker', () => {
  const healthy = (atMs: number): StatusSnapshot => ({
    atMs,
    report: {
      nodes: [
        { id: 'n1', reachable: true },
        { id: 'n2', reachable: true },
        { id: 'n3', reachable: true },
      ],
      partitions: [
        {
          partition: 'c/0',
          status: 'ok',
          primary: 'n1',
          replicas: ['n1', 'n2', 'n3'],
          building: [],
          health: 'OK',
          progress: {
            n1: { role: 'primary' },
            n2: { role: 'active-secondary' },
            n3: { role: 'active-secondary' },
          },
        },
      ],
    },
  });
  const building = (atMs: number): StatusSnapshot => {
    const s = healthy(atMs);
    return {
      atMs,
      report: {
        ...s.report,
        partitions: [{ ...s.report.partitions[0]!, building: ['n3'], health: 'WARNING' }],
      },
    };
  };
  const expectation = { healedAtMs: 1_000, deadlineMs: 5_000, targetReplicas: 3, expectedPartitions: 1 };

  it('reports the recovery time once every partition is stable with a full replica set', () => {
    const result = checkRecovery([building(1_500), building(2_000), healthy(3_200)], expectation);
    expect(result.valid).toBe(true);
    expect(result.recoveryMs).toBe(2_200);
  });

  it('flags a cluster still building (or short of replicas, or unplaced) at the deadline', () => {
    const result = checkRecovery([building(1_500), building(5_900), healthy(6_500)], expectation);
    expect(kinds(result)).toEqual(['not-recovered']);
    expect(result.anomalies[0]?.message).toMatch(/c\/0: building n3/);
    const short = healthy(2_000);
    const twoReplicas: StatusSnapshot = {
      atMs: 2_000,
      report: { ...short.report, partitions: [{ ...short.report.partitions[0]!, replicas: ['n1', 'n2'] }] },
    };
    expect(checkRecovery([twoReplicas], expectation).anomalies[0]?.message).toMatch(/2 of 3 replicas/);
    expect(checkRecovery([healthy(2_000)], { ...expectation, expectedPartitions: 2 }).valid).toBe(false);
  });

  it('does not trust etcd alone: a configured replica missing on its node, or a primary not acting as one, is unhealthy', () => {
    const base = healthy(2_000);
    const part = base.report.partitions[0]!;
    const notRunning: StatusSnapshot = {
      atMs: 2_000,
      report: {
        ...base.report,
        partitions: [{ ...part, progress: { n1: { role: 'primary' }, n2: { role: 'active-secondary' } } }],
      },
    };
    expect(checkRecovery([notRunning], expectation).anomalies[0]?.message).toMatch(
      /no replica running on n3/,
    );
    const notPrimary: StatusSnapshot = {
      atMs: 2_000,
      report: {
        ...base.report,
        partitions: [{ ...part, progress: { ...part.progress, n1: { role: 'idle-secondary' } } }],
      },
    };
    expect(checkRecovery([notPrimary], expectation).anomalies[0]?.message).toMatch(
      /n1 is configured primary but reports idle-secondary/,
    );
  });
});

describe('head-end readings checker', () => {
  const truth: ReadingRecord[] = [
    { meter: 'M1', readingType: '0.0.0.1.1.1.12.0.0.0.0.0.0.0.0.3.72.0', timestampMs: 1_000, value: 12.5 },
    { meter: 'M2', readingType: '0.0.0.1.1.1.12.0.0.0.0.0.0.0.0.3.72.0', timestampMs: 1_000, value: 7 },
  ];

  it('passes when each reading is delivered exactly once with its value', () => {
    const result = checkReadingsExactlyOnce('csv', truth, [...truth].reverse());
    expect(result.valid).toBe(true);
    expect(result.stats.delivered).toBe(2);
  });

  it('finds missing, duplicated, phantom and wrong-valued readings', () => {
    const delivered: ReadingRecord[] = [
      truth[0]!,
      truth[0]!,
      { ...truth[1]!, value: 8 },
      { ...truth[1]!, meter: 'M9' },
    ];
    expect(kinds(checkReadingsExactlyOnce('cim', truth, delivered)).sort()).toEqual([
      'duplicate-reading',
      'phantom-reading',
      'wrong-value',
    ]);
    expect(kinds(checkReadingsExactlyOnce('cim', truth, [truth[0]!]))).toEqual(['missing-reading']);
  });

  it('normalises parsed CIM readings and interval blocks (zone-less timestamps are UTC)', () => {
    const records = readingsFromCim([
      {
        meter: { names: ['M1'] },
        readings: [{ readingType: 'rt', timeStamp: '2026-01-01T00:00:00', value: '1.5', qualities: [] }],
        intervalBlocks: [
          {
            readingType: 'lp',
            intervalReadings: [{ timeStamp: '2026-01-01T00:15:00Z', value: '2', qualities: [] }],
          },
        ],
      },
    ]);
    expect(records).toEqual([
      { meter: 'M1', readingType: 'rt', timestampMs: Date.UTC(2026, 0, 1), value: 1.5 },
      { meter: 'M1', readingType: 'lp', timestampMs: Date.UTC(2026, 0, 1, 0, 15), value: 2 },
    ]);
  });
});
