import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { packageRoot } from '../../core/paths.js';
import { consecutiveFreePorts } from '../support/ports.js';
import { waitFor } from '../support/wait.js';
import { expectSubscriberCap } from './support/subscriber-cap.js';
import { type CliProcess, spawnCli } from './support/up-process.js';

/**
 * `meterfabric demo` serving the bridges while its day runs (run-day.ts, through
 * serveIntegration): the line it prints, and --max-subscribers from the command line to the
 * gRPC API. Needs dist/ (npm test builds first).
 */

const children: ChildProcess[] = [];
const dirs: string[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function demo(args: string[]): CliProcess {
  const dir = mkdtempSync(join(tmpdir(), 'mf-demo-bridges-'));
  dirs.push(dir);
  const run = spawnCli(['demo', '--out', join(dir, 'out'), ...tinyFleet, ...args]);
  children.push(run.child);
  return run;
}

const tinyFleet = ['--concentrators', '1', '--meters', '1', '--knx-sites', '0', '--battery-sites', '0'];

describe.skipIf(!existsSync(join(packageRoot, 'dist/actors/demo/cli.js')))(
  'meterfabric demo with its bridges',
  () => {
    it('--max-subscribers 1 reaches the gRPC API: a second SubscribeEvents stream is refused (MF_TOO_MANY_SUBSCRIBERS)', {
      timeout: 120_000,
    }, async () => {
      // Below the OS's port-0 range, so no other process is handed them before the demo binds them.
      const httpPort = await consecutiveFreePorts(3);
      const grpcPort = httpPort + 1;
      const metricsPort = httpPort + 2;
      // The default pace (a day in about a minute): the checks run while the day does, and
      // SIGINT ends it early.
      const run = demo([
        '--http-port',
        String(httpPort),
        '--grpc-port',
        String(grpcPort),
        '--metrics',
        `127.0.0.1:${metricsPort}`,
        '--max-subscribers',
        '1',
      ]);
      const bridgeLine = `CIM bridge http://127.0.0.1:${httpPort}/cim, gRPC 127.0.0.1:${grpcPort} (with reflection)\n`;
      await waitFor(
        () => run.output().includes(bridgeLine) || run.child.exitCode !== null,
        'the bridges',
        60_000,
        100,
      );
      expect(run.output()).toContain(bridgeLine);

      await expectSubscriberCap({
        grpcAddress: `127.0.0.1:${grpcPort}`,
        metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
        cap: 1,
      });
      expect(run.child.exitCode).toBeNull(); // the day was still running: the bridges were up throughout

      run.child.kill('SIGINT');
      expect(await run.exited).toBe(0);
      expect(run.output()).toContain('summary');
    });

    it.each(['0', '257', 'x', '1.5'])(
      '--max-subscribers %s: exit 2 (a wrong command line) before anything starts, naming the flag and its range',
      async (value) => {
        const run = demo(['--grpc-port', '0', '--max-subscribers', value]);
        expect(await run.exited).toBe(2);
        expect(run.output()).toBe(
          `meterfabric demo: invalid configuration:\n  - --max-subscribers must be an integer from 1 to 256 (SubscribeEvents streams the gRPC API serves at once; default 16), not "${value}" [MF_CONFIG_INVALID]\n`,
        );
      },
    );
  },
);
