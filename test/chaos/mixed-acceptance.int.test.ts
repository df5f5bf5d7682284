/**
 * Acceptance: a seeded 20-round mixed-fault run against a three-node cluster with the head-end
 * running (every head-end service as the cluster's actors; `mixed` also runs the counter and list-append
 * workloads) ends with zero anomalies and full recovery after every round. About 5-8 minutes on two cores, so it runs
 * only with MF_CHAOS_LONG=1 (`MF_CHAOS_LONG=1 npx vitest run test/chaos/mixed-acceptance`);
 * `npm run chaos` runs the 200-round version through the CLI.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { renderReport } from '../../chaos/runner/report.js';
import { runScenario } from '../../chaos/runner/run-scenario.js';
import { etcdAvailable } from '../../cluster/etcd/launcher.js';
import { packageRoot } from '../../core/paths.js';

const enabled =
  process.env.MF_CHAOS_LONG === '1' &&
  existsSync(join(packageRoot, 'dist/cluster/cli/main.js')) &&
  etcdAvailable();
const outDir = mkdtempSync(join(tmpdir(), 'mf-chaos-accept-'));
const seed = Number(process.env.MF_CHAOS_SEED ?? 42);

afterAll(() => {
  if (!process.env.MF_KEEP_TEST_DIRS) rmSync(outDir, { recursive: true, force: true });
});

describe.skipIf(!enabled)('chaos acceptance (long)', () => {
  it(`a seeded 20-round mixed-fault run ends with zero anomalies and full recovery (seed ${seed})`, async () => {
    const report = await runScenario({ scenario: 'mixed', rounds: 20, seed, outDir });
    const text = renderReport(report);
    expect(report.roundsRun).toBe(20);
    expect(report.anomalies, text).toEqual([]);
    expect(
      report.faults.every((f) => f.recoveryMs !== undefined),
      text,
    ).toBe(true);
    expect(
      report.checks.find((c) => c.checker === 'counter')?.stats.acknowledgedIncrements,
      text,
    ).toBeGreaterThan(100);
    expect(
      report.checks.find((c) => c.checker === 'list-append')?.stats.appendsAcknowledged,
      text,
    ).toBeGreaterThan(100);
    expect(report.checks.find((c) => c.checker === 'headend-day')?.stats.steps, text).toBe(101);
    for (const output of ['headend-csv', 'headend-cim']) {
      const stats = report.checks.find((c) => c.checker === output)?.stats;
      expect(stats?.produced, text).toBeGreaterThan(100);
      expect(stats?.delivered, text).toBe(stats?.produced);
    }
  }, 1_200_000);
});
