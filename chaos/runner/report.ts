/** Renders a chaos report for people: faults with recovery times, operations, anomalies with evidence. */
import type { ChaosReport } from './run-scenario.js';
import { scenarioWorkloads } from './scenarios.js';

const maxAnomaliesShown = 20;

export function renderReport(report: ChaosReport): string {
  const lines: string[] = [];
  lines.push(
    `chaos report: scenario ${report.scenario}, seed ${report.seed}, ${report.roundsRun}/${report.roundsPlanned} rounds` +
      `${report.faultInject ? `, injected bug: ${report.faultInject}` : ''}, ${(report.durationMs / 1000).toFixed(1)} s`,
  );
  lines.push(`workloads: ${report.workloads.join(', ')}`);
  lines.push('');
  lines.push('faults injected:');
  for (const f of report.faults) {
    const recovery = f.recoveryMs === undefined ? 'NOT RECOVERED' : `recovered in ${f.recoveryMs} ms`;
    lines.push(
      `  ${String(f.round).padStart(3)}. ${f.description.padEnd(70)} held ${f.healedAtMs - f.startedAtMs} ms, ${recovery}`,
    );
  }
  const recovered = report.faults.map((f) => f.recoveryMs).filter((ms): ms is number => ms !== undefined);
  if (recovered.length > 0) {
    lines.push(
      `  recovery: max ${Math.max(...recovered)} ms, mean ${Math.round(recovered.reduce((a, b) => a + b, 0) / recovered.length)} ms`,
    );
  }
  lines.push('');
  const o = report.operations;
  lines.push(`operations: ${o.total} invoked, ${o.ok} ok, ${o.fail} failed, ${o.unknown} unknown`);
  lines.push('');
  lines.push('checks:');
  const seen = new Set<string>();
  for (const check of report.checks) {
    if (check.checker === 'recovery' && seen.has('recovery')) continue;
    seen.add(check.checker);
    const all = report.checks.filter((c) => c.checker === check.checker);
    const bad = all.filter((c) => !c.valid).length;
    const stats = Object.entries(check.stats)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
    lines.push(
      `  ${check.checker.padEnd(14)} ${bad === 0 ? 'PASS' : 'FAIL'}${all.length > 1 ? ` (${all.length} rounds)` : ''}  ${stats}`,
    );
  }
  lines.push('');
  if (report.anomalies.length === 0) {
    lines.push('anomalies: none');
  } else {
    lines.push(
      `anomalies: ${report.anomalies.length}${report.firstAnomalyRound ? ` (first seen after round ${report.firstAnomalyRound})` : ''}`,
    );
    for (const a of report.anomalies.slice(0, maxAnomaliesShown)) {
      lines.push(`  [${a.checker}/${a.kind}] ${a.message}`);
      lines.push(`      evidence: ${JSON.stringify(a.evidence).slice(0, 400)}`);
    }
    if (report.anomalies.length > maxAnomaliesShown)
      lines.push(`  ... ${report.anomalies.length - maxAnomaliesShown} more in report.json`);
  }
  lines.push('');
  lines.push(`history: ${report.outDir}/history.jsonl   report: ${report.outDir}/report.json`);
  lines.push(
    `reproduce: meterfabric chaos run ${report.scenario} --rounds ${report.roundsPlanned} --seed ${report.seed}${
      report.faultInject ? ` --fault-inject ${report.faultInject}` : ''
    }${report.network === 'netns' ? ' --network netns' : ''}${workloadsFlag(report)}`,
  );
  lines.push(report.valid ? 'RESULT: PASS (no anomalies, full recovery)' : 'RESULT: FAIL');
  return `${lines.join('\n')}\n`;
}

/** `--workloads ...` when the run's workloads were not its scenario's default. */
function workloadsFlag(report: ChaosReport): string {
  let defaults: readonly string[] = [];
  try {
    defaults = scenarioWorkloads(report.scenario);
  } catch {
    // a report of a scenario this build does not know: name the workloads explicitly
  }
  return defaults.join(',') === report.workloads.join(',')
    ? ''
    : ` --workloads ${report.workloads.join(',')}`;
}
