/**
 * Link faults behind one interface, so the same nemeses run over the per-link proxies
 * (userspace: every fault) or over network namespaces + iptables (kernel: cuts only; netem is
 * absent on these kernels, so latency, bandwidth and RST need the proxies).
 */
import type { Toxiproxy } from 'toxiproxy-node-client';
import { bandwidth, blackhole, cut, healAll, latency, removeBlackhole, resetStorm } from './link-faults.js';
import type { NetnsLab } from './netns.js';
import { etcdLinkTarget, type Link } from './topology.js';

export interface NetworkFaults {
  readonly kind: 'proxies' | 'netns';
  /** Cuts `node` from every other node and from etcd, both ways. */
  isolate(node: string, peers: readonly string[]): Promise<void>;
  /** Cuts `node` from etcd only. */
  cutFromEtcd(node: string): Promise<void>;
  /** `from` can no longer reach `to`; `to` still reaches `from`. */
  cutOneWay(from: string, to: string): Promise<void>;
  /** Undefined where the backend cannot shape traffic. */
  latency?(latencyMs: number, jitterMs: number): Promise<void>;
  bandwidth?(rateKBps: number): Promise<void>;
  resetStorm?(toxicity: number): Promise<void>;
  /** Removes the faults of the one link `from` → `to` (its hung connections close), others stay. */
  healLink?(from: string, to: string): Promise<void>;
  heal(): Promise<void>;
}

export class ProxyNetwork implements NetworkFaults {
  readonly kind = 'proxies';

  constructor(
    private readonly client: Toxiproxy,
    private readonly links: readonly Link[],
  ) {}

  async isolate(node: string, peers: readonly string[]): Promise<void> {
    for (const other of peers) if (other !== node) await cut(this.client, node, other);
    await blackhole(this.client, { from: node, to: etcdLinkTarget });
  }

  cutFromEtcd(node: string): Promise<void> {
    return blackhole(this.client, { from: node, to: etcdLinkTarget });
  }

  cutOneWay(from: string, to: string): Promise<void> {
    return blackhole(this.client, { from, to }, 'one-way');
  }

  async latency(latencyMs: number, jitterMs: number): Promise<void> {
    for (const link of this.links) await latency(this.client, link, latencyMs, jitterMs);
  }

  async bandwidth(rateKBps: number): Promise<void> {
    for (const link of this.links) await bandwidth(this.client, link, rateKBps);
  }

  async resetStorm(toxicity: number): Promise<void> {
    for (const link of this.links.filter((l) => l.to !== etcdLinkTarget))
      await resetStorm(this.client, link, toxicity);
  }

  healLink(from: string, to: string): Promise<void> {
    return removeBlackhole(this.client, { from, to });
  }

  heal(): Promise<void> {
    return healAll(this.client);
  }
}

/** Kernel partitions: nodes in namespaces, etcd reached at `etcdPort` on the host leg. */
export class NetnsNetwork implements NetworkFaults {
  readonly kind = 'netns';

  constructor(
    private readonly lab: NetnsLab,
    private readonly etcdPort: number,
  ) {}

  async isolate(node: string, peers: readonly string[]): Promise<void> {
    for (const other of peers) if (other !== node) this.lab.cut(node, other);
    this.lab.cutPort(node, this.lab.hostAddress, this.etcdPort);
  }

  async cutFromEtcd(node: string): Promise<void> {
    this.lab.cutPort(node, this.lab.hostAddress, this.etcdPort);
  }

  async cutOneWay(from: string, to: string): Promise<void> {
    this.lab.cutOneWay(from, to);
  }

  async heal(): Promise<void> {
    this.lab.heal();
  }
}
