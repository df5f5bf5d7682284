/**
 * Real partitions with network namespaces and iptables: two namespaces on a bridge, a TCP
 * echo server in one, a client in the other; the client connects, is cut off by a partition
 * (and by a one-way cut), and connects again after healing. Skips, saying why, where the
 * kernel or the tools do not allow it (needs Linux, root, iproute2 and iptables).
 */
import type { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NetnsLab, netnsSupport, nextLabTag } from '../../chaos/nemesis/netns.js';
import { ChaosCluster, clusterName } from '../../chaos/runner/chaos-cluster.js';
import { waitForRecovery } from '../../chaos/runner/run-scenario.js';
import { etcdAvailable } from '../../cluster/etcd/launcher.js';
import { keys } from '../../cluster/membership/etcd-client.js';
import { packageRoot } from '../../core/paths.js';

const support = netnsSupport();
if (!support.supported) console.warn(`netns partitions skipped: ${support.reason}`);
const tag = nextLabTag();
let lab: NetnsLab | undefined;
let server: ReturnType<typeof spawn> | undefined;
const port = 20_000 + (process.pid % 20_000);

afterAll(() => {
  server?.kill('SIGKILL');
  lab?.destroy();
});

const echoServer = (host: string) => `
const net = require('node:net');
net.createServer((s) => s.on('data', (d) => s.write(d))).listen(${port}, '${host}', () => console.log('listening'));
`;

/** Connects from `from`'s namespace; resolves 'echo' if the round trip works, else the failure. */
function probe(currentLab: NetnsLab, from: string, host: string): Promise<string> {
  const script = `
const net = require('node:net');
const s = net.connect({ host: '${host}', port: ${port}, timeout: 1500 });
s.on('connect', () => s.write('ping'));
s.on('data', (d) => { console.log(String(d) === 'ping' ? 'echo' : 'garbled'); process.exit(0); });
s.on('timeout', () => { console.log('timeout'); process.exit(0); });
s.on('error', (e) => { console.log(e.code); process.exit(0); });
`;
  return new Promise((resolve) => {
    const child = currentLab.spawnIn(from, process.execPath, ['-e', script]);
    let out = '';
    child.stdout?.on('data', (d) => {
      out += String(d);
    });
    child.once('exit', () => resolve(out.trim()));
  });
}

describe.skipIf(!support.supported)('network-namespace partitions (iptables)', () => {
  it('a partition cuts a TCP connection between namespaces, a one-way cut too, and healing restores it', async () => {
    lab = NetnsLab.create(tag, ['a', 'b']);
    const b = lab.node('b');
    server = lab.spawnIn('b', process.execPath, ['-e', echoServer(b.address)]);
    await new Promise<void>((resolve, reject) => {
      server?.stdout?.once('data', () => resolve());
      server?.once('exit', (code) => reject(new Error(`echo server exited ${code}`)));
    });
    expect(await probe(lab, 'a', b.address)).toBe('echo');
    lab.partition([['a'], ['b']]);
    expect(await probe(lab, 'a', b.address)).toBe('timeout');
    lab.heal();
    expect(await probe(lab, 'a', b.address)).toBe('echo');
    lab.cutOneWay('b', 'a');
    // b's replies to a are dropped: the connection cannot complete.
    expect(await probe(lab, 'a', b.address)).toBe('timeout');
    lab.heal();
    expect(await probe(lab, 'a', b.address)).toBe('echo');
  }, 30_000);
});

const clusterReady =
  support.supported && existsSync(join(packageRoot, 'dist/cluster/cli/main.js')) && etcdAvailable();

describe.skipIf(!clusterReady)('a cluster in network namespaces', () => {
  it("an iptables cut from etcd expires that node's membership only; healing brings it back and the cluster recovers", async () => {
    const baseDir = mkdtempSync(join(tmpdir(), 'mf-chaos-netns-'));
    const cluster = await ChaosCluster.start({ baseDir, network: 'netns' });
    try {
      expect((await waitForRecovery(cluster, Date.now(), 90_000)).valid).toBe(true);
      const members = async () =>
        (await cluster.etcdClient.getAll().prefix(keys.nodes(clusterName)).keys())
          .map((k) => k.slice(keys.nodes(clusterName).length))
          .sort();
      expect(await members()).toEqual(['n1', 'n2', 'n3']);
      await cluster.network.cutFromEtcd('n2');
      const deadline = Date.now() + 30_000;
      while ((await members()).includes('n2') && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 200));
      expect(await members()).toEqual(['n1', 'n3']);
      await cluster.network.heal();
      const healedAt = Date.now();
      const recovery = await waitForRecovery(cluster, healedAt, 60_000);
      expect(recovery.valid, JSON.stringify(recovery.anomalies[0]?.message)).toBe(true);
      expect(await members()).toEqual(['n1', 'n2', 'n3']);
    } finally {
      await cluster.stop();
      rmSync(baseDir, { recursive: true, force: true });
    }
  }, 180_000);
});
