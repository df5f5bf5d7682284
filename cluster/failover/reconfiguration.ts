import type { Lsn, NodeId, PartitionConfiguration } from '../replicator/contract.js';

/**
 * Step 2 of reconfiguration, pure: given the fence answers of the old replica set, either
 * pick the new primary (highest (epoch, LSN) among a majority of the old active replicas) or
 * declare quorum loss. Never guesses: without a majority nobody is elected, because the
 * replicas that did not answer may hold committed operations.
 */
export type FenceAnswer = { node: NodeId; lastPersistedEpoch: number; lastPersistedLsn: Lsn };

export type PrimaryDecision =
  | { kind: 'primary'; node: NodeId; previousEpochLastLsn: Lsn }
  | { kind: 'quorum-loss'; answered: number; needed: number };

/** Replicas whose progress counts: the set minus those still being built. */
export function activeReplicas(config: PartitionConfiguration): NodeId[] {
  return config.replicas.filter((n) => !config.building.includes(n));
}

export function majority(count: number): number {
  return Math.floor(count / 2) + 1;
}

function compareProgress(a: FenceAnswer, b: FenceAnswer): number {
  return a.lastPersistedEpoch - b.lastPersistedEpoch || a.lastPersistedLsn - b.lastPersistedLsn;
}

/**
 * @param old the configuration being replaced
 * @param answers fence answers (from any replicas; only the old active ones count)
 * @param eligible nodes that may become primary (alive, not draining)
 * @param preferred node to keep as primary when it is among the most advanced (no needless move)
 */
export function decidePrimary(
  old: PartitionConfiguration,
  answers: readonly FenceAnswer[],
  eligible: ReadonlySet<NodeId>,
  preferred: NodeId | null,
): PrimaryDecision {
  const active = activeReplicas(old);
  const counted = answers.filter((a) => active.includes(a.node));
  const needed = majority(active.length);
  if (counted.length < needed) return { kind: 'quorum-loss', answered: counted.length, needed };
  // The most advanced answer bounds what may be committed; a candidate must hold all of it.
  // Any majority intersects the majority that persisted a committed op, so the maximum over
  // `counted` holds every committed op.
  const best = counted.reduce((a, b) => (compareProgress(a, b) >= 0 ? a : b));
  const candidates = counted.filter((a) => eligible.has(a.node) && compareProgress(a, best) === 0);
  if (candidates.length === 0) {
    // The most advanced replica may not serve (draining, lost since it answered). The most
    // advanced eligible one is safe only if the eligible answers alone still form a majority.
    const eligibleAnswers = counted.filter((a) => eligible.has(a.node));
    if (eligibleAnswers.length < needed) {
      return { kind: 'quorum-loss', answered: eligibleAnswers.length, needed };
    }
    const top = eligibleAnswers.reduce((a, b) => (compareProgress(a, b) >= 0 ? a : b));
    const next = eligibleAnswers.find((a) => a.node === preferred && compareProgress(a, top) === 0) ?? top;
    return { kind: 'primary', node: next.node, previousEpochLastLsn: next.lastPersistedLsn };
  }
  const chosen =
    candidates.find((a) => a.node === preferred) ??
    [...candidates].sort((a, b) => (a.node < b.node ? -1 : 1))[0]!;
  return { kind: 'primary', node: chosen.node, previousEpochLastLsn: chosen.lastPersistedLsn };
}

/** Replicas of a set that count toward its write quorum (not being built). */
export function activeCount(replicas: readonly NodeId[], building: readonly NodeId[]): number {
  return replicas.filter((n) => !building.includes(n)).length;
}

/**
 * Step 3 of reconfiguration, pure: the configuration to commit at `epoch`. A primary is
 * committed only when the new set keeps at least `minReplicas` active replicas (Service
 * Fabric's MinReplicaSetSize); otherwise, as without a majority, the partition waits in
 * quorum loss with the OLD replica set, so the next attempt still needs a majority of the
 * old voters (a set shrunk to the survivors would let one disk elect itself next time).
 * This is what stops a pass that saw one eligible node from committing `replicas: ['n1']`.
 */
export function nextConfiguration(
  old: PartitionConfiguration,
  epoch: number,
  decision: PrimaryDecision,
  replicas: readonly NodeId[],
  building: readonly NodeId[],
  minReplicas: number,
): PartitionConfiguration {
  const waiting = (reason: string): PartitionConfiguration => ({
    ...old,
    epoch,
    primary: null,
    status: 'quorum-loss',
    reason,
  });
  if (decision.kind === 'quorum-loss') {
    return waiting(
      `quorum loss: ${decision.answered} of the ${decision.needed} replicas needed answered; writes refused until replicas return`,
    );
  }
  const nextBuilding = building.filter((n) => n !== decision.node);
  const nextReplicas = [decision.node, ...replicas.filter((n) => n !== decision.node)];
  const active = activeCount(nextReplicas, nextBuilding);
  if (active < minReplicas) {
    return waiting(
      `quorum loss: ${active} active replicas available, minimum replica-set size is ${minReplicas}; writes refused until replicas return`,
    );
  }
  return {
    partition: old.partition,
    epoch,
    primary: decision.node,
    replicas: nextReplicas,
    building: nextBuilding,
    status: 'ok',
    previousEpochLastLsn: decision.previousEpochLastLsn,
  };
}
