import { serviceOf } from '../config/manifest.js';
import { type ClusterView, planReplicaSet } from '../placement/placement.js';
import type { NodeId, PartitionConfiguration } from '../replicator/contract.js';
import type { StatusReport } from './status-report.js';

/**
 * Pure: has a node that `up` restarted caught up, judged from two `meterfabric status` reports
 * polled one after the other (catch-up-watch.ts polls). Registering in etcd is not
 * enough: the failover manager first has to give the node its replicas back (a new epoch, or
 * a build when its lease lapsed), and each replica then has to receive what it missed.
 *
 * Caught up means: the node is a reachable, non-draining member; every partition the placement
 * would put on it (placement.ts with the service's target replica count) has it in its replica
 * set; and every replica placed on it is in sync in an `ok` configuration:
 * - the configured primary reports the primary role at the configuration's epoch, or
 * - an active secondary at that epoch, not building, that has persisted at least what the
 *   primary had committed in the earlier report: the replicator's own notion of caught up
 *   (primary-role.ts: persisted everything committed), made race-free by taking the primary's
 *   commit from a poll that ended before this one began (writes go on during the day).
 */
export type CatchUpInput = {
  node: NodeId;
  /** A report whose polling ended before `now`'s began: the primaries' commit to reach. */
  earlier: StatusReport;
  now: StatusReport;
  /** The service's target replica count (manifest `replicas`), undefined if unknown. */
  targetReplicas: (service: string) => number | undefined;
};

export type CatchUpVerdict =
  | { caughtUp: true; replicas: number; primaries: number }
  /** `pending`: what is not there yet, one line per partition (or one for the node). */
  | { caughtUp: false; replicas: number; pending: string[] };

export function judgeCatchUp(input: CatchUpInput): CatchUpVerdict {
  const { node, earlier, now } = input;
  const self = now.nodes.find((n) => n.id === node);
  const notYet = (why: string): CatchUpVerdict => ({ caughtUp: false, replicas: 0, pending: [why] });
  if (!self) return notYet(`${node} is not registered in etcd`);
  if (!self.reachable) return notYet(`${node} does not answer its Admin Status call`);
  if (self.draining) return notYet(`${node} is draining`);

  const view: ClusterView = {
    eligible: now.nodes.filter((n) => !n.draining).map((n) => n.id),
    configs: new Map(now.partitions.map((p) => [p.partition, asConfiguration(p)])),
  };
  const pending: string[] = [];
  let replicas = 0;
  let primaries = 0;
  for (const p of now.partitions) {
    if (!p.replicas.includes(node)) {
      // A service whose target is unknown cannot be judged for placement; its partitions
      // that do hold the node are still checked below.
      const target = input.targetReplicas(serviceOf(p.partition));
      const planned =
        target === undefined ? [] : planReplicaSet(view.configs.get(p.partition)!, view, target).replicas;
      if (planned.includes(node))
        pending.push(`${p.partition}: ${node} is to be placed there (not in its replica set yet)`);
      continue;
    }
    replicas++;
    const why = notInSync(p, node, earlier);
    if (why) pending.push(`${p.partition}: ${why}`);
    else if (p.primary === node) primaries++;
  }
  return pending.length === 0
    ? { caughtUp: true, replicas, primaries }
    : { caughtUp: false, replicas, pending };
}

type PartitionReport = StatusReport['partitions'][number];

/** Why `node`'s replica of `p` is not in sync, or undefined when it is. */
function notInSync(p: PartitionReport, node: NodeId, earlier: StatusReport): string | undefined {
  if (p.status !== 'ok' || p.primary === null) return `configuration ${p.status} at epoch ${p.epoch}`;
  if (p.building.includes(node)) return `${node} is building (copying state)`;
  const mine = p.progress[node];
  if (!mine) return `no replica running on ${node}`;
  if (mine.epoch !== p.epoch) return `${node} is at epoch ${mine.epoch}, the configuration at ${p.epoch}`;
  if (p.primary === node)
    return mine.role === 'primary' ? undefined : `${node} is configured primary but reports ${mine.role}`;
  if (mine.role !== 'active-secondary') return `${node} reports ${mine.role}, configured active secondary`;
  const before = earlier.partitions.find((q) => q.partition === p.partition);
  const primaryBefore = before?.primary === p.primary ? before.progress[p.primary] : undefined;
  if (before?.epoch !== p.epoch || primaryBefore?.role !== 'primary' || primaryBefore.epoch !== p.epoch)
    return `primary ${p.primary} not acting at epoch ${p.epoch} in the previous poll`;
  if (mine.lastPersistedLsn < primaryBefore.committedLsn)
    return `${node} persisted LSN ${mine.lastPersistedLsn}, primary ${p.primary} had committed ${primaryBefore.committedLsn}`;
  return undefined;
}

/** The report's partition as the configuration placement reads (its replica set and primary). */
function asConfiguration(p: PartitionReport): PartitionConfiguration {
  return {
    partition: p.partition,
    epoch: p.epoch,
    primary: p.primary,
    replicas: p.replicas,
    building: p.building,
    status: p.status,
    // Not in the report, and placement does not read it.
    previousEpochLastLsn: 0,
  };
}
