/**
 * The chaos topology: a Toxiproxy proxy on every directed node-to-node link (`n1>n2` carries
 * n1's calls to n2) and on every node-to-etcd link (`n1>etcd`), so a fault can cut one node
 * from another, from etcd, or both, one way or both ways. Nodes are pointed at their proxies
 * through their configuration (`--etcd` and MF_PEER_ADDRESS_OVERRIDES).
 */
import type { Toxiproxy } from 'toxiproxy-node-client';

export const etcdLinkTarget = 'etcd';

export type Link = { from: string; to: string };

export function linkName({ from, to }: Link): string {
  return `${from}>${to}`;
}

export type TopologyPlan = {
  /** Each node's upstream address for now (routeTo changes it once the node reports its port). */
  nodes: ReadonlyArray<{ id: string; address: string }>;
  etcdEndpoint: string;
};

export type NodeLinkConfig = {
  /** The etcd endpoint this node must use (its own proxy). */
  etcd: string;
  /** MF_PEER_ADDRESS_OVERRIDES for this node. */
  peerAddressOverrides: Record<string, string>;
};

/** Pure: every link of the plan, node-to-node in both directions and node-to-etcd. */
export function allLinks(nodeIds: readonly string[]): Link[] {
  const links: Link[] = [];
  for (const from of nodeIds) {
    for (const to of nodeIds) if (from !== to) links.push({ from, to });
    links.push({ from, to: etcdLinkTarget });
  }
  return links;
}

export class ChaosTopology {
  private constructor(
    readonly client: Toxiproxy,
    readonly nodeIds: readonly string[],
    private readonly listenByLink: ReadonlyMap<string, string>,
    private readonly upstreamOf: Map<string, string>,
  ) {}

  /** Creates (or replaces) one proxy per link through /populate. */
  static async create(client: Toxiproxy, plan: TopologyPlan): Promise<ChaosTopology> {
    const addressOf = new Map(plan.nodes.map((n) => [n.id, n.address]));
    addressOf.set(etcdLinkTarget, plan.etcdEndpoint);
    const links = allLinks(plan.nodes.map((n) => n.id));
    const proxies = await client.populate(
      links.map((link) => ({
        name: linkName(link),
        listen: '127.0.0.1:0',
        upstream: addressOf.get(link.to) as string,
        enabled: true,
      })),
    );
    const listenByLink = new Map(Object.values(proxies).map((p) => [p.name, p.listen]));
    return new ChaosTopology(
      client,
      plan.nodes.map((n) => n.id),
      listenByLink,
      new Map(plan.nodes.map((n) => [n.id, n.address])),
    );
  }

  /**
   * Points every link into `nodeId` at `address` (a node learns its port only once it has
   * bound it). Each proxy keeps its toxics and its enabled state; Toxiproxy restarts a proxy
   * whose upstream changes, which closes the connections it carried (to the node's old self).
   */
  async routeTo(nodeId: string, address: string): Promise<void> {
    if (this.upstreamOf.get(nodeId) === address) return;
    for (const link of this.links()) {
      if (link.to !== nodeId) continue;
      const proxy = await this.client.get(linkName(link));
      await proxy.update({ listen: proxy.listen, upstream: address, enabled: proxy.enabled });
    }
    this.upstreamOf.set(nodeId, address);
  }

  linkAddress(link: Link): string {
    const address = this.listenByLink.get(linkName(link));
    if (!address) throw new Error(`no proxy for link ${linkName(link)}`);
    return address;
  }

  nodeConfig(nodeId: string): NodeLinkConfig {
    const peerAddressOverrides: Record<string, string> = {};
    for (const other of this.nodeIds) {
      if (other !== nodeId) peerAddressOverrides[other] = this.linkAddress({ from: nodeId, to: other });
    }
    return { etcd: this.linkAddress({ from: nodeId, to: etcdLinkTarget }), peerAddressOverrides };
  }

  links(): Link[] {
    return allLinks(this.nodeIds);
  }

  /** Deletes this topology's proxies (on a shared, real Toxiproxy). */
  async remove(): Promise<void> {
    for (const link of this.links()) {
      const proxy = await this.client.get(linkName(link)).catch(() => undefined);
      await proxy?.remove();
    }
  }
}
