import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Etcd3 } from 'etcd3';
import { ActorProxy } from '../../../cluster/actors/actor-proxy.js';
import {
  defaultManifestPaths,
  loadManifests,
  partitionIds,
  type ServiceSpec,
} from '../../../cluster/config/manifest.js';
import { ConfigStore } from '../../../cluster/failover/config-store.js';
import { createEtcdClient } from '../../../cluster/membership/etcd-client.js';
import { launchNode } from '../../../cluster/node/node-launcher.js';
import type { RoleChange } from '../../../cluster/node/role-log.js';
import type { PartitionConfiguration } from '../../../cluster/replicator/contract.js';
import { startTestEtcd, type TestEtcd } from '../../support/etcd.js';
import { waitFor } from '../../support/wait.js';

/**
 * A real cluster for integration tests: a fresh etcd and node processes started with
 * `node bin/meterfabric.js node` (run `npx tsc -p tsconfig.build.json` first), each on a
 * loopback port it binds itself (port 0, reported back), logs and data in a temp dir. stop() kills everything by PID.
 * etcd and the nodes are tied to the process that started them (core/process/tied-spawn.ts):
 * if it dies without stop() (a crashed vitest worker), they get SIGTERM instead of holding
 * ports and etcd leases. This module does not import vitest, so a plain process can start a
 * cluster with it (test/cluster/test-cluster-tie.int.test.ts); per-file hooks:
 * stable-cluster-per-file.ts.
 */
export type TestNode = {
  id: string;
  port: number;
  dataDir: string;
  logPath: string;
  proc: ChildProcess | null;
};

export const services = loadManifests(defaultManifestPaths());
export const allPartitions = services.flatMap((s) => partitionIds(s));

export type TestClusterOptions = {
  nodes?: number;
  leaseTtlMs?: number;
  env?: Record<string, string>;
  /** Service manifests the nodes load (MF_MANIFESTS) and waitStable/proxy use; default: the runtime's. */
  manifests?: string[];
};

export class TestCluster {
  readonly nodes = new Map<string, TestNode>();
  readonly client: Etcd3;
  readonly services: ServiceSpec[];
  readonly partitions: string[];
  private readonly proxies: ActorProxy[] = [];

  private constructor(
    readonly etcd: TestEtcd,
    readonly baseDir: string,
    readonly leaseTtlMs: number,
    readonly extraEnv: Record<string, string>,
    manifests: string[] | undefined,
  ) {
    this.client = createEtcdClient([etcd.endpoint]);
    this.services = manifests ? loadManifests(manifests) : services;
    this.partitions = this.services.flatMap((s) => partitionIds(s));
  }

  static async start(options: TestClusterOptions = {}): Promise<TestCluster> {
    const etcd = await startTestEtcd();
    const baseDir = mkdtempSync(join(tmpdir(), 'mf-cluster-'));
    const env = {
      ...(options.env ?? {}),
      ...(options.manifests ? { MF_MANIFESTS: options.manifests.join(',') } : {}),
    };
    const cluster = new TestCluster(etcd, baseDir, options.leaseTtlMs ?? 3000, env, options.manifests);
    const count = options.nodes ?? 3;
    try {
      await Promise.all(Array.from({ length: count }, (_, i) => cluster.startNode(`n${i + 1}`)));
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  /**
   * Starts (or restarts, on the same data) a node; resolves when it is a member. Without
   * `port` the node binds port 0 and reports the port it got (ready-report.ts), so no other
   * process can take the port between our choice and its bind; a restarted node may come back
   * on another port (members advertise their address; read it from `nodes.get(id).port`).
   */
  async startNode(id: string, port = 0, env: Record<string, string> = {}): Promise<TestNode> {
    const node: TestNode = {
      id,
      port,
      dataDir: join(this.baseDir, id),
      logPath: join(this.baseDir, `${id}.log`),
      proc: null,
    };
    this.nodes.set(id, node);
    // launchNode's error carries the log's tail: the test's temp dir (and this log) is gone on failure.
    const launched = await launchNode({
      id,
      listen: `127.0.0.1:${port}`,
      dataDir: node.dataDir,
      // A test may route one node to etcd through its own link (support/tcp-link.ts).
      etcd: env.MF_ETCD ?? this.etcd.endpoint,
      logPath: node.logPath,
      env: { MF_LOG_LEVEL: 'info', MF_LEASE_TTL_MS: String(this.leaseTtlMs), ...this.extraEnv, ...env },
      startTimeoutMs: 30_000,
      // A crashed test process must not leave nodes holding ports and etcd leases.
      tiedToLauncher: true,
      // Ours from the spawn on, so stop() kills a node that is still starting.
      onSpawn: (child) => {
        node.proc = child;
        child.once('exit', () => {
          if (node.proc === child) node.proc = null;
        });
      },
    });
    node.port = portOf(launched.address);
    return node;
  }

  pid(id: string): number {
    const pid = this.nodes.get(id)?.proc?.pid;
    if (!pid) throw new Error(`node ${id} is not running`);
    return pid;
  }

  /** Sends a signal; for SIGKILL/SIGTERM resolves once the process has exited. */
  async signal(id: string, signal: NodeJS.Signals): Promise<number | null> {
    const proc = this.nodes.get(id)?.proc;
    if (!proc) throw new Error(`node ${id} is not running`);
    if (signal === 'SIGSTOP' || signal === 'SIGCONT') {
      proc.kill(signal);
      return null;
    }
    const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
    proc.kill(signal);
    return exited;
  }

  async configs(): Promise<Map<string, PartitionConfiguration>> {
    const all = await new ConfigStore(this.client, 'meterfabric').readAll();
    return new Map([...all].map(([p, v]) => [p, v.config]));
  }

  /** Every partition placed, status ok, `replicas` replicas on distinct nodes, none building. */
  async waitStable(replicas = 3, timeoutMs = 90_000): Promise<Map<string, PartitionConfiguration>> {
    return waitFor(
      async () => {
        const configs = await this.configs();
        if (configs.size !== this.partitions.length) return null;
        for (const c of configs.values()) {
          if (c.status !== 'ok' || c.building.length > 0 || c.replicas.length !== replicas || !c.primary)
            return null;
        }
        return configs;
      },
      `every partition to have ${replicas} active replicas`,
      timeoutMs,
      250,
    );
  }

  /** An ActorProxy over this cluster's services, closed by stop(). */
  async proxy(
    options: { token?: string; defaultDeadlineMs?: number; waitOutQuorumLoss?: boolean } = {},
  ): Promise<ActorProxy> {
    const proxy = new ActorProxy({
      client: this.client,
      cluster: 'meterfabric',
      services: this.services,
      defaultDeadlineMs: 60_000,
      ...options,
    });
    await proxy.start();
    this.proxies.push(proxy);
    return proxy;
  }

  roleHistory(): RoleChange[] {
    const history: RoleChange[] = [];
    for (const node of this.nodes.values()) {
      let text = '';
      try {
        text = readFileSync(join(node.dataDir, 'roles.jsonl'), 'utf8');
      } catch {
        continue;
      }
      for (const line of text.split('\n')) if (line.trim()) history.push(JSON.parse(line) as RoleChange);
    }
    return history;
  }

  log(id: string): string {
    return readFileSync(this.nodes.get(id)!.logPath, 'utf8');
  }

  async stop(): Promise<void> {
    for (const p of this.proxies) await p.close().catch(() => undefined);
    for (const node of this.nodes.values()) {
      const proc = node.proc;
      if (!proc) continue;
      try {
        proc.kill('SIGCONT');
        proc.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
    await Promise.all(
      [...this.nodes.values()].map(
        (n) => new Promise<void>((resolve) => (n.proc ? n.proc.once('exit', () => resolve()) : resolve())),
      ),
    );
    this.client.close();
    await this.etcd.cleanup();
    if (!process.env.MF_KEEP_TEST_DIRS) rmSync(this.baseDir, { recursive: true, force: true });
  }
}

/** A started cluster, every partition stable, and an ActorProxy to call it. */
export type StableCluster = { cluster: TestCluster; proxy: ActorProxy; stop(): Promise<void> };

/**
 * Three nodes (needs `npx tsc -p tsconfig.build.json`) loading `manifests`, every partition
 * with three active replicas, and an ActorProxy with `defaultDeadlineMs`. `cleanup` runs
 * after the cluster stopped (also when start fails).
 */
export async function startStableCluster(options: {
  manifests: string[];
  defaultDeadlineMs: number;
  stableTimeoutMs: number;
  cleanup?: () => void;
}): Promise<StableCluster> {
  let cluster: TestCluster | undefined;
  const stop = async (): Promise<void> => {
    await cluster?.stop();
    options.cleanup?.();
  };
  try {
    cluster = await TestCluster.start({ nodes: 3, manifests: options.manifests });
    await cluster.waitStable(3, options.stableTimeoutMs);
    const proxy = await cluster.proxy({ defaultDeadlineMs: options.defaultDeadlineMs });
    return { cluster, proxy, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** The port of a `host:port` address. */
export function portOf(address: string): number {
  return Number(address.slice(address.lastIndexOf(':') + 1));
}
