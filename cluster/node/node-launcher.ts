import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MeterfabricError } from '../../core/errors.js';
import { packageRoot } from '../../core/paths.js';

/**
 * Starts `meterfabric node` as a child process (compiled build) and waits for its ready line.
 * For `up`, benchmarks and the chaos suite: the caller owns the process and stops it by PID.
 */
export type LaunchOptions = {
  id: string;
  listen: string;
  dataDir: string;
  etcd: string;
  logPath: string;
  env?: Record<string, string>;
  startTimeoutMs?: number;
};

export type LaunchedNode = {
  id: string;
  pid: number;
  process: ChildProcess;
  exited: Promise<number | null>;
};

export async function launchNode(options: LaunchOptions): Promise<LaunchedNode> {
  mkdirSync(options.dataDir, { recursive: true });
  const log = openSync(options.logPath, 'a');
  const child = spawn(
    process.execPath,
    [
      join(packageRoot, 'bin', 'meterfabric.js'),
      'node',
      '--id',
      options.id,
      '--listen',
      options.listen,
      '--data',
      options.dataDir,
      '--etcd',
      options.etcd,
    ],
    { stdio: ['ignore', log, log], env: { ...process.env, ...options.env } },
  );
  const pid = child.pid;
  if (pid === undefined)
    throw new MeterfabricError('MF_NODE_START', `node ${options.id} could not be spawned`);
  let done = false;
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      done = true;
      resolve(code);
    }),
  );
  const deadline = Date.now() + (options.startTimeoutMs ?? 30_000);
  const marker = `"event":"ready","nodeId":"${options.id}"`;
  for (;;) {
    if (readFileSync(options.logPath, 'utf8').includes(marker)) break;
    if (done)
      throw new MeterfabricError(
        'MF_NODE_START',
        `node ${options.id} exited during start; see ${options.logPath}`,
      );
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new MeterfabricError(
        'MF_NODE_START',
        `node ${options.id} did not start in time; see ${options.logPath}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { id: options.id, pid, process: child, exited };
}
