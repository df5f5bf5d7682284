/**
 * The list-append workload on a real three-node chaos cluster (needs the build and Debian's
 * etcd): the checker is not vacuous — nodes built with an injected bug that applies a retried
 * call twice (MF_FAULT_INJECT=double-apply-retries, test-only) show duplicated elements within
 * a bounded number of kill rounds — while the real build passes the same scenario and seed with
 * every acknowledged append examined.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { renderReport } from '../../chaos/runner/report.js';
import { runScenario } from '../../chaos/runner/run-scenario.js';
import { etcdAvailable } from '../../cluster/etcd/launcher.js';
import { packageRoot } from '../../core/paths.js';

const ready = existsSync(join(packageRoot, 'dist/cluster/cli/main.js')) && etcdAvailable();
const base = mkdtempSync(join(tmpdir(), 'mf-chaos-list-'));

afterAll(() => {
  if (!process.env.MF_KEEP_TEST_DIRS) rmSync(base, { recursive: true, force: true });
});

const maxRounds = 4;

describe.skipIf(!ready)('list-append workload under kill -9', () => {
  it(`double-apply-retries (a retried append runs twice) is caught as duplicate elements within ${maxRounds} kill rounds`, async () => {
    const report = await runScenario({
      scenario: 'kill',
      workloads: ['list'],
      rounds: maxRounds,
      seed: 7,
      outDir: join(base, 'double-apply'),
      faultInject: 'double-apply-retries',
      stopOnAnomaly: true,
    });
    const text = renderReport(report);
    expect(report.valid, text).toBe(false);
    expect(
      report.anomalies.filter((a) => a.checker === 'list-append').map((a) => a.kind),
      text,
    ).toContain('duplicate-element');
    expect(report.firstAnomalyRound, text).toBeLessThanOrEqual(maxRounds);
    expect(text).toContain('--workloads list');
  }, 300_000);

  it(`the real build passes the same scenario and seed (${maxRounds} kill rounds): no lost, duplicated or reordered element`, async () => {
    const report = await runScenario({
      scenario: 'kill',
      workloads: ['list'],
      rounds: maxRounds,
      seed: 7,
      outDir: join(base, 'real'),
    });
    const text = renderReport(report);
    expect(report.anomalies, text).toEqual([]);
    expect(report.roundsRun).toBe(maxRounds);
    const list = report.checks.find((c) => c.checker === 'list-append');
    expect(list?.stats.appendsAcknowledged, text).toBeGreaterThan(50);
    // The final read of each key (after recovery) is among the reads checked.
    expect(list?.stats.readsChecked, text).toBeGreaterThan(3);
    expect(list?.stats.keys).toBe(3);
    expect(report.checks.some((c) => c.checker === 'counter')).toBe(false);
  }, 300_000);
});
