import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { meterfabricBin } from '../headend/support/up-process.js';

/**
 * `meterfabric node --data <dir under /proc>`: the typed error on stderr and exit 1 within
 * seconds. Before: Node's recursive mkdir spun at 100% CPU forever with no output; and once
 * that failed cleanly, the node still lived on, its gRPC and metrics ports bound before the
 * data directory is opened. Nothing here reaches etcd (the data directory comes first), so a
 * closed port stands in for it. Needs dist/ (npm test builds first).
 */
describe('meterfabric node with a data directory that cannot be created', () => {
  it.runIf(existsSync('/proc/self'))(
    'prints MF_DIRECTORY_UNCREATABLE naming the directory and exits 1',
    () => {
      const dataDir = '/proc/mf-nope/n1';
      const args = ['node', '--id', 'n1', '--listen', '127.0.0.1:0', '--metrics', '127.0.0.1:0'];
      args.push('--data', dataDir, '--etcd', '127.0.0.1:1');
      const r = spawnSync(process.execPath, [meterfabricBin, ...args], {
        encoding: 'utf8',
        timeout: 20_000,
        killSignal: 'SIGKILL',
        env: { ...process.env, MF_LOG_LEVEL: 'warn' },
      });
      expect(
        r.signal,
        `node killed by the timeout (hung); stdout: ${r.stdout} stderr: ${r.stderr}`,
      ).toBeNull();
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(
        /^meterfabric node: cannot create directory \/proc\/mf-nope\/n1\S*: \/proc exists/m,
      );
      expect(r.stderr).toContain('[MF_DIRECTORY_UNCREATABLE]');
    },
  );
});
