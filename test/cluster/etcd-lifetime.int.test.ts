import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { etcdSpawnPlan } from '../../cluster/etcd/etcd-spawn.js';
import { etcdHealthy } from '../../cluster/etcd/launcher.js';
import { distPath } from '../../core/paths.js';
import { procStat } from '../support/proc.js';
import { waitFor } from '../support/wait.js';

/**
 * How long etcd lives (cluster/etcd/etcd-spawn.ts): in a process group of its own, so the
 * SIGINT a terminal sends to the group of the process that started it (`up`) does not stop it
 * while the nodes drain; yet it exits when that process is SIGKILLed. Each case starts etcd in
 * a small child process through the built launcher (needs dist/: npm test builds first), as
 * `up` does, and stops what it started by PID.
 */

function commandOf(pid: number): string {
  return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
}

type Starter = {
  child: ChildProcess;
  etcd: Promise<{ pid: number; endpoint: string }>;
  /** Resolves when the starter has received a SIGINT (and ignored it, as `up` does). */
  sigint: Promise<void>;
  stderr(): string;
  /** For `finally`: SIGKILL etcd and the starter by PID, then remove the data. */
  cleanup(): Promise<void>;
};

/**
 * A child process that starts etcd through dist/'s startEtcdOnFreePorts and reports its PID.
 * It answers SIGINT by reporting it and living on (as `up` does: it drains first).
 */
function startStarter(options: { detached: boolean; env?: Record<string, string> }): Starter {
  const base = mkdtempSync(join(tmpdir(), 'mf-etcd-life-'));
  const script = `const { startEtcdOnFreePorts } = await import(${JSON.stringify(distPath('cluster', 'etcd', 'launcher.js'))});
const { freeLoopbackPorts } = await import(${JSON.stringify(distPath('chaos', 'nemesis', 'ports.js'))});
process.on('SIGINT', () => console.log(JSON.stringify({ event: 'sigint' })));
const etcd = await startEtcdOnFreePorts({ dataDir: ${JSON.stringify(join(base, 'etcd'))}, freePorts: freeLoopbackPorts });
console.log(JSON.stringify({ event: 'started', pid: etcd.pid, endpoint: etcd.endpoint }));
setInterval(() => undefined, 60_000);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.detached,
    env: { ...process.env, ...options.env },
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  let etcdPid: number | undefined;
  const lines = createInterface({ input: child.stdout! });
  const event = (name: string) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      child.once('exit', (code, signal) =>
        reject(new Error(`the starter exited (${code ?? signal}) before '${name}': ${stderr}`)),
      );
      lines.on('line', (line) => {
        const parsed = JSON.parse(line) as Record<string, unknown>;
        if (parsed.event === name) resolve(parsed);
      });
    });
  const etcd = event('started').then((e) => {
    etcdPid = e.pid as number;
    return { pid: etcdPid, endpoint: e.endpoint as string };
  });
  const sigint = event('sigint').then(() => undefined);
  sigint.catch(() => undefined);
  return {
    child,
    etcd,
    sigint,
    stderr: () => stderr,
    async cleanup() {
      for (const pid of [etcdPid, child.pid]) {
        if (pid === undefined) continue;
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      if (etcdPid !== undefined) {
        const pid = etcdPid;
        await waitFor(() => procStat(pid) === undefined, `etcd (pid ${pid}) to be gone`, 10_000);
      }
      rmSync(base, { recursive: true, force: true });
    },
  };
}

describe('the lifetime of an etcd started by startEtcd', () => {
  it("runs under the PID startEtcd reports, in its own process group: a SIGINT to its starter's group leaves it healthy", {
    timeout: 60_000,
  }, async () => {
    // The starter leads a process group of its own, as `up` does in a terminal.
    const starter = startStarter({ detached: true });
    try {
      const etcd = await starter.etcd;
      expect(commandOf(etcd.pid)).toBe('etcd');
      expect(procStat(etcd.pid)).toEqual({ ppid: starter.child.pid, pgrp: etcd.pid });

      process.kill(-starter.child.pid!, 'SIGINT'); // what Ctrl-C does
      await starter.sigint;
      // Nothing to await when the signal did not reach etcd: watch it for a bound instead. An
      // etcd in the group exits well within it (2-12 ms here).
      const watchUntil = Date.now() + 3_000;
      while (Date.now() < watchUntil) {
        expect(procStat(etcd.pid), 'etcd still running').toBeDefined();
        expect(await etcdHealthy(etcd.endpoint, 1_000), 'etcd healthy').toBe(true);
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      await starter.cleanup();
    }
  });

  it('exits within a few seconds when the process that started it is SIGKILLed', {
    timeout: 60_000,
  }, async () => {
    const starter = startStarter({ detached: false });
    try {
      const etcd = await starter.etcd;
      starter.child.kill('SIGKILL');
      await waitFor(() => procStat(etcd.pid) === undefined, 'etcd to exit after its starter died', 5_000, 20);
      expect(await etcdHealthy(etcd.endpoint, 500)).toBe(false);
    } finally {
      await starter.cleanup();
    }
  });

  it('is started only while the process that spawned it still lives (the pdeathsig race)', () => {
    const run = (parentPid: number) => {
      const plan = etcdSpawnPlan(['--version'], { setprivUsable: true, parentPid });
      return spawnSync(plan.command, plan.args, { encoding: 'utf8' });
    };
    // spawnSync's child has this process as its parent: etcd runs.
    const alive = run(process.pid);
    expect(alive.stdout).toContain('etcd Version');
    // Another PID stands for a parent that died before setpriv armed the signal (the child is
    // then reparented): etcd is not started.
    const gone = run(1);
    expect(gone.stdout).toBe('');
    expect(gone.status).not.toBe(0);
  });

  it("without a usable setpriv: warns MF_ETCD_UNTIED and runs etcd in its starter's process group, as before", {
    timeout: 60_000,
  }, async () => {
    // A PATH holding etcd and nothing else: no setpriv.
    const bin = mkdtempSync(join(tmpdir(), 'mf-etcd-path-'));
    const etcdPath = spawnSync('sh', ['-c', 'command -v etcd'], { encoding: 'utf8' }).stdout.trim();
    symlinkSync(etcdPath, join(bin, 'etcd'));
    const starter = startStarter({ detached: true, env: { PATH: bin } });
    try {
      const etcd = await starter.etcd;
      expect(commandOf(etcd.pid)).toBe('etcd');
      expect(procStat(etcd.pid)).toEqual({ ppid: starter.child.pid, pgrp: starter.child.pid });
      expect(starter.stderr()).toContain('MF_ETCD_UNTIED');
    } finally {
      await starter.cleanup();
      rmSync(bin, { recursive: true, force: true });
    }
  });
});
