/**
 * `meterfabric chaos toxiproxy` as its own process: prints its URL, serves the API to the
 * unmodified client, proxies traffic, and exits 0 on SIGTERM. Needs the build (npm test builds).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Toxiproxy } from 'toxiproxy-node-client';
import { afterAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../core/paths.js';
import { echo, RecordingClient, roundTripMs, startUpstream } from './support/sockets.js';
import { listenPort } from './support/toxiproxy-target.js';

const built = existsSync(join(packageRoot, 'dist/chaos/cli.js'));
let child: ChildProcess | undefined;

afterAll(() => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
});

describe.skipIf(!built)('meterfabric chaos toxiproxy (process)', () => {
  it('serves the Toxiproxy API on --host/--port, proxies traffic, and exits 0 on SIGTERM', async () => {
    child = spawn(
      process.execPath,
      [join(packageRoot, 'bin/meterfabric.js'), 'chaos', 'toxiproxy', '--host', '127.0.0.1', '--port', '0'],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, MF_LOG_LEVEL: 'warn' } },
    );
    const proc = child;
    const url = await new Promise<string>((resolve, reject) => {
      proc.once('exit', (code) => reject(new Error(`exited early with ${code}`)));
      createInterface({ input: proc.stdout! }).on('line', (line) => {
        const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(line);
        if (match) resolve(match[1]!);
      });
    });
    const upstream = await startUpstream(echo);
    try {
      const client = new Toxiproxy(url);
      expect(JSON.parse(await client.getVersion())).toHaveProperty('version');
      const proxy = await client.createProxy({
        name: 'cli',
        listen: '127.0.0.1:0',
        upstream: `127.0.0.1:${upstream.port}`,
      });
      const socket = new RecordingClient(listenPort(proxy.listen));
      await socket.connected;
      expect(await roundTripMs(socket)).toBeLessThan(1_000);
      socket.destroy();
    } finally {
      await upstream.close();
    }
    const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
    proc.kill('SIGTERM');
    expect(await exited).toBe(0);
  });

  it('rejects a bad --port with a clear error and exit code 2 (a configuration error)', async () => {
    const proc = spawn(
      process.execPath,
      [join(packageRoot, 'bin/meterfabric.js'), 'chaos', 'toxiproxy', '--port', 'abc'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    proc.stderr.on('data', (d) => {
      stderr += String(d);
    });
    const code = await new Promise<number | null>((resolve) => proc.once('exit', (c) => resolve(c)));
    expect(code).toBe(2);
    expect(stderr).toMatch(/--port must be an integer.*MF_CONFIG_INVALID/);
  });
});
