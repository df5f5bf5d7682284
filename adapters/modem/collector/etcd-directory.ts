import type { Etcd3, Lease, Namespace } from 'etcd3';
import type { Logger } from '../../../core/logger.js';
import type { SessionDirectory, SessionHolder } from './directory.js';

/**
 * The "which node holds this modem" directory in etcd. Entries are written under this node's
 * lease: if the node dies its lease expires after `leaseTtlS` and its entries vanish, so
 * pollers are no longer forwarded to a dead node. If this node loses its lease (etcd was
 * unreachable too long) it takes a new one and re-announces every session it still holds.
 */
export class EtcdSessionDirectory implements SessionDirectory {
  private readonly ns: Namespace;
  private lease: Lease;
  private readonly held = new Map<string, SessionHolder>();
  private closed = false;

  constructor(
    client: Etcd3,
    cluster: string,
    private readonly leaseTtlS: number,
    private readonly logger: Logger,
  ) {
    this.ns = client.namespace(`/${cluster}/modem-sessions/`);
    this.lease = this.grant();
  }

  private grant(): Lease {
    const lease = this.ns.lease(this.leaseTtlS, { autoKeepAlive: true });
    lease.on('lost', (err) => {
      if (this.closed) return;
      this.logger.error(
        { err, sessions: this.held.size },
        'modem session lease lost; re-announcing on a new lease',
      );
      this.lease = this.grant();
      for (const [imei, holder] of this.held) {
        this.lease
          .put(imei)
          .value(JSON.stringify(holder))
          .catch((e: unknown) => this.logger.error({ err: e, imei }, 're-announce failed'));
      }
    });
    return lease;
  }

  async announce(imei: string, holder: SessionHolder): Promise<void> {
    this.held.set(imei, holder);
    await this.lease.put(imei).value(JSON.stringify(holder));
  }

  async withdraw(imei: string, holder: SessionHolder): Promise<void> {
    if (this.held.get(imei)?.sessionId === holder.sessionId) this.held.delete(imei);
    await this.ns.if(imei, 'Value', '==', JSON.stringify(holder)).then(this.ns.delete().key(imei)).commit();
  }

  async lookup(imei: string): Promise<SessionHolder | undefined> {
    const raw = await this.ns.get(imei).string();
    return raw === null ? undefined : (JSON.parse(raw) as SessionHolder);
  }

  /** Revokes the lease: every entry of this node disappears at once (graceful shutdown). */
  async close(): Promise<void> {
    this.closed = true;
    await this.lease.revoke().catch(() => undefined);
  }

  /** Stops renewing without revoking: what a crashed node looks like to the others. */
  abandon(): void {
    this.closed = true;
    this.lease.release();
  }
}
