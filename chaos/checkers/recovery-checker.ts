/**
 * Recovery checker (Service Fabric Chaos's validation): after the faults are healed, every
 * partition must be healthy and stable — a primary, the full replica set, nothing building,
 * status ok — within a deadline. Input: `meterfabric status --json` snapshots taken after the
 * heal. Output: the recovery time, or an anomaly naming the partitions still unhealthy.
 */
import { type Anomaly, type CheckResult, checkResult } from './history.js';

/** The fields of `meterfabric status --json` this checker reads. */
export type StatusSnapshot = {
  atMs: number;
  report: {
    nodes: ReadonlyArray<{ id: string; reachable: boolean }>;
    partitions: ReadonlyArray<{
      partition: string;
      status: string;
      primary: string | null;
      replicas: readonly string[];
      building: readonly string[];
      health: string;
      reason?: string;
      /** Per replica as the node itself reports it; absent when the node has no such replica. */
      progress?: Readonly<Record<string, { role: string }>>;
    }>;
  };
};

export type RecoveryExpectation = {
  healedAtMs: number;
  deadlineMs: number;
  /** Replicas each partition must have (min(3, live nodes)). */
  targetReplicas: number;
  /** Partitions that must exist (the manifest's count); fewer means some were never placed. */
  expectedPartitions: number;
};

function unhealthy(snapshot: StatusSnapshot, expect: RecoveryExpectation): string[] {
  const problems: string[] = [];
  const parts = snapshot.report.partitions;
  if (parts.length < expect.expectedPartitions) {
    problems.push(`${parts.length} of ${expect.expectedPartitions} partitions placed`);
  }
  for (const p of parts) {
    if (p.status !== 'ok') problems.push(`${p.partition}: status ${p.status}`);
    else if (p.primary === null) problems.push(`${p.partition}: no primary`);
    else if (p.replicas.length < expect.targetReplicas)
      problems.push(`${p.partition}: ${p.replicas.length} of ${expect.targetReplicas} replicas`);
    else if (p.building.length > 0) problems.push(`${p.partition}: building ${p.building.join(',')}`);
    else if (p.health !== 'OK') problems.push(`${p.partition}: ${p.health} ${p.reason ?? ''}`.trim());
    else if (p.progress) {
      // The configuration in etcd is not enough: each replica must exist on its node, and the
      // primary must itself report the primary role (a restarted node may not have taken it).
      const missing = p.replicas.filter((n) => !p.progress?.[n]);
      if (missing.length > 0) problems.push(`${p.partition}: no replica running on ${missing.join(',')}`);
      else if (p.progress[p.primary]?.role !== 'primary')
        problems.push(
          `${p.partition}: ${p.primary} is configured primary but reports ${p.progress[p.primary]?.role}`,
        );
    }
  }
  for (const n of snapshot.report.nodes) if (!n.reachable) problems.push(`node ${n.id} unreachable`);
  return problems;
}

export type RecoveryResult = CheckResult & { recoveryMs: number | undefined };

export function checkRecovery(
  snapshots: readonly StatusSnapshot[],
  expect: RecoveryExpectation,
): RecoveryResult {
  const anomalies: Anomaly[] = [];
  const inWindow = snapshots
    .filter((s) => s.atMs >= expect.healedAtMs && s.atMs <= expect.healedAtMs + expect.deadlineMs)
    .sort((a, b) => a.atMs - b.atMs);
  const recovered = inWindow.find((s) => unhealthy(s, expect).length === 0);
  if (!recovered) {
    const last = inWindow.at(-1);
    anomalies.push({
      checker: 'recovery',
      kind: 'not-recovered',
      message: `cluster not healthy and stable within ${expect.deadlineMs} ms of healing${
        last ? `: ${unhealthy(last, expect).slice(0, 5).join('; ')}` : ' (no status snapshot in the window)'
      }`,
      evidence: {
        healedAtMs: expect.healedAtMs,
        lastSnapshot: last,
        problems: last ? unhealthy(last, expect) : [],
      },
    });
  }
  const recoveryMs = recovered ? recovered.atMs - expect.healedAtMs : undefined;
  const result = checkResult('recovery', anomalies, { snapshots: inWindow.length });
  return { ...result, recoveryMs };
}
