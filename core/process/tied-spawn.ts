import { spawnSync } from 'node:child_process';

/**
 * How a child process is tied to the process that spawns it, so that it does not outlive a
 * SIGKILLed parent (`meterfabric up`, a test process) and keep its ports, leases and data locks.
 *
 * util-linux `setpriv --pdeathsig` arms the kernel's parent-death signal (prctl
 * PR_SET_PDEATHSIG) and execs; `sh -c` then starts the command only if the spawning process is
 * still its parent, and execs too: the PID `spawn` reports is the command's own, so the caller
 * records and signals that PID as before. The kernel sends the signal when the *thread* that
 * forked the child ends: libuv forks from the thread calling spawn(), so spawn tied children
 * from the main thread (from a worker_thread, the child is signalled when that worker ends).
 * Without a usable setpriv (not Linux, util-linux older than 2.33) the command is spawned as it
 * is, untied, in the caller's process group; callers warn once (`warnUntiedOnce`).
 *
 * Used by cluster/etcd/ (etcd, in a group of its own) and cluster/node/node-launcher.ts (the
 * nodes `up` supervises, in `up`'s group so a terminal's Ctrl-C reaches them).
 */

/** What the child gets when its parent dies: SIGTERM, the signal our children shut down on. */
export const parentDeathSignal = 'SIGTERM';

/**
 * `word` as one sh word: as is when it holds only characters sh takes literally, else in single
 * quotes (a `'` inside written as '\''), as Python's shlex.quote does.
 */
export function shellWord(word: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/**
 * Run by sh between setpriv and the command. A parent that died after fork but before setpriv
 * armed the signal (a window of a few ms) would leave the child untied: then the shell's parent
 * is no longer the process that spawned it ($0 holds that PID), and the command is not started.
 * `exec` keeps the PID.
 */
function startIfParentAlive(command: string): string {
  return `[ "$PPID" = "$0" ] && exec ${shellWord(command)} "$@"`;
}

export type TiedSpawnPlan = {
  command: string;
  args: string[];
  /** Own session and process group (setsid): no terminal signal reaches it. */
  detached: boolean;
};

export type Tie = {
  /** `setprivPdeathsigUsable()`; false: the command as it is, untied. */
  setprivUsable: boolean;
  /** The process that will spawn the child (`process.pid`). */
  parentPid: number;
  /**
   * A process group of its own (etcd: Ctrl-C must not stop it before the nodes drain through
   * it) or the parent's (the nodes: Ctrl-C must reach them). Only when tied: an untied child in
   * a group of its own would be stopped by nothing but an explicit kill.
   */
  ownProcessGroup: boolean;
};

/** Pure: how to spawn `command` with `args`, tied to `tie.parentPid` when setpriv is usable. */
export function tiedSpawnPlan(command: string, args: readonly string[], tie: Tie): TiedSpawnPlan {
  if (!tie.setprivUsable) return { command, args: [...args], detached: false };
  return {
    command: 'setpriv',
    args: [
      '--pdeathsig',
      parentDeathSignal,
      '--',
      'sh',
      '-c',
      startIfParentAlive(command),
      String(tie.parentPid),
      ...args,
    ],
    detached: tie.ownProcessGroup,
  };
}

let setprivUsable: boolean | undefined;

/** True when `setpriv --pdeathsig` runs here (util-linux 2.33+ on PATH, and sh); probed once. */
export function setprivPdeathsigUsable(): boolean {
  setprivUsable ??=
    spawnSync('setpriv', ['--pdeathsig', parentDeathSignal, '--', 'sh', '-c', 'exit 0'], {
      stdio: 'ignore',
    }).status === 0;
  return setprivUsable;
}

const warnedUntied = new Set<string>();

/**
 * A process warning (`process.emitWarning`) said once per process and `code`: what runs untied
 * and what that risks, for callers whose `setprivPdeathsigUsable()` was false.
 */
export function warnUntiedOnce(code: string, message: string): void {
  if (warnedUntied.has(code)) return;
  warnedUntied.add(code);
  process.emitWarning(message, { code });
}
