import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { distPath } from '../../core/paths.js';
import { startTestEtcd } from '../support/etcd.js';
import { procStat } from '../support/proc.js';
import { spawnWithOutput } from '../support/spawn-output.js';
import { waitFor } from '../support/wait.js';

/**
 * launchNode's `tiedToLauncher` where setpriv is not usable (cluster/node/node-launcher.ts,
 * core/process/tied-spawn.ts): the nodes run as before the tie, plain children in the
 * launcher's process group, and the launcher warns once (MF_NODES_UNTIED). With setpriv: see
 * test/cli/up-sigkill.int.test.ts. Real etcd and nodes; needs dist/ (npm test builds first).
 */

describe('launchNode asked to tie its nodes where setpriv is not usable', () => {
  it("warns MF_NODES_UNTIED once for two nodes and runs each, under node's own PID, in the launcher's group", {
    timeout: 120_000,
  }, async () => {
    const etcd = await startTestEtcd();
    const base = mkdtempSync(join(tmpdir(), 'mf-node-untied-'));
    // A PATH holding sh and nothing else: no setpriv (the node is spawned by its absolute path).
    const bin = join(base, 'bin');
    mkdirSync(bin);
    symlinkSync(
      spawnSync('sh', ['-c', 'command -v sh'], { encoding: 'utf8' }).stdout.trim(),
      join(bin, 'sh'),
    );
    const script = `const { launchNode } = await import(${JSON.stringify(distPath('cluster', 'node', 'node-launcher.js'))});
for (const id of ['n1', 'n2']) {
  const node = await launchNode({ id, listen: '127.0.0.1:0', dataDir: ${JSON.stringify(base)} + '/' + id,
    logPath: ${JSON.stringify(base)} + '/' + id + '.log', etcd: ${JSON.stringify(etcd.endpoint)}, tiedToLauncher: true });
  console.log(JSON.stringify({ id, pid: node.pid }));
}
setInterval(() => undefined, 60_000);`;
    const launcher = spawnWithOutput(process.execPath, ['--input-type=module', '-e', script], {
      detached: true, // its own group, so the nodes' group is the launcher's PID
      env: { ...process.env, PATH: bin, MF_LOG_LEVEL: 'warn' },
    });
    const nodes = () =>
      launcher
        .stdout()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { id: string; pid: number });
    try {
      await waitFor(
        () => nodes().length === 2,
        `two nodes to be ready (stderr: ${launcher.stderr()})`,
        60_000,
        100,
      );
      for (const { id, pid } of nodes()) {
        const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
        expect(argv[0], id).toBe(process.execPath);
        expect(argv.slice(argv.indexOf('node'), argv.indexOf('node') + 3), id).toEqual(['node', '--id', id]);
        expect(procStat(pid), id).toEqual({ ppid: launcher.child.pid, pgrp: launcher.child.pid });
      }
      expect(launcher.stderr().match(/MF_NODES_UNTIED/g) ?? []).toHaveLength(1);
    } finally {
      for (const pid of [...nodes().map((n) => n.pid), launcher.child.pid]) {
        try {
          if (pid !== undefined) process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      for (const { pid } of nodes())
        await waitFor(() => procStat(pid) === undefined, `node ${pid} gone`, 10_000);
      await etcd.cleanup();
      rmSync(base, { recursive: true, force: true });
    }
  });
});
