import type { Etcd3, Watcher } from 'etcd3';
import type { Logger } from '../../core/logger.js';
import { keys } from '../membership/etcd-client.js';

/**
 * The failover manager's election: whoever creates `/<cluster>/fm` under its own membership
 * lease leads. The key's create revision is the FM's fencing token: every configuration
 * write compares it, so a deposed FM (lease expired, key gone or recreated by a successor)
 * cannot overwrite anything. Written on our own lease rather than etcd3's Election so the
 * node's self-fencing covers the FM role too.
 */
export type Leadership = { token: string };

export class FmElection {
  private watcher: Watcher | null = null;
  private stopped = false;
  private leadership: Leadership | null = null;

  constructor(
    private readonly client: Etcd3,
    private readonly cluster: string,
    private readonly nodeId: string,
    private readonly leaseId: () => Promise<string>,
    private readonly logger: Logger,
    private readonly onElected: (leadership: Leadership) => void,
    private readonly onDeposed: () => void,
  ) {}

  get current(): Leadership | null {
    return this.leadership;
  }

  async start(): Promise<void> {
    const key = keys.fm(this.cluster);
    this.watcher = await this.client.watch().key(key).create();
    this.watcher.on('delete', () => {
      if (this.leadership) this.depose('fm key deleted (lease expired or revoked)');
      void this.campaign();
    });
    this.watcher.on('put', (kv) => {
      if (this.leadership && kv.create_revision !== this.leadership.token)
        this.depose('another fm took over');
    });
    this.watcher.on('connected', () => void this.campaign());
    await this.campaign();
  }

  /** One attempt: create the key if absent. Losing is normal; the watcher retries on delete. */
  async campaign(): Promise<void> {
    if (this.stopped || this.leadership) return;
    const key = keys.fm(this.cluster);
    try {
      const leaseId = await this.leaseId();
      const result = await this.client
        .if(key, 'Create', '==', 0)
        .then(this.client.put(key).value(this.nodeId).lease(leaseId))
        .else(this.client.get(key))
        .commit();
      if (result.succeeded) {
        const revision = result.header.revision;
        if (this.stopped) return;
        this.leadership = { token: revision };
        this.logger.info({ token: revision }, 'elected failover manager');
        this.onElected(this.leadership);
      } else {
        // The holder may be ourselves from before a re-registration (same node id, old lease):
        // that key dies with the old lease and the watcher retries then.
      }
    } catch (err) {
      this.logger.warn({ err: String(err) }, 'fm campaign failed; retrying');
      setTimeout(() => void this.campaign(), 500).unref();
    }
  }

  private depose(reason: string): void {
    this.logger.warn({ reason }, 'no longer failover manager');
    this.leadership = null;
    this.onDeposed();
  }

  /** Gives leadership up at once (drain): the next node is elected in milliseconds. */
  async resign(): Promise<void> {
    this.stopped = true;
    const held = this.leadership;
    if (held) {
      this.depose('resigned');
      await this.client
        .if(keys.fm(this.cluster), 'Create', '==', held.token)
        .then(this.client.delete().key(keys.fm(this.cluster)))
        .commit()
        .catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    this.stopped = true;
    await this.watcher?.cancel().catch(() => undefined);
    if (this.leadership) this.depose('closing');
  }
}
