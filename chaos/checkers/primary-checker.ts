/**
 * One primary per partition and epoch, from the nodes' append-only role histories
 * (`cluster/node/role-log.ts`: `{node, partition, epoch, role, atMs}` per line). Also checks
 * that no node takes the primary role of a partition at an epoch lower than one it already
 * had (epochs never go back).
 */
import type { RoleChange } from '../../cluster/node/role-log.js';
import { type Anomaly, type CheckResult, checkResult } from './history.js';

const checker = 'one-primary';

export function checkOnePrimary(changes: readonly RoleChange[]): CheckResult {
  const anomalies: Anomaly[] = [];
  const primaries = new Map<string, RoleChange[]>();
  const lastEpoch = new Map<string, RoleChange>();
  let primaryClaims = 0;
  for (const change of changes) {
    if (change.role !== 'primary') continue;
    primaryClaims++;
    const slot = `${change.partition}#${change.epoch}`;
    const claims = primaries.get(slot) ?? [];
    if (claims.length > 0 && !claims.some((c) => c.node === change.node)) {
      anomalies.push({
        checker,
        kind: 'two-primaries',
        message: `partition ${change.partition} epoch ${change.epoch}: ${change.node} became primary while ${claims
          .map((c) => c.node)
          .join(', ')} already was`,
        evidence: { partition: change.partition, epoch: change.epoch, claims: [...claims, change] },
      });
    }
    claims.push(change);
    primaries.set(slot, claims);
    const mine = `${change.node}@${change.partition}`;
    const previous = lastEpoch.get(mine);
    if (previous && change.epoch < previous.epoch) {
      anomalies.push({
        checker,
        kind: 'epoch-regression',
        message: `${change.node} became primary of ${change.partition} at epoch ${change.epoch} after epoch ${previous.epoch}`,
        evidence: { previous, change },
      });
    }
    if (!previous || change.epoch > previous.epoch) lastEpoch.set(mine, change);
  }
  return checkResult(checker, anomalies, {
    roleChanges: changes.length,
    primaryClaims,
    partitionEpochs: primaries.size,
  });
}
