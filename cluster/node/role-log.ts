import { appendFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { makeDirectorySync } from '../../core/fs/make-directory.js';
import type { NodeId, PartitionId, ReplicaRole } from '../replicator/contract.js';

/** One role change, as a line of the append-only role history. */
export type RoleChange = {
  node: NodeId;
  partition: PartitionId;
  epoch: number;
  role: ReplicaRole;
  atMs: number;
};

/**
 * Append-only history of this node's role changes (JSON lines), written synchronously before
 * the role is acted on, so a checker can verify at most one primary per partition and epoch
 * even when the process is killed right after.
 */
export class RoleLog {
  constructor(private readonly path: string) {
    makeDirectorySync(dirname(path));
  }

  record(change: RoleChange): void {
    appendFileSync(this.path, `${JSON.stringify(change)}\n`);
  }
}

/** Pure checker: every (partition, epoch) pair claimed as primary by more than one node. */
export function primaryConflicts(
  history: readonly RoleChange[],
): Array<{ partition: PartitionId; epoch: number; nodes: NodeId[] }> {
  const primaries = new Map<string, Set<NodeId>>();
  for (const change of history) {
    if (change.role !== 'primary') continue;
    const key = `${change.partition}#${change.epoch}`;
    const set = primaries.get(key) ?? new Set<NodeId>();
    set.add(change.node);
    primaries.set(key, set);
  }
  const conflicts: Array<{ partition: PartitionId; epoch: number; nodes: NodeId[] }> = [];
  for (const [key, nodes] of primaries) {
    if (nodes.size <= 1) continue;
    const [partition, epoch] = key.split('#') as [string, string];
    conflicts.push({ partition, epoch: Number(epoch), nodes: [...nodes] });
  }
  return conflicts;
}
