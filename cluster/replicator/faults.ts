/**
 * TEST-ONLY fault injection for the chaos suite. Read once from the environment when this
 * module loads; every switch is OFF unless `MF_FAULT_INJECT` names it. A production node
 * never sets this variable. The switches deliberately break the replication protocol so the
 * chaos checkers can show they catch the resulting anomalies:
 *
 * - `ack-before-persist`: a secondary acknowledges operations on receipt and hands them to
 *   its disk writer only at its next lazy flush (`ACK_BEFORE_PERSIST_FLUSH_MS` later, like a
 *   write-back cache), so a crash of every replica loses operations the primary counted as
 *   committed. Without the delay the window would be one in-flight fsync: too short to matter.
 * - `skip-epoch-fencing`: replicas accept messages and fences of older epochs, so a deposed
 *   primary can still write.
 *
 * Several switches may be combined with commas: `MF_FAULT_INJECT=ack-before-persist,skip-epoch-fencing`.
 */
export type ReplicationFaults = {
  readonly ackBeforePersist: boolean;
  readonly skipEpochFencing: boolean;
};

export const NO_FAULTS: ReplicationFaults = { ackBeforePersist: false, skipEpochFencing: false };

export function parseFaults(value: string | undefined): ReplicationFaults {
  const names = new Set(
    (value ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  );
  return {
    ackBeforePersist: names.has('ack-before-persist'),
    skipEpochFencing: names.has('skip-epoch-fencing'),
  };
}

/**
 * ack-before-persist: how long a secondary keeps acknowledged operations in memory before it
 * hands them to the disk writer (everything else it writes for the partition flushes them
 * first, so the order on disk never changes).
 */
export const ACK_BEFORE_PERSIST_FLUSH_MS = 1_000;

/** The switches of this process, read once. */
export const processFaults: ReplicationFaults = parseFaults(process.env.MF_FAULT_INJECT);
