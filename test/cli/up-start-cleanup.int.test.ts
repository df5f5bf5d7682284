import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { portFree } from '../../cluster/cli/up-ports.js';
import {
  childrenOf,
  processAlive,
  processGroupMembers,
  startUp,
  type UpProcess,
} from '../headend/support/up-process.js';
import { waitFor } from '../support/wait.js';

/**
 * `meterfabric up` leaves nothing running when it ends before its cluster is up: a flag error
 * is found before anything starts (before session 18 some were found after etcd and the nodes
 * had started), and a SIGTERM while etcd starts stops etcd too (before, `up` died at once and
 * left etcd bound to its port). The nodes `up` spawned are in its process group, so an orphan
 * node is seen there even when `up` never printed its PID; etcd has a group of its own
 * (cluster/etcd/etcd-spawn.ts), so it is found as `up`'s child, and its ports are checked
 * free. Needs dist/ (npm test builds first).
 */

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** Is `pid` an etcd serving a data directory (Linux /proc), not a probe such as `etcd --version`? */
function servesData(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes('--data-dir');
  } catch {
    return false; // exited meanwhile
  }
}

/** SIGKILLs `up`'s whole process group: for `finally`, whatever the test found. */
function killGroup(up: UpProcess): void {
  up.killAll();
  try {
    process.kill(-up.child.pid!, 'SIGKILL');
  } catch {
    // the group is empty
  }
}

describe('up leaves no process behind when it ends before its cluster is up', () => {
  it("a --metrics port that is also etcd's: exit 2, the error names both flags, nothing started, etcd's port free", {
    timeout: 180_000,
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mf-up-clash-'));
    const up = await startUp(
      dir,
      ({ etcdPort }) => ['--metrics', `127.0.0.1:${etcdPort}`],
      { MF_DEMO_OUT: join(dir, 'out') },
      { processGroup: true },
    );
    const group = up.child.pid!;
    try {
      const code = await up.exited;
      const out = up.output();
      expect(out).toContain(
        `meterfabric up: invalid configuration:\n  - --metrics ${up.etcdPort} is also etcd's client port (from --etcd 127.0.0.1:${up.etcdPort}): pass another --metrics (0: any free port)`,
      );
      expect(out).toContain('[MF_CONFIG_INVALID]');
      expect(code).toBe(2);
      // Nothing was started: no etcd line, no PID, no etcd data; nothing of up's is running.
      expect(out).not.toContain('starting etcd');
      expect(up.pids()).toEqual([]);
      expect(existsSync(join(dir, 'data', 'etcd'))).toBe(false);
      expect(processGroupMembers(group)).toEqual([]);
      expect(await portFree(up.etcdPort)).toBe(true);
      expect(await portFree(up.etcdPort + 1)).toBe(true);
    } finally {
      killGroup(up);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a --data under /proc (where Node's recursive mkdir spins forever): exit 2 at once, the error names --data, nothing started", {
    timeout: 180_000,
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mf-up-proc-'));
    const up = await startUp(dir, () => ['--data', '/proc/mf-up-nope/data'], {}, { processGroup: true });
    const group = up.child.pid!;
    try {
      const code = await up.exited;
      const out = up.output();
      expect(out).toContain(
        'meterfabric up: invalid configuration:\n  - --data /proc/mf-up-nope/data: cannot create it',
      );
      expect(out).toContain('[MF_CONFIG_INVALID]');
      expect(code).toBe(2);
      expect(out).not.toContain('starting etcd');
      expect(processGroupMembers(group)).toEqual([]);
    } finally {
      killGroup(up);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("SIGTERM while etcd is starting: etcd is stopped too, nothing is left in up's process group, its ports are free", {
    timeout: 120_000,
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mf-up-term-'));
    const up = await startUp(dir, ['--no-demo'], {}, { processGroup: true });
    const group = up.child.pid!;
    let etcdPid: number | undefined;
    try {
      // etcd spawned (up's child; not the `etcd --version` probe before it), `up` still waiting
      // for it to answer: the signal comes now.
      const etcd = await waitFor(
        () => childrenOf(up.child.pid!).find((p) => p.command === 'etcd' && servesData(p.pid)),
        'etcd to be spawned by up',
        60_000,
        10,
      );
      etcdPid = etcd.pid;
      expect(up.output()).not.toContain('etcd up');
      up.child.kill('SIGTERM');
      const code = await up.exited;
      await waitFor(() => processGroupMembers(group).length === 0, "up's process group to be empty", 15_000);
      expect(up.output()).toContain(`etcd up (pid ${etcd.pid})`);
      expect(processAlive(etcd.pid)).toBe(false);
      expect(await portFree(up.etcdPort)).toBe(true);
      expect(await portFree(up.etcdPort + 1)).toBe(true);
      // Stopped as after Ctrl-C once running: the etcd it had started, then exit 0.
      expect(up.output()).toContain('[up] stopping etcd');
      expect(up.output()).toContain('[up] stopped');
      expect(code).toBe(0);
    } finally {
      killGroup(up);
      if (etcdPid !== undefined) killQuietly(etcdPid);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
