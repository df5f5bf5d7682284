/**
 * A small Elle-style list-append checker. Operations: `append` (value: the element, unique per
 * key) and `read` (ok value: the whole list). The anomalies it finds in one linear pass per key:
 *
 * - duplicate-element: an element appears twice in one read (an append applied twice);
 * - garbage-read: a read holds an element nobody appended;
 * - aborted-read (G1a): a read holds an element whose append definitely failed;
 * - incompatible-order: two reads disagree on the order of their common prefix (reordered);
 * - lost-append: an acknowledged append is missing from a read invoked after it completed;
 * - future-read: a read holds an element whose append was invoked only after the read completed.
 *
 * Every ok read must be a prefix of the longest read of its key, so the longest read is the
 * version order; it is the only dependency structure single-key appends need.
 */
import {
  type Anomaly,
  type CheckResult,
  checkResult,
  type HistoryEvent,
  type Operation,
  pairOperations,
} from './history.js';

const checker = 'list-append';

function elementKey(value: unknown): string {
  return JSON.stringify(value);
}

export function checkListAppend(history: readonly HistoryEvent[]): CheckResult {
  const operations = pairOperations(history);
  const anomalies: Anomaly[] = [];
  const keys = new Set(operations.filter((op) => op.f === 'append' || op.f === 'read').map((op) => op.key));
  let readsChecked = 0;
  let appendsAcknowledged = 0;
  for (const key of keys) {
    const appends = new Map<string, Operation>();
    for (const op of operations) {
      if (op.key === key && op.f === 'append') appends.set(elementKey(op.invoke.value), op);
    }
    appendsAcknowledged += [...appends.values()].filter((op) => op.outcome === 'ok').length;
    const reads = operations.filter(
      (op) => op.key === key && op.f === 'read' && op.outcome === 'ok' && Array.isArray(op.completion?.value),
    );
    let longest: unknown[] = [];
    for (const read of reads) {
      const list = read.completion?.value as unknown[];
      if (list.length > longest.length) longest = list;
    }
    for (const read of reads) {
      readsChecked++;
      const list = read.completion?.value as unknown[];
      const completion = read.completion as HistoryEvent;
      const seen = new Set<string>();
      for (const element of list) {
        const id = elementKey(element);
        if (seen.has(id)) {
          anomalies.push({
            checker,
            kind: 'duplicate-element',
            message: `${key}: element ${id} appears more than once in one read`,
            evidence: { key, element, read: completion },
          });
        }
        seen.add(id);
        const append = appends.get(id);
        if (!append) {
          anomalies.push({
            checker,
            kind: 'garbage-read',
            message: `${key}: read returned ${id}, which nobody appended`,
            evidence: { key, element, read: completion },
          });
        } else if (append.outcome === 'fail') {
          anomalies.push({
            checker,
            kind: 'aborted-read',
            message: `${key}: read returned ${id}, whose append failed (G1a)`,
            evidence: { key, element, append: append.completion, read: completion },
          });
        } else if (append.invoke.index > completion.index) {
          anomalies.push({
            checker,
            kind: 'future-read',
            message: `${key}: read returned ${id} before its append was invoked`,
            evidence: { key, element, append: append.invoke, read: completion },
          });
        }
      }
      const prefixOk = list.every((element, i) => elementKey(element) === elementKey(longest[i]));
      if (!prefixOk) {
        anomalies.push({
          checker,
          kind: 'incompatible-order',
          message: `${key}: read ${JSON.stringify(list)} is not a prefix of ${JSON.stringify(longest)}`,
          evidence: { key, read: completion, longest },
        });
      }
      for (const [id, append] of appends) {
        if (append.outcome !== 'ok') continue;
        if ((append.completion as HistoryEvent).index < read.invoke.index && !seen.has(id)) {
          anomalies.push({
            checker,
            kind: 'lost-append',
            message: `${key}: acknowledged append of ${id} is missing from a read invoked after it completed`,
            evidence: { key, append: [append.invoke, append.completion], read: [read.invoke, completion] },
          });
        }
      }
    }
  }
  return checkResult(checker, anomalies, { keys: keys.size, readsChecked, appendsAcknowledged });
}
