/**
 * Reproducibility and input validation of the runner: the seeded PRNG gives the same choices
 * for the same seed (so a run replays), text seeds map stably, unknown scenarios and bad
 * flags are refused with clear errors, and the report names the command that reproduces it.
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { nemesisNames } from '../../chaos/nemesis/nemeses.js';
import { Prng, seedFrom } from '../../chaos/runner/prng.js';
import { renderReport } from '../../chaos/runner/report.js';
import { runScenarioCommand } from '../../chaos/runner/run-command.js';
import type { ChaosReport } from '../../chaos/runner/run-scenario.js';
import { scenarioNemeses, scenarioWorkloads } from '../../chaos/runner/scenarios.js';
import { parseWorkloads } from '../../chaos/runner/workloads.js';

describe('chaos runner', () => {
  it('the same seed gives the same fault schedule; another seed a different one', () => {
    const schedule = (seed: number) => {
      const rng = new Prng(seed);
      return Array.from({ length: 20 }, () => [rng.pick(nemesisNames), rng.int(1_000, 4_000)]);
    };
    expect(schedule(42)).toEqual(schedule(42));
    expect(schedule(42)).not.toEqual(schedule(43));
    const values = Array.from(
      { length: 1_000 },
      (() => {
        const rng = new Prng(1);
        return () => rng.next();
      })(),
    );
    expect(Math.min(...values)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...values)).toBeLessThan(1);
  });

  it('numeric seeds pass through; text seeds hash stably', () => {
    expect(seedFrom('42')).toBe(42);
    expect(seedFrom('nightly')).toBe(seedFrom('nightly'));
    expect(seedFrom('nightly')).not.toBe(seedFrom('weekly'));
  });

  it('refuses an unknown scenario, listing the known ones', () => {
    expect(() => scenarioNemeses('chaos-monkey')).toThrow(
      /unknown chaos scenario "chaos-monkey"; choose one of: mixed/,
    );
    expect(scenarioNemeses('mixed')).toEqual(nemesisNames);
  });

  it('refuses bad flags before starting anything', async () => {
    await expect(runScenarioCommand(['mixed', '--rounds', '0'])).rejects.toMatchObject({
      code: 'MF_CONFIG_INVALID',
      message: expect.stringContaining(
        '--rounds must be an integer from 1 to 100000 (fault rounds), not "0"',
      ),
    });
    await expect(runScenarioCommand(['mixed', '--network', 'wifi'])).rejects.toMatchObject({
      message: expect.stringContaining('--network must be proxies or netns'),
    });
    // A scenario name is part of the command line: a usage error (exit 2), naming the choices.
    await expect(runScenarioCommand(['nope'])).rejects.toMatchObject({
      code: 'MF_USAGE',
      message: expect.stringContaining('unknown chaos scenario "nope"; choose one of: mixed'),
    });
    // Outside the nodes' own range: each node would refuse to start, after the run had begun.
    await expect(runScenarioCommand(['mixed', '--lease-ttl-ms', '500'])).rejects.toMatchObject({
      code: 'MF_CONFIG_INVALID',
      message: expect.stringContaining('--lease-ttl-ms must be an integer from 2000 to 60000'),
    });
    await expect(runScenarioCommand(['mixed', '--recovery-deadline-ms', '1e3'])).rejects.toMatchObject({
      message: expect.stringContaining('--recovery-deadline-ms must be an integer from 1 to 3600000'),
    });
    await expect(runScenarioCommand(['mixed', '--clients', '5000'])).rejects.toMatchObject({
      message: expect.stringContaining(
        '--clients must be an integer from 1 to 256 (concurrent client processes), not "5000"',
      ),
    });
  });

  it("refuses an --out that holds an earlier run (its data would be reused and counted as this run's)", async () => {
    const out = mkdtempSync(join(tmpdir(), 'mf-chaos-out-'));
    try {
      writeFileSync(join(out, 'history.jsonl'), '{}\n');
      await expect(runScenarioCommand(['mixed', '--rounds', '1', '--out', out])).rejects.toMatchObject({
        code: 'MF_CONFIG_INVALID',
        message: expect.stringContaining(
          `${out} already holds an earlier run: remove it or pass another --out`,
        ),
      });
      expect(readdirSync(out)).toEqual(['history.jsonl']);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('mixed runs the counter, list-append and head-end workloads; list and headend one each; a nemesis the counter', () => {
    expect(scenarioWorkloads('mixed')).toEqual(['counter', 'list', 'headend']);
    expect(scenarioWorkloads('list')).toEqual(['list']);
    expect(scenarioWorkloads('headend')).toEqual(['headend']);
    expect(scenarioNemeses('headend')).toEqual(nemesisNames);
    expect(scenarioWorkloads('kill')).toEqual(['counter']);
    expect(() => scenarioWorkloads('nope')).toThrow(/unknown chaos scenario "nope"/);
  });

  it('--workloads takes known names once each; anything else is refused before starting', async () => {
    expect(parseWorkloads('list, headend')).toEqual(['list', 'headend']);
    expect(() => parseWorkloads('counter,queue')).toThrow(
      /unknown workload "queue"; choose from counter, list, headend/,
    );
    expect(() => parseWorkloads('list,list')).toThrow(/names a workload twice/);
    expect(() => parseWorkloads(',')).toThrow(/name at least one workload/);
    await expect(runScenarioCommand(['kill', '--workloads', 'kv', '--rounds', 'x'])).rejects.toMatchObject({
      code: 'MF_CONFIG_INVALID',
      message: expect.stringMatching(
        /--rounds must be an integer from 1 to 100000[^\n]*not "x"[\s\S]*unknown workload "kv"/,
      ),
    });
  });

  it('the report shows faults, recovery, anomalies with evidence, and the command to reproduce the run', () => {
    const report: ChaosReport = {
      scenario: 'kill',
      seed: 7,
      roundsPlanned: 4,
      roundsRun: 1,
      faultInject: 'double-apply-retries',
      network: 'proxies',
      workloads: ['counter'],
      faults: [
        {
          round: 1,
          nemesis: 'kill',
          description: 'kill -9 n3, restart on heal',
          startedAtMs: 0,
          healedAtMs: 3_000,
          recoveryMs: 8_500,
        },
      ],
      operations: { total: 10, ok: 9, fail: 0, unknown: 1 },
      checks: [
        {
          checker: 'counter',
          valid: false,
          anomalies: [
            {
              checker: 'counter',
              kind: 'duplicated-increment',
              message: 'k: observed 19 > 18',
              evidence: { key: 'k' },
            },
          ],
          stats: { observations: 9 },
        },
      ],
      anomalies: [
        {
          checker: 'counter',
          kind: 'duplicated-increment',
          message: 'k: observed 19 > 18',
          evidence: { key: 'k' },
        },
      ],
      firstAnomalyRound: 1,
      valid: false,
      outDir: '/tmp/x',
      durationMs: 1_000,
    };
    const text = renderReport(report);
    expect(text).toContain('kill -9 n3, restart on heal');
    expect(text).toContain('recovered in 8500 ms');
    expect(text).toContain('[counter/duplicated-increment] k: observed 19 > 18');
    expect(text).toContain('evidence: {"key":"k"}');
    expect(text).toContain(
      'reproduce: meterfabric chaos run kill --rounds 4 --seed 7 --fault-inject double-apply-retries\n',
    );
    expect(text).toContain('workloads: counter');
    // Workloads other than the scenario's default are part of the command that reproduces the run.
    expect(renderReport({ ...report, workloads: ['list'] })).toContain(
      'reproduce: meterfabric chaos run kill --rounds 4 --seed 7 --fault-inject double-apply-retries --workloads list\n',
    );
    expect(text).toContain('RESULT: FAIL');
  });
});
