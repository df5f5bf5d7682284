import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startUp } from '../headend/support/up-process.js';
import { waitFor } from '../support/wait.js';

/**
 * Ctrl-C in a terminal sends SIGINT to the whole process group: `up` and the nodes it started
 * all get it, and `up` then sends each node SIGTERM. The nodes must take that SIGTERM as the
 * same request (cluster/cli/shutdown-signals.ts) and finish their drain, not exit at once as on
 * a real second signal. etcd is not in that group (cluster/etcd/README.md): it keeps serving
 * the drain until `up` stops it, after the nodes. Real etcd and nodes; needs dist/ (npm test
 * builds first).
 */
describe('Ctrl-C on a terminal running up', () => {
  it("every node drains to the end: up's SIGTERM after the group's SIGINT joins the drain", {
    timeout: 180_000,
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mf-up-ctrl-c-'));
    const up = await startUp(dir, ['--no-demo'], { MF_LOG_LEVEL: 'info' }, { processGroup: true });
    try {
      await waitFor(() => up.output().includes('cluster healthy'), 'the cluster to be healthy', 120_000, 200);
      process.kill(-up.child.pid!, 'SIGINT');
      expect(await up.exited).toBe(0);
      for (const id of ['n1', 'n2', 'n3']) {
        const log = readFileSync(join(dir, 'data', `${id}.log`), 'utf8');
        expect(log, id).toContain('draining before exit');
        expect(log, id).toContain('signal joins the drain under way');
        expect(log, id).not.toContain('second signal');
      }
    } finally {
      up.killAll();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
