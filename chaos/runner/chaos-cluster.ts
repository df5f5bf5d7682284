/**
 * A cluster under chaos: a fresh etcd, a Toxiproxy (ours in-process, or a real one named by
 * TOXIPROXY_URL), a proxy on every node-to-node and node-to-etcd link, and node processes
 * (`meterfabric node`, from dist/) wired to their proxies. Processes are ours: stop() kills
 * every one by PID, paused ones included; etcd and the nodes are tied to this process
 * (core/process/tied-spawn.ts), so a killed run does not leave them running.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { join } from 'node:path';
import type { Etcd3 } from 'etcd3';
import { Toxiproxy } from 'toxiproxy-node-client';
import { ActorProxy } from '../../cluster/actors/actor-proxy.js';
import { collectStatus } from '../../cluster/cli/status-command.js';
import type { StatusReport } from '../../cluster/cli/status-report.js';
import {
  defaultManifestPaths,
  loadManifests,
  partitionIds,
  type ServiceSpec,
} from '../../cluster/config/manifest.js';
import { type EtcdHandle, startEtcdOnFreePorts } from '../../cluster/etcd/launcher.js';
import { ConfigStore } from '../../cluster/failover/config-store.js';
import { createEtcdClient } from '../../cluster/membership/etcd-client.js';
import { nodeTieUsable } from '../../cluster/node/node-launcher.js';
import { awaitNodeReport } from '../../cluster/node/ready-report.js';
import type { RoleChange } from '../../cluster/node/role-log.js';
import { MeterfabricError } from '../../core/errors.js';
import { makeDirectorySync } from '../../core/fs/make-directory.js';
import { packageRoot } from '../../core/paths.js';
import { tiedSpawnPlan } from '../../core/process/tied-spawn.js';
import { readJsonLines } from '../checkers/history-file.js';
import type { ProcessControl } from '../nemesis/nemeses.js';
import { NetnsLab, netnsSupport, nextLabTag } from '../nemesis/netns.js';
import { NetnsNetwork, type NetworkFaults, ProxyNetwork } from '../nemesis/network.js';
import { freeLoopbackPorts } from '../nemesis/ports.js';
import { ChaosTopology } from '../nemesis/topology.js';
import { startToxiproxyServer, type ToxiproxyServer } from '../toxiproxy/server.js';
import { type AbsentNode, startAbsentNode } from './absent-node.js';
import { startToxiproxyProcess, type ToxiproxyProcess } from './toxiproxy-process.js';

export const clusterName = 'meterfabric';

export type ChaosClusterOptions = {
  baseDir: string;
  nodeCount?: number;
  leaseTtlMs?: number;
  /** MF_FAULT_INJECT for every node (test-only injected bugs). */
  faultInject?: string;
  /** How long a node may take to print its ready line. */
  nodeStartTimeoutMs?: number;
  /**
   * `proxies` (default): a Toxiproxy proxy on every link, every fault available.
   * `netns`: nodes in network namespaces cut by iptables (needs root, Linux, ip, iptables).
   */
  network?: 'proxies' | 'netns';
  /**
   * Where our Toxiproxy runs: its own process (default, like a real Toxiproxy) or inside this
   * process (tests that inspect its connections). TOXIPROXY_URL overrides both.
   */
  toxiproxyIn?: 'process' | 'this-process';
  /** Service manifests the nodes load (MF_MANIFESTS); default: the default manifest paths. */
  manifests?: string[];
};

type ChaosNode = {
  id: string;
  host: string;
  /** The port the node reported it bound (it binds port 0); 0 before its first start. */
  port: number;
  dataDir: string;
  logPath: string;
  proc: ChildProcess | null;
  paused: boolean;
};

export class ChaosCluster implements ProcessControl {
  readonly nodes = new Map<string, ChaosNode>();
  readonly services: ServiceSpec[];
  readonly partitionCount: number;
  private readonly proxies: ActorProxy[] = [];
  readonly etcdClient: Etcd3;
  readonly network: NetworkFaults;
  private stopping = false;

  private constructor(
    readonly options: Required<Omit<ChaosClusterOptions, 'faultInject' | 'manifests'>> & {
      faultInject: string | undefined;
      manifests: string[] | undefined;
    },
    readonly etcd: EtcdHandle,
    private readonly links:
      | {
          kind: 'proxies';
          toxiproxy: Toxiproxy;
          own: ToxiproxyServer | ToxiproxyProcess | undefined;
          topology: ChaosTopology;
          absent: AbsentNode;
        }
      | { kind: 'netns'; lab: NetnsLab; etcdPort: number },
  ) {
    this.services = loadManifests(options.manifests ?? defaultManifestPaths());
    this.partitionCount = this.services.reduce((sum, s) => sum + partitionIds(s).length, 0);
    this.etcdClient = createEtcdClient([etcd.endpoint]);
    this.network =
      links.kind === 'proxies'
        ? new ProxyNetwork(links.toxiproxy, links.topology.links())
        : new NetnsNetwork(links.lab, links.etcdPort);
  }

  /** The Toxiproxy of the proxy network (undefined with network namespaces). */
  get toxiproxy(): Toxiproxy | undefined {
    return this.links.kind === 'proxies' ? this.links.toxiproxy : undefined;
  }

  get nodeIds(): string[] {
    return [...this.nodes.keys()];
  }

  static async start(input: ChaosClusterOptions): Promise<ChaosCluster> {
    const options = {
      nodeCount: 3,
      leaseTtlMs: 3000,
      nodeStartTimeoutMs: 30_000,
      network: 'proxies' as const,
      toxiproxyIn: 'process' as const,
      ...input,
      faultInject: input.faultInject,
      manifests: input.manifests,
    };
    if (!existsSync(join(packageRoot, 'dist', 'cluster', 'cli', 'main.js'))) {
      throw new MeterfabricError(
        'MF_CHAOS_NOT_BUILT',
        'dist/ is missing: run `npm run build` before a chaos run',
      );
    }
    makeDirectorySync(options.baseDir);
    const ids = Array.from({ length: options.nodeCount }, (_, i) => `n${i + 1}`);
    let lab: NetnsLab | undefined;
    if (options.network === 'netns') {
      const support = netnsSupport();
      if (!support.supported)
        throw new MeterfabricError('MF_CHAOS_NETNS', `network namespaces unavailable: ${support.reason}`);
      lab = NetnsLab.create(nextLabTag(), ids);
    }
    let etcd: EtcdHandle | undefined;
    let ownToxiproxy: ToxiproxyServer | ToxiproxyProcess | undefined;
    let absent: AbsentNode | undefined;
    try {
      // Nodes bind port 0 and report their port; etcd cannot, so its ports are picked (again,
      // should another process take one first).
      const started = await startEtcdOnFreePorts({
        dataDir: join(options.baseDir, 'etcd'),
        freePorts: freeLoopbackPorts,
        ...(lab ? { host: lab.hostAddress } : {}),
      });
      etcd = started;
      let cluster: ChaosCluster;
      if (lab) {
        cluster = new ChaosCluster(options, etcd, { kind: 'netns', lab, etcdPort: started.clientPort });
      } else {
        const url = process.env.TOXIPROXY_URL;
        if (!url) {
          ownToxiproxy =
            options.toxiproxyIn === 'this-process'
              ? await startToxiproxyServer({ host: '127.0.0.1', port: 0 })
              : await startToxiproxyProcess();
        }
        const toxiproxy = new Toxiproxy(url ?? (ownToxiproxy as ToxiproxyServer | ToxiproxyProcess).url);
        // Until a node reports its port, the links into it lead to the absent-node stand-in.
        absent = await startAbsentNode();
        const plan = ids.map((id) => ({ id, address: (absent as AbsentNode).address }));
        const topology = await ChaosTopology.create(toxiproxy, { nodes: plan, etcdEndpoint: etcd.endpoint });
        cluster = new ChaosCluster(options, etcd, {
          kind: 'proxies',
          toxiproxy,
          own: ownToxiproxy,
          topology,
          absent,
        });
      }
      for (const id of ids) {
        cluster.nodes.set(id, {
          id,
          host: lab ? lab.node(id).address : '127.0.0.1',
          port: 0,
          dataDir: join(options.baseDir, id),
          logPath: join(options.baseDir, `${id}.log`),
          proc: null,
          paused: false,
        });
      }
      try {
        await Promise.all(ids.map((id) => cluster.restart(id)));
      } catch (err) {
        await cluster.stop();
        throw err;
      }
      return cluster;
    } catch (err) {
      await ownToxiproxy?.close();
      await absent?.close();
      await etcd?.stop();
      lab?.destroy();
      throw err;
    }
  }

  private node(id: string): ChaosNode {
    const node = this.nodes.get(id);
    if (!node) throw new Error(`unknown node ${id}`);
    return node;
  }

  /**
   * Starts the node (again) on its data, wired to its proxies; resolves when ready. The node
   * binds port 0 and reports the port it got: once it is listening, the links into it are
   * pointed there (ChaosTopology.routeTo), before it joins the cluster.
   */
  async restart(id: string): Promise<void> {
    const node = this.node(id);
    if (node.proc) return;
    makeDirectorySync(node.dataDir);
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      MF_LOG_LEVEL: process.env.MF_CHAOS_NODE_LOG_LEVEL ?? 'info',
      MF_LEASE_TTL_MS: String(this.options.leaseTtlMs),
    };
    let etcdEndpoint = this.etcd.endpoint;
    if (this.links.kind === 'proxies') {
      // A node that exited on its own left its links on its old port: park them first.
      await this.links.topology.routeTo(id, this.links.absent.address);
      const links = this.links.topology.nodeConfig(id);
      env.MF_PEER_ADDRESS_OVERRIDES = JSON.stringify(links.peerAddressOverrides);
      etcdEndpoint = links.etcd;
    } else delete env.MF_PEER_ADDRESS_OVERRIDES;
    if (this.options.manifests) env.MF_MANIFESTS = this.options.manifests.join(',');
    else delete env.MF_MANIFESTS;
    if (this.options.faultInject) env.MF_FAULT_INJECT = this.options.faultInject;
    else delete env.MF_FAULT_INJECT;
    const args = [
      join(packageRoot, 'bin', 'meterfabric.js'),
      'node',
      '--id',
      id,
      '--listen',
      `${node.host}:0`,
    ];
    args.push('--data', node.dataDir, '--etcd', etcdEndpoint);
    const log = openSync(node.logPath, 'a');
    // `ip netns exec` execs the node in place, so the PID we signal is the node's own.
    const [command, commandArgs] =
      this.links.kind === 'netns'
        ? ['ip', ['netns', 'exec', this.links.lab.node(id).namespace, process.execPath, ...args]]
        : [process.execPath, args];
    // Tied to this process, as `up` ties its nodes: a chaos run that crashes or is killed must
    // not leave nodes holding ports and etcd leases (etcd is tied already). setpriv and sh exec
    // too: the PID stays the node's own. Without setpriv: untied, one MF_NODES_UNTIED warning.
    const plan = tiedSpawnPlan(command, commandArgs, {
      setprivUsable: nodeTieUsable(),
      parentPid: process.pid,
      ownProcessGroup: false,
    });
    const proc = spawn(plan.command, plan.args, {
      stdio: ['ignore', log, log],
      env,
      detached: plan.detached,
    });
    closeSync(log);
    node.proc = proc;
    node.paused = false;
    proc.once('exit', () => {
      if (node.proc === proc) node.proc = null;
    });
    const started = Date.now();
    const report = (event: 'listening' | 'ready') =>
      awaitNodeReport({
        nodeId: id,
        logPath: node.logPath,
        event,
        pid: proc.pid,
        exited: () => node.proc !== proc,
        timeoutMs: Math.max(0, this.options.nodeStartTimeoutMs - (Date.now() - started)),
        errorCode: 'MF_CHAOS_NODE_START',
      });
    const listening = await report('listening');
    node.port = Number(listening.address.slice(listening.address.lastIndexOf(':') + 1));
    if (this.links.kind === 'proxies') await this.links.topology.routeTo(id, listening.address);
    await report('ready');
  }

  /** After a node's exit: its links lead to the stand-in, not to a port anyone may now take. */
  private async park(id: string): Promise<void> {
    if (this.links.kind === 'proxies' && !this.stopping)
      await this.links.topology.routeTo(id, this.links.absent.address);
  }

  async kill(id: string): Promise<void> {
    const node = this.node(id);
    const proc = node.proc;
    if (!proc) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    if (node.paused) proc.kill('SIGCONT');
    proc.kill('SIGKILL');
    await exited;
    await this.park(id);
  }

  async terminate(id: string, graceMs = 30_000): Promise<void> {
    const node = this.node(id);
    const proc = node.proc;
    if (!proc) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    if (node.paused) proc.kill('SIGCONT');
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
    await this.park(id);
  }

  pause(id: string): void {
    const node = this.node(id);
    if (!node.proc || node.paused) return;
    node.proc.kill('SIGSTOP');
    node.paused = true;
  }

  resume(id: string): void {
    const node = this.node(id);
    if (!node.proc || !node.paused) return;
    node.proc.kill('SIGCONT');
    node.paused = false;
  }

  async busiestPrimary(): Promise<string | undefined> {
    const counts = await this.primaryCounts();
    return [...counts.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
  }

  /** Partitions each node is configured primary of, from etcd. */
  async primaryCounts(): Promise<Map<string, number>> {
    const configs = await new ConfigStore(this.etcdClient, clusterName).readAll();
    const counts = new Map<string, number>();
    for (const { config } of configs.values()) {
      if (config.primary) counts.set(config.primary, (counts.get(config.primary) ?? 0) + 1);
    }
    return counts;
  }

  /** What `meterfabric status --json` prints (read straight from etcd, not through a proxy). */
  status(timeoutMs = 2000): Promise<StatusReport> {
    return collectStatus([this.etcd.endpoint], clusterName, timeoutMs);
  }

  /** A client that routes actor calls to primaries directly (clients are outside the faults). */
  async actorProxy(attemptTimeoutMs = 2000, waitOutQuorumLoss = false): Promise<ActorProxy> {
    const proxy = new ActorProxy({
      client: this.etcdClient,
      cluster: clusterName,
      services: this.services,
      attemptTimeoutMs,
      defaultDeadlineMs: 10_000,
      waitOutQuorumLoss,
    });
    await proxy.start();
    this.proxies.push(proxy);
    return proxy;
  }

  /**
   * Open connections per link proxy, when the Toxiproxy is ours (undefined for a real one):
   * evidence that node traffic really flows through the per-link proxies.
   */
  linkConnectionCounts(): Map<string, number> | undefined {
    if (this.links.kind !== 'proxies' || !this.links.own || !('collection' in this.links.own))
      return undefined;
    return new Map(this.links.own.collection.all().map((proxy) => [proxy.name, proxy.connectionCount()]));
  }

  /** Every node's recorded role changes (`<dataDir>/roles.jsonl`). */
  roleHistory(): RoleChange[] {
    const history: RoleChange[] = [];
    for (const node of this.nodes.values()) {
      const path = join(node.dataDir, 'roles.jsonl');
      if (existsSync(path)) history.push(...readJsonLines<RoleChange>(path));
    }
    return history;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    for (const proxy of this.proxies.splice(0)) await proxy.close().catch(() => undefined);
    await Promise.all(this.nodeIds.map((id) => this.kill(id)));
    this.etcdClient.close();
    if (this.links.kind === 'proxies') {
      if (this.links.own) await this.links.own.close();
      else await this.links.topology.remove().catch(() => undefined);
      await this.links.absent.close();
    }
    await this.etcd.stop();
    if (this.links.kind === 'netns') this.links.lab.destroy();
  }
}
