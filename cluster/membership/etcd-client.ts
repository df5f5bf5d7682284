import { Etcd3 } from 'etcd3';

/**
 * An etcd client for the cluster. Endpoints are host:port (a chaos proxy in front of etcd is
 * fine). The dial timeout is short so a node notices an unreachable etcd within its lease.
 */
export function createEtcdClient(endpoints: readonly string[], dialTimeoutMs = 2000): Etcd3 {
  return new Etcd3({
    hosts: endpoints.map((e) => (e.startsWith('http') ? e : `http://${e}`)),
    dialTimeout: dialTimeoutMs,
  });
}

/** Key layout under one cluster's prefix. */
export const keys = {
  nodes: (cluster: string) => `/${cluster}/nodes/`,
  node: (cluster: string, id: string) => `/${cluster}/nodes/${id}`,
  fm: (cluster: string) => `/${cluster}/fm`,
  partitions: (cluster: string) => `/${cluster}/partitions/`,
  partition: (cluster: string, partition: string) => `/${cluster}/partitions/${partition}`,
};
