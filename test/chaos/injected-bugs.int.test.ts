/**
 * The checkers are not vacuous: a build with an injected bug (MF_FAULT_INJECT, test-only) is
 * caught within a bounded number of rounds, while the real build passes the same scenario
 * and seed. Needs the build and Debian's etcd.
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
const base = mkdtempSync(join(tmpdir(), 'mf-chaos-bugs-'));

afterAll(() => {
  if (!process.env.MF_KEEP_TEST_DIRS) rmSync(base, { recursive: true, force: true });
});

const maxRounds = 4;

describe.skipIf(!ready)('injected bugs are caught; the real build passes', () => {
  it(`double-apply-retries (a retried call runs twice) is caught by the counter checker within ${maxRounds} kill rounds`, async () => {
    const report = await runScenario({
      scenario: 'kill',
      rounds: maxRounds,
      seed: 7,
      outDir: join(base, 'double-apply'),
      faultInject: 'double-apply-retries',
      stopOnAnomaly: true,
    });
    const text = renderReport(report);
    expect(report.valid, text).toBe(false);
    expect(
      report.anomalies.map((a) => a.kind),
      text,
    ).toContain('duplicated-increment');
    expect(report.firstAnomalyRound, text).toBeLessThanOrEqual(maxRounds);
  }, 300_000);

  it(`the real build passes the same scenario and seed (${maxRounds} kill rounds)`, async () => {
    const report = await runScenario({
      scenario: 'kill',
      rounds: maxRounds,
      seed: 7,
      outDir: join(base, 'real'),
    });
    const text = renderReport(report);
    expect(report.anomalies, text).toEqual([]);
    expect(report.roundsRun).toBe(maxRounds);
    expect(
      report.checks.find((c) => c.checker === 'counter')?.stats.acknowledgedIncrements,
      text,
    ).toBeGreaterThan(20);
  }, 300_000);
});
