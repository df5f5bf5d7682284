import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../core/paths.js';
import { spawnCli } from '../headend/support/up-process.js';
import { consecutiveFreePorts } from '../support/ports.js';
import { waitFor } from '../support/wait.js';

const bin = join(packageRoot, 'bin', 'meterfabric.js');

describe('meterfabric CLI', () => {
  it('`node` with invalid configuration exits 2 (a configuration error) and says what to fix, starting nothing', () => {
    const result = spawnSync(
      process.execPath,
      [bin, 'node', '--id', 'Bad Id', '--listen', 'nowhere', '--lease-ttl-ms', '100'],
      {
        encoding: 'utf8',
        timeout: 30_000,
        env: { ...process.env, MF_ETCD: '' },
      },
    );
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('invalid configuration');
    // Every problem at once, each naming the flag the user typed (the setting as detail).
    expect(result.stderr).toContain('--id (setting nodeId): use 1-32 lower-case letters');
    expect(result.stderr).toContain('--listen (setting listen): must be host:port');
    expect(result.stderr).toContain(
      '--lease-ttl-ms must be an integer from 2000 to 60000 (setting leaseTtlMs), not "100"',
    );
    expect(result.stderr).toContain('[MF_CONFIG_INVALID]');
  });

  it('`status` against an unreachable etcd fails with a clear message', () => {
    const result = spawnSync(process.execPath, [bin, 'status', '--etcd', '127.0.0.1:1'], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('cannot read the cluster from etcd at 127.0.0.1:1');
  });

  it('`up` starts etcd and three nodes, reports a healthy cluster, and Ctrl-C stops everything it started', {
    timeout: 180_000,
  }, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'mf-up-'));
    // etcd's client and peer ports (`up` takes client + 1 for the peer) and the nodes' three,
    // all checked free, below the range the OS hands out for port 0.
    const etcdPort = await consecutiveFreePorts(5);
    const basePort = etcdPort + 2;
    const up = spawnCli([
      'up',
      '--no-demo',
      '--data',
      dataDir,
      '--etcd',
      `127.0.0.1:${etcdPort}`,
      '--base-port',
      String(basePort),
    ]);
    try {
      await waitFor(
        () => up.stdout().includes('cluster healthy'),
        '`up` to report a healthy cluster',
        120_000,
        200,
      );
      expect(up.stdout()).toContain(`starting etcd at 127.0.0.1:${etcdPort}`);
      expect(up.stdout()).toMatch(/3\/3 nodes up, \d+\/\d+ partitions OK/);
      const pids = [...up.stdout().matchAll(/\(pid (\d+)/g)].map((m) => Number(m[1]));
      expect(pids).toHaveLength(4); // etcd + three nodes
      up.child.kill('SIGINT');
      expect(await up.exited).toBe(0);
      expect(up.stdout()).toContain('[up] stopped');
      for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
    } finally {
      up.child.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
