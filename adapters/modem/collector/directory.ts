/**
 * Which node holds a modem's TCP connection, cluster-wide. The etcd implementation keeps each
 * entry under the node's lease, so a dead node's entries vanish with its lease.
 */
export type SessionHolder = {
  nodeId: string;
  forwardAddress: string;
  /** Tells one connection of a modem from its next one on the same node (a quick redial). */
  sessionId: string;
};

export interface SessionDirectory {
  announce(imei: string, holder: SessionHolder): Promise<void>;
  /** Removes the entry only if it is still exactly `holder` (a newer session is never erased). */
  withdraw(imei: string, holder: SessionHolder): Promise<void>;
  lookup(imei: string): Promise<SessionHolder | undefined>;
}
