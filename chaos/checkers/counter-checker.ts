/**
 * Counter checker (Jepsen's counter model, per key). Increments carry `{by}`; an ok increment
 * returns `{value}` (the counter after it), an ok read returns `{value}`.
 *
 * For every observed value v (read, or result of an increment) at [invoke, completion]:
 *   lower = Σ by of increments acknowledged (ok) before the observation was invoked
 *   upper = Σ by of increments not known to have failed, invoked before it completed
 * and lower ≤ v ≤ upper must hold. Below: an acknowledged increment was lost. Above: some
 * increment was applied more than once (or from nowhere). With positive increments, two
 * acknowledged increments that return the same value both saw the same state: a lost update
 * or two primaries at once. Unknown increments may count at most once (they widen `upper` only).
 */
import {
  type Anomaly,
  type CheckResult,
  checkResult,
  type HistoryEvent,
  type Operation,
  pairOperations,
} from './history.js';

const checker = 'counter';

function byOf(op: Operation): number {
  const by = (op.invoke.value as { by?: unknown } | null)?.by ?? 1;
  return typeof by === 'number' ? by : 1;
}

function observedValue(event: HistoryEvent | undefined): number | undefined {
  const value = (event?.value as { value?: unknown } | null)?.value;
  return typeof value === 'number' ? value : undefined;
}

export function checkCounter(history: readonly HistoryEvent[]): CheckResult {
  const operations = pairOperations(history);
  const anomalies: Anomaly[] = [];
  const byKey = new Map<string, Operation[]>();
  for (const op of operations) {
    if (op.f !== 'increment' && op.f !== 'read') continue;
    const list = byKey.get(op.key) ?? [];
    list.push(op);
    byKey.set(op.key, list);
  }
  let observations = 0;
  let acknowledged = 0;
  for (const [key, ops] of byKey) {
    const increments = ops.filter((op) => op.f === 'increment');
    acknowledged += increments.filter((op) => op.outcome === 'ok').length;
    for (const observer of ops) {
      const observed = observedValue(observer.completion);
      if (observer.outcome !== 'ok' || observed === undefined) continue;
      observations++;
      const invokedAt = observer.invoke.index;
      const completedAt = (observer.completion as HistoryEvent).index;
      let lower = 0;
      let upper = 0;
      for (const inc of increments) {
        if (inc === observer) {
          lower += byOf(inc);
          upper += byOf(inc);
          continue;
        }
        if (inc.outcome === 'ok' && (inc.completion as HistoryEvent).index < invokedAt) lower += byOf(inc);
        if (inc.outcome !== 'fail' && inc.invoke.index < completedAt) upper += byOf(inc);
      }
      if (observed < lower) {
        anomalies.push({
          checker,
          kind: 'lost-increment',
          message: `${key}: ${observer.f} observed ${observed}, but increments acknowledged before it sum to ${lower}`,
          evidence: { key, observed, lower, upper, invoke: observer.invoke, completion: observer.completion },
        });
      } else if (observed > upper) {
        anomalies.push({
          checker,
          kind: 'duplicated-increment',
          message: `${key}: ${observer.f} observed ${observed}, more than every increment possibly applied (${upper}): something was applied twice`,
          evidence: { key, observed, lower, upper, invoke: observer.invoke, completion: observer.completion },
        });
      }
    }
    if (increments.every((op) => byOf(op) > 0)) {
      const seen = new Map<number, Operation>();
      for (const inc of increments) {
        const result = observedValue(inc.completion);
        if (inc.outcome !== 'ok' || result === undefined) continue;
        const other = seen.get(result);
        if (other) {
          anomalies.push({
            checker,
            kind: 'conflicting-increments',
            message: `${key}: two acknowledged increments both returned ${result}: they saw the same state (lost update or two primaries)`,
            evidence: {
              key,
              value: result,
              first: [other.invoke, other.completion],
              second: [inc.invoke, inc.completion],
            },
          });
        } else seen.set(result, inc);
      }
    }
  }
  return checkResult(checker, anomalies, {
    keys: byKey.size,
    observations,
    acknowledgedIncrements: acknowledged,
  });
}
