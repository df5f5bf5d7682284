import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { processAlive as alive, startUp } from '../headend/support/up-process.js';
import { waitFor } from '../support/wait.js';

/**
 * `meterfabric up` when its demo cannot go on: a clear error on stderr, everything it started
 * stopped, exit code 1 (before session 16 it printed "demo failed" and kept running, exit 0 at
 * Ctrl-C). Needs dist/ (npm test builds first).
 */
describe('up ends with a clear error and a non-zero exit when the demo fails', () => {
  it('a demo that cannot start (invalid MF_DEMO_NAME): the error on stderr, etcd and nodes stopped, exit 1', {
    timeout: 300_000,
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mf-up-exit-'));
    const up = await startUp(dir, [], { MF_DEMO_NAME: 'not a name!', MF_DEMO_OUT: join(dir, 'out') });
    try {
      const code = await up.exited;
      const out = up.output();
      expect(code).toBe(1);
      expect(out).toContain('cluster healthy');
      expect(out).toMatch(
        /\[up\] demo failed: invalid configuration:\s+- MF_DEMO_NAME must be [^\n]*\[MF_CONFIG_INVALID\]/,
      );
      expect(out).toContain('[up] stopped');
      // etcd and the three nodes it reported are gone.
      expect(up.pids().length).toBe(4);
      await waitFor(() => up.pids().every((pid) => !alive(pid)), 'etcd and the nodes to be gone', 30_000);
    } finally {
      up.killAll();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
