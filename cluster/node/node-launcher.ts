import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, fstatSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { MeterfabricError } from '../../core/errors.js';
import { makeDirectorySync } from '../../core/fs/make-directory.js';
import { packageRoot } from '../../core/paths.js';
import { setprivPdeathsigUsable, tiedSpawnPlan, warnUntiedOnce } from '../../core/process/tied-spawn.js';
import { awaitNodeReport } from './ready-report.js';

/**
 * Starts `meterfabric node` as a child process (compiled build) and waits for its ready line.
 * For `up`, benchmarks and the test clusters: the caller owns the process and stops it by PID.
 */
export type LaunchOptions = {
  id: string;
  /** host:port; port 0 (recommended) lets the node bind any free port and report it. */
  listen: string;
  dataDir: string;
  etcd: string;
  logPath: string;
  env?: Record<string, string>;
  startTimeoutMs?: number;
  /** Called right after the spawn, before the wait: lets the caller own (and kill) the process at once. */
  onSpawn?: (child: ChildProcess) => void;
  /**
   * Tie the node to this process (core/process/tied-spawn.ts): it gets SIGTERM, and drains, if
   * this process dies without stopping it, e.g. a SIGKILLed `up`. It stays in this process
   * group (a terminal's Ctrl-C reaches it) and the PID is the node's own. Spawn from the main
   * thread. Default false: the node outlives its launcher. Every launcher in this repository
   * asks for the tie (`up`, the benches, the test clusters): a crashed test or bench would
   * otherwise leave nodes holding ports and etcd leases.
   */
  tiedToLauncher?: boolean;
};

export type LaunchedNode = {
  id: string;
  pid: number;
  process: ChildProcess;
  exited: Promise<number | null>;
  /** The gRPC address the node reported it bound (`listen` with port 0 gets the OS's pick). */
  address: string;
};

/**
 * Extra node flags for every launched node, e.g. `MF_NODE_EXEC_ARGV='--cpu-prof
 * --cpu-prof-dir=/tmp/prof'` to profile the nodes under a benchmark (space-separated).
 */
function extraExecArgv(env: Record<string, string | undefined>): string[] {
  return (env.MF_NODE_EXEC_ARGV ?? '').split(/\s+/).filter((a) => a.length > 0);
}

/**
 * setpriv is usable; else warns once that tied nodes run untied (MF_NODES_UNTIED). Also for
 * launchers that spawn `meterfabric node` themselves (chaos/runner/chaos-cluster.ts).
 */
export function nodeTieUsable(): boolean {
  if (setprivPdeathsigUsable()) return true;
  warnUntiedOnce(
    'MF_NODES_UNTIED',
    'setpriv --pdeathsig is not usable here (util-linux 2.33+ is needed): the nodes started here keep running, ' +
      'holding their ports and etcd leases, if this process is killed without stopping them. ' +
      'Install util-linux (apt-get install -y util-linux) to tie them to it.',
  );
  return false;
}

export async function launchNode(options: LaunchOptions): Promise<LaunchedNode> {
  makeDirectorySync(options.dataDir);
  const log = openSync(options.logPath, 'a');
  // This run's ready line is after what earlier runs of the node left in the log.
  const fromByte = fstatSync(log).size;
  const env = { ...process.env, ...options.env };
  const plan = tiedSpawnPlan(
    process.execPath,
    [
      ...extraExecArgv(env),
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
    {
      setprivUsable: options.tiedToLauncher === true && nodeTieUsable(),
      parentPid: process.pid,
      ownProcessGroup: false,
    },
  );
  const child = spawn(plan.command, plan.args, { stdio: ['ignore', log, log], env, detached: plan.detached });
  closeSync(log); // the child has its own copy
  const pid = child.pid;
  if (pid === undefined)
    throw new MeterfabricError('MF_NODE_START', `node ${options.id} could not be spawned`);
  options.onSpawn?.(child);
  let done = false;
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      done = true;
      resolve(code);
    }),
  );
  try {
    const ready = await awaitNodeReport({
      nodeId: options.id,
      logPath: options.logPath,
      event: 'ready',
      pid,
      fromByte,
      exited: () => done,
      timeoutMs: options.startTimeoutMs ?? 30_000,
    });
    return { id: options.id, pid, process: child, exited, address: ready.address };
  } catch (err) {
    if (!done) child.kill('SIGKILL');
    throw err;
  }
}
