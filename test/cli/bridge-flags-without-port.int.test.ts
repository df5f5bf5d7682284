import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { packageRoot } from '../../core/paths.js';

/**
 * A flag that would do nothing in the run asked for is refused, with the reason on stderr
 * (exit 2, a configuration error, from `meterfabric demo`, the demo's own entry point and `up`
 * alike; exit 1 from the demo before session 19), before anything starts: `meterfabric demo
 * --token x` without a bridge port (it used to run the day with no bridge and no authentication), `up --no-demo --speed N` (it started
 * the bare cluster, no day to pace). Needs dist/ (npm test builds first). Without the refusal
 * the demo runs below would run a (tiny, fast) day and exit 0; bounded at 20 s all the same.
 */

const run = promisify(execFile);
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
const tempDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'mf-flags-without-port-'));
  dirs.push(dir);
  return dir;
};

async function node(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, args, {
      env: { ...process.env, MF_LOG_LEVEL: 'warn' },
      timeout: 20_000,
      killSignal: 'SIGKILL',
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number | null; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const bin = join(packageRoot, 'bin', 'meterfabric.js');
const tokenWithoutPort =
  '--token configures the bridge, which only starts with --http-port and/or --grpc-port: add one, or drop --token (without a port it would do nothing)';
const smallFastDay = [
  '--concentrators',
  '1',
  '--meters',
  '1',
  '--knx-sites',
  '0',
  '--battery-sites',
  '0',
  '--speed',
  '86400',
];

describe.skipIf(!existsSync(join(packageRoot, 'dist/actors/demo/cli.js')))(
  'flags that would be ignored are refused before anything starts',
  () => {
    it('meterfabric demo --token x without --http-port/--grpc-port: exit 2, the flag and the ports named, no output written', async () => {
      const out = join(tempDir(), 'out');
      const started = Date.now();
      const result = await node([bin, 'demo', '--token', 'x', '--out', out, ...smallFastDay]);
      expect(result.code).toBe(2);
      expect(result.stderr).toBe(
        `meterfabric demo: invalid configuration:\n  - ${tokenWithoutPort} [MF_CONFIG_INVALID]\n`,
      );
      expect(result.stdout).toBe('');
      expect(existsSync(out)).toBe(false);
      expect(Date.now() - started).toBeLessThan(10_000);
    });

    it("node dist/actors/demo/cli.js --token x (the README's direct way): the same refusal, exit 2", async () => {
      const out = join(tempDir(), 'out');
      const result = await node([
        join(packageRoot, 'dist/actors/demo/cli.js'),
        '--token',
        'x',
        '--out',
        out,
        ...smallFastDay,
      ]);
      expect(result.code).toBe(2);
      expect(result.stderr).toBe(`invalid configuration:\n  - ${tokenWithoutPort}\n`);
      expect(existsSync(out)).toBe(false);
    });

    it('meterfabric up --no-demo --speed 2: exit 2 naming --speed, before the data directory is made', async () => {
      const data = join(tempDir(), 'data');
      // --etcd at a port taken by something that is not etcd: were the refusal missing, `up`
      // would stop there (port in use, another message) instead of starting etcd and nodes.
      const notEtcd = createServer((socket) => socket.destroy());
      await new Promise<void>((done) => notEtcd.listen(0, '127.0.0.1', done));
      try {
        const { port } = notEtcd.address() as AddressInfo;
        const result = await node([
          bin,
          'up',
          '--no-demo',
          '--speed',
          '2',
          '--data',
          data,
          '--etcd',
          `127.0.0.1:${port}`,
        ]);
        expect(result.code).toBe(2);
        expect(result.stderr).toBe(
          'meterfabric up: invalid configuration:\n  - --speed configures the demo day, which --no-demo does not run: drop one of them [MF_CONFIG_INVALID]\n',
        );
        expect(existsSync(data)).toBe(false);
      } finally {
        await new Promise((done) => notEtcd.close(done));
      }
    });
  },
);
