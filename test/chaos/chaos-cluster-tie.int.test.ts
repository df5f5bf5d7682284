import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { etcdAvailable } from '../../cluster/etcd/launcher.js';
import { distPath } from '../../core/paths.js';
import { childrenOf } from '../headend/support/up-process.js';
import { procStat } from '../support/proc.js';
import { spawnWithOutput } from '../support/spawn-output.js';
import { waitFor } from '../support/wait.js';

/**
 * A chaos run that crashes or is SIGKILLed leaves nothing running: the chaos cluster's nodes
 * and its Toxiproxy process are tied to the process that started them, as etcd is
 * (chaos/runner/chaos-cluster.ts, toxiproxy-process.ts, core/process/tied-spawn.ts). Before,
 * they kept running, holding their ports (and the nodes their etcd leases). A real launcher
 * process (the built chaos cluster), etcd and node; needs dist/ and setpriv (util-linux 2.33+).
 */

/** One node, so its drain finds no other node to wait for: it stops within ms (measured 50 ms). */
const goneWithinMs = 10_000;

const ready = existsSync(distPath('chaos', 'runner', 'chaos-cluster.js')) && etcdAvailable();

/** What a process runs, from /proc (empty once it is gone). */
function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
}

describe.skipIf(!ready)('a SIGKILLed process running a chaos cluster', () => {
  it('its node, Toxiproxy process and etcd get SIGTERM and exit within seconds', {
    timeout: 120_000,
  }, async () => {
    const baseDir = mkdtempSync(join(tmpdir(), 'mf-chaos-tie-'));
    const script = `const { ChaosCluster } = await import(${JSON.stringify(distPath('chaos', 'runner', 'chaos-cluster.js'))});
await ChaosCluster.start({ baseDir: ${JSON.stringify(baseDir)}, nodeCount: 1 });
console.log('started');
setInterval(() => undefined, 60_000);`;
    const launcher = spawnWithOutput(process.execPath, ['--input-type=module', '-e', script], {
      env: { ...process.env, MF_INITIAL_CLUSTER_SIZE: '1', MF_CHAOS_NODE_LOG_LEVEL: 'warn' },
    });
    let children: number[] = [];
    try {
      await waitFor(
        () => launcher.stdout().includes('started\n'),
        'the chaos cluster to start',
        90_000,
        100,
      ).catch((err: unknown) => {
        throw new Error(`${String(err)}; the launcher printed: ${launcher.output()}`);
      });
      children = childrenOf(launcher.child.pid!).map((c) => c.pid);
      const commands = children.map(commandLine);
      // Its own children, under their own PIDs (setpriv and sh exec'd): etcd, Toxiproxy, n1.
      expect(commands.filter((c) => /^\S*etcd /.test(c))).toHaveLength(1);
      expect(commands.filter((c) => c.includes('meterfabric.js chaos toxiproxy'))).toHaveLength(1);
      expect(commands.filter((c) => c.includes('meterfabric.js node --id n1'))).toHaveLength(1);
      expect(children).toHaveLength(3);

      launcher.child.kill('SIGKILL');
      await launcher.exited;
      expect(launcher.child.signalCode).toBe('SIGKILL');
      // Gone: exited, or a zombie not reaped yet (it holds no port).
      await waitFor(
        () => children.every((pid) => procStat(pid) === undefined),
        `etcd, Toxiproxy and the node to exit within ${goneWithinMs} ms of the launcher's SIGKILL`,
        goneWithinMs,
        50,
      ).catch((err: unknown) => {
        const left = children.filter((pid) => procStat(pid) !== undefined).map(commandLine);
        throw new Error(`${String(err)}; still running: ${left.join('; ')}`);
      });
    } finally {
      for (const pid of [launcher.child.pid, ...children]) {
        try {
          if (pid !== undefined) process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      for (const pid of children)
        await waitFor(() => procStat(pid) === undefined, `process ${pid} gone`, 10_000);
      rmSync(baseDir, { recursive: true, force: true });
    }
  });
});
