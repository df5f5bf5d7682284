/**
 * A short seeded chaos run (part of `npm test`): a three-node cluster with a proxy on every
 * link, the counter and list-append workloads and the head-end day (every head-end service as
 * the cluster's actors), a few seeded mixed faults, then every checker. Needs the build and
 * Debian's etcd.
 *
 * The seed is fixed (`ciChaosSeed`) so that CI judges a change, not the luck of the draw: a
 * random seed per run turned latent faults into random CI failures on unrelated commits.
 * Exploring new seeds is the job of `MF_CHAOS_SEED=random` (or a number) and of the long
 * `npm run chaos`; the seed is printed so a failure replays with
 * `meterfabric chaos run mixed --rounds 3 --seed <seed>`.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { renderReport } from '../../chaos/runner/report.js';
import { runScenario } from '../../chaos/runner/run-scenario.js';
import { etcdAvailable } from '../../cluster/etcd/launcher.js';
import { packageRoot } from '../../core/paths.js';

const ready = existsSync(join(packageRoot, 'dist/cluster/cli/main.js')) && etcdAvailable();
const outDir = mkdtempSync(join(tmpdir(), 'mf-chaos-run-'));
/**
 * Draws a 16 KB/s bandwidth cap on every link, kill -9 of every node at once, then kill -9 of
 * n1: the path that exposed two head-end stalls (a day stopped on quorum loss, and on a
 * stopped actor system).
 */
const ciChaosSeed = 90001;
const seed = chaosSeed(process.env.MF_CHAOS_SEED);

function chaosSeed(setting: string | undefined): number {
  if (setting === undefined || setting === '') return ciChaosSeed;
  if (setting === 'random') return Math.floor(Math.random() * 1_000_000);
  const n = Number(setting);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new Error(`MF_CHAOS_SEED must be a non-negative integer or "random", got "${setting}"`);
  return n;
}

afterAll(() => {
  if (!process.env.MF_KEEP_TEST_DIRS) rmSync(outDir, { recursive: true, force: true });
});

describe.skipIf(!ready)('chaos run (short, seeded)', () => {
  it(`a seeded 3-round mixed-fault run ends with zero anomalies and full recovery (seed ${seed})`, async () => {
    const report = await runScenario({
      scenario: 'mixed',
      rounds: 3,
      seed,
      outDir,
      recoveryDeadlineMs: 60_000,
    });
    const text = renderReport(report);
    expect(report.anomalies, text).toEqual([]);
    expect(report.valid, text).toBe(true);
    expect(report.roundsRun).toBe(3);
    expect(
      report.faults.every((f) => f.recoveryMs !== undefined),
      text,
    ).toBe(true);
    // Not vacuous: the checkers examined real operations and role changes.
    const counter = report.checks.find((c) => c.checker === 'counter');
    expect(counter?.stats.acknowledgedIncrements, text).toBeGreaterThan(20);
    expect(counter?.stats.observations, text).toBeGreaterThan(20);
    expect(report.checks.find((c) => c.checker === 'one-primary')?.stats.primaryClaims).toBeGreaterThan(0);
    const list = report.checks.find((c) => c.checker === 'list-append');
    expect(list?.stats.appendsAcknowledged, text).toBeGreaterThan(20);
    expect(list?.stats.readsChecked, text).toBeGreaterThan(3);
    // The head-end ran its whole day on the cluster's actors, and both outputs were judged.
    const day = report.checks.find((c) => c.checker === 'headend-day');
    expect(day?.stats.steps, text).toBe(101);
    expect(day?.stats.serviceCalls, text).toBeGreaterThan(100);
    for (const output of ['headend-csv', 'headend-cim']) {
      const stats = report.checks.find((c) => c.checker === output)?.stats;
      expect(stats?.produced, text).toBeGreaterThan(100);
      expect(stats?.delivered, text).toBe(stats?.produced);
    }
    // The history on disk is the one that was checked.
    const lines = readFileSync(join(outDir, 'history.jsonl'), 'utf8').trim().split('\n');
    expect(lines.length).toBe(report.operations.total * 2);
    expect(JSON.parse(readFileSync(join(outDir, 'report.json'), 'utf8')).seed).toBe(seed);
  }, 240_000);
});
