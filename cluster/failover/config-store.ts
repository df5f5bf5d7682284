import type { Etcd3, IKeyValue, Watcher } from 'etcd3';
import { MeterfabricError } from '../../core/errors.js';
import { keys } from '../membership/etcd-client.js';
import { assertWellFormed } from '../placement/placement.js';
import type { PartitionConfiguration, PartitionId } from '../replicator/contract.js';

/** A configuration with the etcd revision it was read at (the compare-and-swap token). */
export type VersionedConfiguration = { config: PartitionConfiguration; modRevision: string };

/** Bound on one configuration record: anything larger is not one we wrote. */
const maxConfigBytes = 64 * 1024;

export function decodeConfiguration(kv: IKeyValue): VersionedConfiguration | null {
  if (kv.value.length > maxConfigBytes) return null;
  try {
    const config = JSON.parse(kv.value.toString()) as PartitionConfiguration;
    if (typeof config.partition !== 'string' || typeof config.epoch !== 'number') return null;
    return { config, modRevision: kv.mod_revision };
  } catch {
    return null;
  }
}

/**
 * Partition configurations in etcd. Reads are for everyone; writes only for the failover
 * manager and only as transactions comparing (a) the FM key's create revision (the FM's
 * fencing token) and (b) the configuration's mod revision as read, so concurrent or deposed
 * writers fail instead of overwriting a newer configuration.
 */
export class ConfigStore {
  constructor(
    private readonly client: Etcd3,
    private readonly cluster: string,
  ) {}

  async readAll(): Promise<Map<PartitionId, VersionedConfiguration>> {
    const response = await this.client.getAll().prefix(keys.partitions(this.cluster)).exec();
    const result = new Map<PartitionId, VersionedConfiguration>();
    for (const kv of response.kvs) {
      const versioned = decodeConfiguration(kv);
      if (versioned) result.set(versioned.config.partition, versioned);
    }
    return result;
  }

  /**
   * Writes `next` if the stored configuration still has `previousModRevision` ('0' = absent)
   * and `fmToken` still leads. Returns the new mod revision; throws MF_CONFIG_CONFLICT if not.
   */
  async write(next: PartitionConfiguration, previousModRevision: string, fmToken: string): Promise<string> {
    assertWellFormed(next);
    const key = keys.partition(this.cluster, next.partition);
    const fmKey = keys.fm(this.cluster);
    const compare =
      previousModRevision === '0'
        ? this.client.if(fmKey, 'Create', '==', fmToken).and(key, 'Create', '==', 0)
        : this.client.if(fmKey, 'Create', '==', fmToken).and(key, 'Mod', '==', previousModRevision);
    const result = await compare.then(this.client.put(key).value(JSON.stringify(next))).commit();
    if (!result.succeeded) {
      throw new MeterfabricError(
        'MF_CONFIG_CONFLICT',
        `configuration of ${next.partition} changed since it was read, or this node no longer leads the failover manager`,
        { partition: next.partition },
      );
    }
    return result.header.revision;
  }

  /** Watches every configuration; `onChange` gets each new version (and a full reload on reconnect). */
  async watch(onChange: (versioned: VersionedConfiguration) => void, onReload: () => void): Promise<Watcher> {
    const watcher = await this.client.watch().prefix(keys.partitions(this.cluster)).create();
    watcher.on('put', (kv) => {
      const versioned = decodeConfiguration(kv);
      if (versioned) onChange(versioned);
    });
    watcher.on('connected', onReload);
    return watcher;
  }
}
