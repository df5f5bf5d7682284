/**
 * Failover time: SIGKILL of a partition's primary -> first committed write on its successor,
 * for lease TTLs of 2 s and 3 s (target p50 < 1.5 × TTL). Three real node processes and a real
 * etcd per TTL. Figures are printed as ratios to the TTL and to a healthy write's latency,
 * both measured in the same run.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ActorProxy } from '../cluster/actors/actor-proxy.js';
import { defaultManifestPaths, loadManifests, partitionIds } from '../cluster/config/manifest.js';
import { type EtcdHandle, startEtcd } from '../cluster/etcd/launcher.js';
import { ConfigStore } from '../cluster/failover/config-store.js';
import { createEtcdClient } from '../cluster/membership/etcd-client.js';
import { type LaunchedNode, launchNode } from '../cluster/node/node-launcher.js';
import { percentile, printFigure } from './support/report.js';

const trialsPerTtl = 3;
const services = loadManifests(defaultManifestPaths());
const partitionCount = services.flatMap((s) => partitionIds(s)).length;

async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function until<T>(
  probe: () => Promise<T | null | undefined | false>,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => null);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function runTtl(ttlMs: number): Promise<{ failoverMs: number[]; healthyMs: number[] }> {
  const base = mkdtempSync(join(tmpdir(), 'mf-bench-failover-'));
  const [clientPort, peerPort, ...ports] = await Promise.all(Array.from({ length: 5 }, () => freePort()));
  const etcd: EtcdHandle = await startEtcd({
    dataDir: join(base, 'etcd'),
    clientPort: clientPort!,
    peerPort: peerPort!,
  });
  const nodes = new Map<string, { port: number; launched: LaunchedNode | null }>();
  const launch = async (id: string): Promise<void> => {
    const entry = nodes.get(id)!;
    entry.launched = await launchNode({
      id,
      listen: `127.0.0.1:${entry.port}`,
      dataDir: join(base, id),
      etcd: etcd.endpoint,
      logPath: join(base, `${id}.log`),
      env: { MF_LEASE_TTL_MS: String(ttlMs), MF_LOG_LEVEL: 'warn' },
      tiedToLauncher: true,
    });
  };
  const client = createEtcdClient([etcd.endpoint]);
  const store = new ConfigStore(client, 'meterfabric');
  const stable = () =>
    until(
      async () => {
        const all = await store.readAll();
        if (all.size !== partitionCount) return null;
        const primaries = new Map<string, number>();
        for (const v of all.values()) {
          if (v.config.status !== 'ok' || v.config.building.length > 0 || v.config.replicas.length !== 3)
            return null;
          primaries.set(v.config.primary!, (primaries.get(v.config.primary!) ?? 0) + 1);
        }
        // Wait for the FM to even out primaries after a restart, so no move races the kill.
        const counts = [...primaries.values()];
        if (counts.length < 3 || Math.max(...counts) - Math.min(...counts) > 2) return null;
        return all;
      },
      120_000,
      'a stable cluster',
    );
  const proxy = new ActorProxy({
    client,
    cluster: 'meterfabric',
    services,
    maxBackoffMs: 50,
    attemptTimeoutMs: 1000,
  });
  try {
    for (const [i, id] of ['n1', 'n2', 'n3'].entries()) nodes.set(id, { port: ports[i]!, launched: null });
    await Promise.all(['n1', 'n2', 'n3'].map(launch));
    await stable();
    await proxy.start();
    const healthyMs: number[] = [];
    for (let i = 0; i < 50; i++) {
      const t = performance.now();
      await proxy.call('counter', `healthy-${i % 10}`, 'increment', { by: 1 });
      healthyMs.push(performance.now() - t);
    }
    const failoverMs: number[] = [];
    for (let trial = 0; trial < trialsPerTtl; trial++) {
      const configs = await stable();
      const victim = `n${(trial % 3) + 1}`;
      let key = '';
      for (let i = 0; !key; i++) {
        const k = `fo-${trial}-${i}`;
        if (configs.get(proxy.partitionOf('counter', k))?.config.primary === victim) key = k;
      }
      await proxy.call('counter', key, 'increment', { by: 1 });
      const entry = nodes.get(victim)!;
      const killedAt = performance.now();
      entry.launched!.process.kill('SIGKILL');
      await entry.launched!.exited;
      // Every call starts after the kill, so its acknowledgement comes from the successor.
      await proxy.call('counter', key, 'increment', { by: 1 }, { deadlineMs: 60_000 });
      failoverMs.push(performance.now() - killedAt);
      if (trial < trialsPerTtl - 1) await launch(victim);
    }
    return { failoverMs, healthyMs };
  } finally {
    await proxy.close().catch(() => undefined);
    for (const { launched } of nodes.values()) launched?.process.kill('SIGKILL');
    await Promise.all([...nodes.values()].map((n) => n.launched?.exited));
    client.close();
    await etcd.stop();
    rmSync(base, { recursive: true, force: true });
  }
}

console.log(
  `failover: SIGKILL of a primary -> first committed write on its successor (${trialsPerTtl} trials per TTL)`,
);
for (const ttlMs of [2000, 3000]) {
  const { failoverMs, healthyMs } = await runTtl(ttlMs);
  const sorted = [...failoverMs].sort((a, b) => a - b);
  const healthy = percentile(
    [...healthyMs].sort((a, b) => a - b),
    50,
  );
  const p50 = percentile(sorted, 50);
  printFigure(
    `TTL ${ttlMs} ms: failover p50`,
    p50,
    'ms',
    `${(p50 / ttlMs).toFixed(2)}x TTL (target < 1.5x); ${(p50 / healthy).toFixed(0)}x a healthy write (${healthy.toFixed(1)} ms)`,
  );
  printFigure(
    `TTL ${ttlMs} ms: failover max`,
    sorted[sorted.length - 1]!,
    'ms',
    `${(sorted[sorted.length - 1]! / ttlMs).toFixed(2)}x TTL; trials ${sorted.map((v) => Math.round(v)).join(', ')}`,
  );
}
process.exit(0);
