import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { portFree } from '../../cluster/cli/up-ports.js';
import { processGroupMembers, startUp, type UpProcess } from '../headend/support/up-process.js';
import { listeningPorts, procStat } from '../support/proc.js';
import { waitFor } from '../support/wait.js';

/**
 * A SIGKILLed `meterfabric up` cannot stop what it started. etcd was tied to it in session 19
 * (cluster/etcd/README.md); the nodes are tied the same way (core/process/tied-spawn.ts,
 * `tiedToLauncher` in cluster/node/node-launcher.ts): the kernel sends each SIGTERM, which
 * they take as "drain, then exit". Before, they kept running, holding their ports and etcd
 * leases. The kernel may send that SIGTERM several times within ms (once per exiting thread of
 * `up`): the repeats must join the drain (cluster/cli/shutdown-signals.ts), not cut it short.
 * Real etcd and nodes; needs dist/ (npm test builds first).
 */

/**
 * How long the nodes may take to exit after `up`'s SIGKILL. etcd gets its SIGTERM at the same
 * moment and is gone within ms, so each node drains against a dying etcd. If its first drain
 * step (marking itself draining in etcd) comes after etcd went, it fails at once and the node
 * stops: about 50 ms here. If it came just before, nobody can move the primaries without
 * etcd, and the drain stops waiting once the node's lease is no longer valid: at most the
 * lease TTL less its margin (2.5 s by default) after etcd last answered, not the drain's 20 s
 * bound (`ClusterNode.drain`, cluster/node/drain.ts; test/cluster/drain-etcd-gone.int.test.ts
 * has that case on purpose); then stop() takes ms, each etcd call refused at once. The bound
 * is that plus ample room for a loaded box, and stays below the 20 s the drain used to wait.
 */
const nodesGoneWithinMs = 15_000;

/** The node PIDs `up` printed: `started node n1 on 127.0.0.1:P (pid N, ...`. */
function nodePids(up: UpProcess): Map<string, number> {
  return new Map(
    [...up.output().matchAll(/started node (n\d) on [^ ]+ \(pid (\d+)/g)].map((m) => [m[1]!, Number(m[2])]),
  );
}

describe('a SIGKILLed up', () => {
  it("its nodes (node's own PIDs, in up's process group) drain and exit, and no port of theirs or etcd's stays bound", {
    timeout: 240_000,
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mf-up-sigkill-'));
    const up = await startUp(dir, ['--no-demo'], { MF_LOG_LEVEL: 'info' }, { processGroup: true });
    const group = up.child.pid!;
    try {
      await waitFor(() => up.output().includes('cluster healthy'), 'the cluster to be healthy', 120_000, 200);
      const nodes = nodePids(up);
      expect([...nodes.keys()].sort()).toEqual(['n1', 'n2', 'n3']);
      const pids = up.pids();
      expect(pids.length).toBe(4); // etcd and the nodes
      const ports = new Set<number>([up.etcdPort, up.etcdPort + 1]);
      for (const [id, pid] of nodes) {
        // The PID up records and signals is node's own (setpriv and sh exec'd), a child of up, in
        // up's process group (a terminal's Ctrl-C reaches it).
        const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
        expect(argv[0], id).toBe(process.execPath);
        expect(argv.slice(argv.indexOf('node'), argv.indexOf('node') + 3), id).toEqual(['node', '--id', id]);
        expect(procStat(pid), id).toEqual({ ppid: group, pgrp: group });
        for (const port of listeningPorts(pid)) ports.add(port);
      }
      expect(ports.size).toBeGreaterThanOrEqual(2 + 3 * 2); // etcd's two, each node's gRPC and metrics

      up.child.kill('SIGKILL');
      expect(await up.exited).toBe(null);
      const killedAtMs = Date.now();
      // Gone: exited, or a zombie not reaped yet (it holds no port).
      await waitFor(
        () => pids.every((pid) => procStat(pid) === undefined),
        `etcd and the nodes to exit within ${nodesGoneWithinMs} ms of up's SIGKILL`,
        nodesGoneWithinMs,
        50,
      );
      const goneAfterMs = Date.now() - killedAtMs;
      expect(processGroupMembers(group)).toEqual([]);
      for (const port of ports) expect(await portFree(port), `port ${port}`).toBe(true);
      for (const id of nodes.keys()) {
        // The kernel's SIGTERM drained them ("drain, then exit", to the end), not a crash; its
        // repeats (one per exiting thread of up) joined that drain, they did not cut it short.
        const log = readFileSync(join(dir, 'data', `${id}.log`), 'utf8');
        expect(log, id).toMatch(/"signal":"SIGTERM"[^\n]*draining before exit/);
        expect(log, id).not.toContain('second signal');
        expect(log, id).toContain('node stopped');
      }
      console.log(`nodes gone ${goneAfterMs} ms after up's SIGKILL`);
    } finally {
      up.killAll();
      try {
        process.kill(-group, 'SIGKILL');
      } catch {
        // the group is empty
      }
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
