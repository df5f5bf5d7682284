import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../core/paths.js';
import { procStat } from '../support/proc.js';
import { spawnWithOutput } from '../support/spawn-output.js';
import { waitFor } from '../support/wait.js';

/**
 * The test cluster ties its nodes to the process that started them (`tiedToLauncher` in
 * cluster/node/node-launcher.ts, core/process/tied-spawn.ts), as `up` does: a vitest worker
 * that crashes or is killed must not leave nodes holding ports and etcd leases. Before, the
 * nodes of a SIGKILLed launcher kept running (etcd, tied since session 19, did not).
 * A real launcher process (vite-node running support/test-cluster-launcher.ts), real etcd and
 * node; needs dist/ (npm test builds first) and setpriv (util-linux 2.33+).
 */

/**
 * One node, one etcd, both gone at once: the node's drain fails on the dying etcd, or finds no
 * other node to take its primaries, and it stops within ms either way (test/cli/up-sigkill
 * measures the three-node case). A few seconds, and as much again for a loaded box.
 */
const nodeGoneWithinMs = 10_000;

type Launched = { nodePid: number; etcdPid: number; dirs: string[] };

describe('a SIGKILLed process that started a TestCluster', () => {
  it('its node (a child of that process) gets SIGTERM and exits within seconds; etcd too', {
    timeout: 120_000,
  }, async () => {
    const launcher = spawnWithOutput(
      process.execPath,
      [
        join(packageRoot, 'node_modules', 'vite-node', 'vite-node.mjs'),
        join(packageRoot, 'test', 'cluster', 'support', 'test-cluster-launcher.ts'),
      ],
      { cwd: packageRoot },
    );
    const launched = (): Launched | undefined => {
      const line = launcher
        .stdout()
        .split('\n')
        .find((l) => l.startsWith('{'));
      return line ? (JSON.parse(line) as Launched) : undefined;
    };
    try {
      const { nodePid, etcdPid } = await waitFor(
        () => launched(),
        'the launcher to start its cluster',
        90_000,
        100,
      ).catch((err: unknown) => {
        throw new Error(`${String(err)}; the launcher's stderr: ${launcher.stderr()}`);
      });
      // The node is the launcher's own child, under node's own PID (setpriv and sh exec'd).
      expect(procStat(nodePid)?.ppid).toBe(launcher.child.pid);

      launcher.child.kill('SIGKILL');
      await launcher.exited;
      expect(launcher.child.signalCode).toBe('SIGKILL');
      const killedAtMs = Date.now();
      // Gone: exited, or a zombie not reaped yet (it holds no port).
      await waitFor(
        () => procStat(nodePid) === undefined && procStat(etcdPid) === undefined,
        `the node and etcd to exit within ${nodeGoneWithinMs} ms of the launcher's SIGKILL`,
        nodeGoneWithinMs,
        50,
      );
      console.log(`node gone ${Date.now() - killedAtMs} ms after its launcher's SIGKILL`);
    } finally {
      const started = launched();
      for (const pid of [launcher.child.pid, started?.nodePid, started?.etcdPid]) {
        try {
          if (pid !== undefined) process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      // The launcher never stopped its cluster: its temp folders are ours to remove.
      if (started) {
        for (const pid of [started.nodePid, started.etcdPid])
          await waitFor(() => procStat(pid) === undefined, `process ${pid} gone`, 10_000);
        rmSync(started.dirs[0]!, { recursive: true, force: true });
        rmSync(dirname(started.dirs[1]!), { recursive: true, force: true });
      }
    }
  });
});
