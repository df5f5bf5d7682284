import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { shellWord, tiedSpawnPlan, warnUntiedOnce } from '../../core/process/tied-spawn.js';

/**
 * The spawn plan of a child tied to its parent (core/process/tied-spawn.ts). The processes
 * themselves: test/cluster/etcd-lifetime.int (etcd, own group), test/cli/up-sigkill.int (the
 * nodes, up's group), test/cluster/node-launcher-tie.int (a node without setpriv).
 */
describe('tiedSpawnPlan', () => {
  const args = ['--id', 'n1'];

  it('tied in a group of its own (etcd): setpriv --pdeathsig SIGTERM, the guard given the parent PID, detached', () => {
    expect(
      tiedSpawnPlan('etcd', args, { setprivUsable: true, parentPid: 4242, ownProcessGroup: true }),
    ).toEqual({
      command: 'setpriv',
      args: [
        '--pdeathsig',
        'SIGTERM',
        '--',
        'sh',
        '-c',
        '[ "$PPID" = "$0" ] && exec etcd "$@"',
        '4242',
        ...args,
      ],
      detached: true,
    });
  });

  it("tied in the parent's group (the nodes): the same command, not detached", () => {
    const plan = tiedSpawnPlan('/usr/bin/node', args, {
      setprivUsable: true,
      parentPid: 4242,
      ownProcessGroup: false,
    });
    expect(plan.command).toBe('setpriv');
    expect(plan.args[5]).toBe('[ "$PPID" = "$0" ] && exec /usr/bin/node "$@"');
    expect(plan.detached).toBe(false);
  });

  it("without setpriv: the command itself, in the parent's group even when a group of its own was asked (nothing else would stop it)", () => {
    for (const ownProcessGroup of [true, false]) {
      expect(tiedSpawnPlan('etcd', args, { setprivUsable: false, parentPid: 4242, ownProcessGroup })).toEqual(
        {
          command: 'etcd',
          args,
          detached: false,
        },
      );
    }
  });
});

describe('shellWord', () => {
  it.each([
    ['/usr/bin/node', '/usr/bin/node'],
    ['etcd', 'etcd'],
    ['/opt/my node/bin/node', "'/opt/my node/bin/node'"],
    ["/opt/it's/node", "'/opt/it'\\''s/node'"],
    ['/opt/$HOME/`x`', "'/opt/$HOME/`x`'"],
  ])('%s -> %s', (word, quoted) => {
    expect(shellWord(word)).toBe(quoted);
  });

  it('the guard runs a command whose path holds a space, a quote and a $ (real sh)', () => {
    const dir = mkdtempSync(join(tmpdir(), "mf-tied it's $x "));
    try {
      const command = join(dir, 'say');
      writeFileSync(command, '#!/bin/sh\necho "ran with $*"\n');
      chmodSync(command, 0o755);
      const plan = tiedSpawnPlan(command, ['a b', 'c'], {
        setprivUsable: true,
        parentPid: process.pid,
        ownProcessGroup: false,
      });
      // sh -c without setpriv: the guard and the quoting are sh's part of the plan.
      const ran = spawnSync('sh', plan.args.slice(4), { encoding: 'utf8' });
      expect(ran.stdout).toBe('ran with a b c\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('warnUntiedOnce', () => {
  it('warns once per code', async () => {
    const seen: { code?: string; message: string }[] = [];
    const listen = (w: Error & { code?: string }) => seen.push({ code: w.code, message: w.message });
    process.on('warning', listen);
    warnUntiedOnce('MF_TEST_UNTIED_A', 'a runs untied');
    warnUntiedOnce('MF_TEST_UNTIED_A', 'a runs untied');
    warnUntiedOnce('MF_TEST_UNTIED_B', 'b runs untied');
    await new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
    process.off('warning', listen);
    expect(seen.filter((w) => w.code?.startsWith('MF_TEST_UNTIED'))).toEqual([
      { code: 'MF_TEST_UNTIED_A', message: 'a runs untied' },
      { code: 'MF_TEST_UNTIED_B', message: 'b runs untied' },
    ]);
  });
});
