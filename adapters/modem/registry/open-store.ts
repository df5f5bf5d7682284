import { Etcd3 } from 'etcd3';
import { MeterfabricError } from '../../../core/errors.js';
import { EtcdModemStore } from './etcd-store.js';
import { LevelModemStore } from './level-store.js';
import type { ModemRegistryStore } from './store.js';

export type StoreLocation = { data: string } | { etcd: string; cluster: string };

/** Opens the registry named by CLI flags: a classic-level directory or an etcd cluster prefix. */
export async function openModemStore(location: StoreLocation): Promise<ModemRegistryStore> {
  if ('etcd' in location) {
    const client = new Etcd3({
      hosts: location.etcd.split(',').map((h) => (h.includes('://') ? h : `http://${h}`)),
    });
    const store = new EtcdModemStore(client, location.cluster);
    const close = store.close.bind(store);
    store.close = async () => {
      await close();
      client.close();
    };
    return store;
  }
  try {
    return await LevelModemStore.open(location.data);
  } catch (err) {
    throw new MeterfabricError(
      'MF_STORE_UNAVAILABLE',
      `cannot open the modem registry in ${location.data}: ${(err as Error).message}. A running collector holds it locked; stop it or use --etcd`,
      {},
      { cause: err },
    );
  }
}
