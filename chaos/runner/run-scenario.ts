/**
 * One chaos run: start a three-node cluster with a proxy on every link, run the counter
 * workload, inject one seeded fault per round, heal, wait for recovery (Service Fabric's
 * validation), then check the history and the role records. Everything random comes from the
 * seed, so a failing run is reproduced with the same scenario and seed.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RoleChange } from '../../cluster/node/role-log.js';
import { MeterfabricError } from '../../core/errors.js';
import { makeDirectorySync } from '../../core/fs/make-directory.js';
import { type Anomaly, type CheckResult, HistoryRecorder } from '../checkers/history.js';
import { appendHistoryEvent, prepareHistoryFile } from '../checkers/history-file.js';
import { checkOnePrimary } from '../checkers/primary-checker.js';
import { checkRecovery, type RecoveryResult, type StatusSnapshot } from '../checkers/recovery-checker.js';
import { ensureClockControl } from '../nemesis/clock-control.js';
import { injectFault, type NemesisName } from '../nemesis/nemeses.js';
import { ChaosCluster } from './chaos-cluster.js';
import { Prng } from './prng.js';
import { scenarioNemeses, scenarioWorkloads } from './scenarios.js';
import { ChaosWorkloads, manifestsFor, type WorkloadName } from './workloads.js';

export type RunOptions = {
  scenario: string;
  rounds: number;
  seed: number;
  outDir: string;
  nodeCount?: number;
  leaseTtlMs?: number;
  /** MF_FAULT_INJECT for the nodes (test-only injected bugs). */
  faultInject?: string;
  /** How long after healing the cluster must be healthy and stable again. */
  recoveryDeadlineMs?: number;
  /** Extra time a fault stays in place, drawn from [min, max] ms. */
  faultHoldMs?: [number, number];
  processes?: number;
  keys?: number;
  /** Which workloads run (default: the scenario's, e.g. `mixed`: counter, list and head-end). */
  workloads?: readonly WorkloadName[];
  /** `proxies` (default) or `netns` (kernel partitions; the scenario must only cut links). */
  network?: 'proxies' | 'netns';
  /** Stop at the end of the first round whose checks found an anomaly. */
  stopOnAnomaly?: boolean;
  onProgress?: (line: string) => void;
};

export type FaultRecord = {
  round: number;
  nemesis: NemesisName;
  description: string;
  startedAtMs: number;
  healedAtMs: number;
  recoveryMs: number | undefined;
};

export type ChaosReport = {
  scenario: string;
  seed: number;
  roundsPlanned: number;
  roundsRun: number;
  faultInject: string | null;
  network: 'proxies' | 'netns';
  workloads: WorkloadName[];
  faults: FaultRecord[];
  operations: { total: number; ok: number; fail: number; unknown: number };
  checks: CheckResult[];
  anomalies: Anomaly[];
  /** The first round after which an anomaly was visible (when checked per round). */
  firstAnomalyRound: number | null;
  valid: boolean;
  outDir: string;
  durationMs: number;
};

/** Each status poll opens fresh etcd and gRPC clients: often enough to time recovery, no more. */
const pollMs = 500;

/** Polls `status` until every partition is healthy and stable, or the deadline passes. */
export async function waitForRecovery(
  cluster: ChaosCluster,
  healedAtMs: number,
  deadlineMs: number,
): Promise<RecoveryResult> {
  const snapshots: StatusSnapshot[] = [];
  const expectation = {
    healedAtMs,
    deadlineMs,
    targetReplicas: Math.min(3, cluster.nodeIds.length),
    expectedPartitions: cluster.partitionCount,
  };
  while (Date.now() - healedAtMs <= deadlineMs) {
    try {
      const report = await cluster.status(1_000);
      snapshots.push({ atMs: Date.now(), report });
      const result = checkRecovery(snapshots, expectation);
      if (result.valid) return result;
    } catch {
      // etcd or a node not answering yet: keep polling until the deadline
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
  return checkRecovery(snapshots, expectation);
}

export async function runScenario(options: RunOptions): Promise<ChaosReport> {
  const startedAt = Date.now();
  const nemeses = scenarioNemeses(options.scenario);
  const workloadNames = [...(options.workloads ?? scenarioWorkloads(options.scenario))];
  const progress = options.onProgress ?? (() => {});
  const rng = new Prng(options.seed);
  const recoveryDeadlineMs = options.recoveryDeadlineMs ?? 60_000;
  const [holdMin, holdMax] = options.faultHoldMs ?? [1_000, 4_000];
  makeDirectorySync(options.outDir);
  const historyPath = join(options.outDir, 'history.jsonl');
  prepareHistoryFile(historyPath);
  writeFileSync(historyPath, '');

  progress(
    `chaos: scenario ${options.scenario}, seed ${options.seed}, ${options.rounds} rounds; output in ${options.outDir}`,
  );
  // The clock nemesis slows a node's clock through files its nodes read (test-only switch).
  if (nemeses.includes('clock-skew-primary')) ensureClockControl(join(options.outDir, 'clocks'));
  const cluster = await ChaosCluster.start({
    baseDir: join(options.outDir, 'cluster'),
    nodeCount: options.nodeCount ?? 3,
    leaseTtlMs: options.leaseTtlMs ?? 3000,
    network: options.network ?? 'proxies',
    ...(options.faultInject ? { faultInject: options.faultInject } : {}),
    ...(manifestsFor(workloadNames) ? { manifests: manifestsFor(workloadNames) } : {}),
  });
  const faults: FaultRecord[] = [];
  const recoveries: RecoveryResult[] = [];
  const history = new HistoryRecorder(Date.now, (event) => appendHistoryEvent(historyPath, event));
  let workload: ChaosWorkloads | undefined;
  const workloadChecks: CheckResult[] = [];
  let firstAnomalyRound: number | null = null;
  let roundsRun = 0;
  let roles: RoleChange[] = [];
  const processes = options.processes ?? 4;
  try {
    const initial = await waitForRecovery(cluster, Date.now(), 90_000);
    if (!initial.valid) {
      throw new MeterfabricError(
        'MF_CHAOS_CLUSTER_UNHEALTHY',
        `the cluster never became healthy: ${initial.anomalies[0]?.message}`,
      );
    }
    progress(
      `chaos: cluster of ${cluster.nodeIds.length} nodes healthy, ${cluster.partitionCount} partitions; starting workloads ${workloadNames.join(', ')}`,
    );
    workload = await ChaosWorkloads.start({
      cluster,
      history,
      rng: rng.fork(),
      workloads: workloadNames,
      seed: options.seed,
      outDir: options.outDir,
      processes,
      counterKeys: options.keys ?? 8,
      rounds: options.rounds,
    });
    const ctx = {
      network: cluster.network,
      processes: cluster,
      leaseTtlMs: options.leaseTtlMs ?? 3000,
    };
    for (let round = 1; round <= options.rounds; round++) {
      const name = rng.pick(nemeses);
      const fault = await injectFault(name, ctx, rng);
      const faultAt = Date.now();
      workload.beginRound(round);
      progress(`round ${round}/${options.rounds}: ${fault.description}`);
      const holdMs = Math.max(fault.minDurationMs, rng.int(holdMin, holdMax));
      await new Promise((r) => setTimeout(r, holdMs));
      await fault.heal();
      const healedAtMs = Date.now();
      const recovery = await waitForRecovery(cluster, healedAtMs, recoveryDeadlineMs);
      recoveries.push(recovery);
      await workload.endRound();
      faults.push({
        round,
        nemesis: name,
        description: fault.description,
        startedAtMs: faultAt,
        healedAtMs,
        recoveryMs: recovery.recoveryMs,
      });
      roundsRun = round;
      progress(
        `round ${round}/${options.rounds}: healed; ${
          recovery.valid
            ? `recovered in ${recovery.recoveryMs} ms`
            : `NOT recovered within ${recoveryDeadlineMs} ms`
        }; ${workload.operations} operations so far${workload.headendProgress ? `; ${workload.headendProgress}` : ''}`,
      );
      if (options.stopOnAnomaly) {
        const found =
          !recovery.valid ||
          workload.historyChecks().some((c) => !c.valid) ||
          !checkOnePrimary(cluster.roleHistory()).valid;
        if (found) {
          firstAnomalyRound = round;
          progress(`round ${round}: anomaly found; stopping early`);
          break;
        }
      }
    }
    await workload.stop();
    // Final reads: every key once more, with a long deadline, after the cluster has recovered;
    // the head-end finishes its day on the healed cluster first.
    await waitForRecovery(cluster, Date.now(), recoveryDeadlineMs);
    await workload.finishHeadend();
    await workload.finalReads();
    workloadChecks.push(...(await workload.checks()));
  } finally {
    await workload?.stop().catch(() => undefined);
    roles = cluster.roleHistory();
    await cluster.stop();
  }
  const checks: CheckResult[] = [...workloadChecks, checkOnePrimary(roles), ...recoveries];
  const anomalies = checks.flatMap((c) => c.anomalies);
  if (firstAnomalyRound === null && anomalies.length > 0) firstAnomalyRound = roundsRun;
  const ops = history.events.filter((e) => e.type !== 'invoke');
  const report: ChaosReport = {
    scenario: options.scenario,
    seed: options.seed,
    roundsPlanned: options.rounds,
    roundsRun,
    faultInject: options.faultInject ?? null,
    network: options.network ?? 'proxies',
    workloads: workloadNames,
    faults,
    operations: {
      total: history.events.filter((e) => e.type === 'invoke').length,
      ok: ops.filter((e) => e.type === 'ok').length,
      fail: ops.filter((e) => e.type === 'fail').length,
      unknown: ops.filter((e) => e.type === 'info').length,
    },
    checks,
    anomalies,
    firstAnomalyRound: anomalies.length > 0 ? firstAnomalyRound : null,
    valid: anomalies.length === 0,
    outDir: options.outDir,
    durationMs: Date.now() - startedAt,
  };
  writeFileSync(join(options.outDir, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(options.outDir, 'roles.jsonl'), roles.map((r) => JSON.stringify(r)).join('\n'));
  return report;
}
