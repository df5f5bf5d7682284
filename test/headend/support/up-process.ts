import { join } from 'node:path';
import { packageRoot } from '../../../core/paths.js';
import { consecutiveFreePorts } from '../../support/ports.js';
import { runningProcesses } from '../../support/proc.js';
import { type ProcessWithOutput, spawnWithOutput } from '../../support/spawn-output.js';

/** The CLI entry point the README's quick start runs (needs dist/: npm test builds first). */
export const meterfabricBin = join(packageRoot, 'bin', 'meterfabric.js');

/** Is `pid` still running (signal 0 probes without signalling)? */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * The processes of process group `pgid` still running, with their command names: the nodes
 * `up` spawned are in its group, so this sees an orphan node even when `up` never printed its
 * PID. etcd is not (it has a group of its own, cluster/etcd/etcd-spawn.ts): see `childrenOf`.
 */
export function processGroupMembers(pgid: number): { pid: number; command: string }[] {
  return runningProcesses()
    .filter((p) => p.pgrp === pgid)
    .map(({ pid, command }) => ({ pid, command }));
}

/** The running children of `ppid`, with their command names (etcd, while `up` lives). */
export function childrenOf(ppid: number): { pid: number; command: string }[] {
  return runningProcesses()
    .filter((p) => p.ppid === ppid)
    .map(({ pid, command }) => ({ pid, command }));
}

/** A `meterfabric` command running as a child process (`spawnCli`). */
export type CliProcess = ProcessWithOutput;

/**
 * `node bin/meterfabric.js <args>` as a child process, its output collected: with
 * MF_LOG_LEVEL=warn unless `env` sets it; `detached`: the leader of a process group of its own.
 * The caller owns the process (kill it in `finally`/`afterEach`).
 */
export function spawnCli(
  args: readonly string[],
  options: { env?: Record<string, string>; cwd?: string; detached?: boolean } = {},
): CliProcess {
  return spawnWithOutput(process.execPath, [meterfabricBin, ...args], {
    ...options,
    env: { ...process.env, MF_LOG_LEVEL: 'warn', ...options.env },
  });
}

export type UpProcess = CliProcess & {
  etcdPort: number;
  /** The PIDs `up` reported for what it started (etcd + the nodes). */
  pids(): number[];
  /** SIGKILLs `up` and every PID it reported: for `finally`, after a failure too. */
  killAll(): void;
};

/**
 * `meterfabric up` on loopback ports picked here, in `dir` (data under `dir/data`), with the
 * demo's output at `MF_DEMO_OUT` if the caller sets it. `extraArgs` follow the standard ones
 * (a function: made from the ports picked, for a flag that names one of them).
 */
export async function startUp(
  dir: string,
  extraArgs: readonly string[] | ((ports: { etcdPort: number; basePort: number }) => readonly string[]),
  env: Record<string, string>,
  /** Run `up` as the leader of its own process group (the nodes join it), as a terminal does. */
  options: { processGroup?: boolean } = {},
): Promise<UpProcess> {
  // etcd's client port, its peer port (`up` takes the next one) and the nodes' three, in one
  // run below the range the OS hands out for port 0 (a port the OS picked and released is one
  // it may hand to a parallel test next).
  const first = await consecutiveFreePorts(5);
  const etcdPort = first;
  const basePort = first + 2;
  const up = spawnCli(
    [
      'up',
      '--data',
      join(dir, 'data'),
      '--etcd',
      `127.0.0.1:${etcdPort}`,
      '--base-port',
      String(basePort),
      ...(typeof extraArgs === 'function' ? extraArgs({ etcdPort, basePort }) : extraArgs),
    ],
    { cwd: dir, env, detached: options.processGroup === true },
  );
  const pids = () => [...up.output().matchAll(/\(pid (\d+)/g)].map((m) => Number(m[1]));
  return {
    ...up,
    etcdPort,
    pids,
    killAll() {
      up.child.kill('SIGKILL');
      for (const pid of pids()) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    },
  };
}
