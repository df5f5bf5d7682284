import { spawn } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { distPath } from '../../core/paths.js';

/**
 * `etcdHealthy` answers false within its timeout when --etcd points at a listener that is not
 * etcd and closes each connection at once. Node 20's fetch then stays pending, and with only
 * AbortSignal.timeout's unreferenced timer the process ran out of work: `up` exited 13 with no
 * message. Run in a child process (needs dist/: npm test builds first), with nothing else
 * keeping it alive, since that is where the fault shows.
 */
describe('etcdHealthy against a listener that is not etcd', () => {
  it('answers false within its timeout and the process goes on (no silent exit 13)', async () => {
    const notEtcd = createServer((socket) => socket.destroy());
    await new Promise<void>((done) => notEtcd.listen(0, '127.0.0.1', done));
    try {
      const { port } = notEtcd.address() as AddressInfo;
      const launcher = distPath('cluster', 'etcd', 'launcher.js');
      const script = `const { etcdHealthy } = await import(${JSON.stringify(launcher)});
const t = Date.now();
const healthy = await etcdHealthy('127.0.0.1:${port}', 500);
console.log(JSON.stringify({ healthy, ms: Date.now() - t }));`;
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
      });
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
      expect(code).toBe(0);
      const answer = JSON.parse(stdout) as { healthy: boolean; ms: number };
      expect(answer.healthy).toBe(false);
      expect(answer.ms).toBeLessThan(5_000);
    } finally {
      await new Promise((done) => notEtcd.close(done));
    }
  });
});
