import type { Etcd3, Lease, Namespace } from 'etcd3';
import type { Logger } from '../../../core/logger.js';
import type { SessionDirectory, SessionHolder } from './directory.js';

/**
 * The "which node holds this modem" directory in etcd. Entries are written under this node's
 * lease: if the node dies its lease expires after `leaseTtlS` and its entries vanish, so
 * pollers are no longer forwarded to a dead node.
 */
export class EtcdSessionDirectory implements SessionDirectory {
  private readonly ns: Namespace;
  private readonly lease: Lease;

  constructor(client: Etcd3, cluster: string, leaseTtlS: number, logger: Logger) {
    this.ns = client.namespace(`/${cluster}/modem-sessions/`);
    this.lease = this.ns.lease(leaseTtlS, { autoKeepAlive: true });
    this.lease.on('lost', (err) =>
      logger.error({ err }, 'modem session lease lost; entries will be re-announced'),
    );
  }

  async announce(imei: string, holder: SessionHolder): Promise<void> {
    await this.lease.put(imei).value(JSON.stringify(holder));
  }

  async withdraw(imei: string, nodeId: string): Promise<void> {
    const current = await this.lookup(imei);
    if (current?.nodeId !== nodeId) return;
    await this.ns.if(imei, 'Value', '==', JSON.stringify(current)).then(this.ns.delete().key(imei)).commit();
  }

  async lookup(imei: string): Promise<SessionHolder | undefined> {
    const raw = await this.ns.get(imei).string();
    return raw === null ? undefined : (JSON.parse(raw) as SessionHolder);
  }

  /** Revokes the lease: every entry of this node disappears at once (graceful shutdown). */
  async close(): Promise<void> {
    await this.lease.revoke().catch(() => undefined);
  }

  /** Stops renewing without revoking: what a crashed node looks like to the others. */
  abandon(): void {
    this.lease.release();
  }
}
