/**
 * Which node holds a modem's TCP connection, cluster-wide. The etcd implementation keeps each
 * entry under the node's lease, so a dead node's entries vanish with its lease.
 */
export type SessionHolder = { nodeId: string; forwardAddress: string };

export interface SessionDirectory {
  announce(imei: string, holder: SessionHolder): Promise<void>;
  /** Removes the entry only if `nodeId` still holds it (a newer holder is never erased). */
  withdraw(imei: string, nodeId: string): Promise<void>;
  lookup(imei: string): Promise<SessionHolder | undefined>;
}
