import { spawnSync } from 'node:child_process';

/**
 * How `etcd` is spawned: in a process group of its own, yet tied to the process that starts it.
 *
 * Own group: a terminal's Ctrl-C sends SIGINT to `up`'s whole process group. etcd in that group
 * exited at once, while the nodes were still draining (they hand over primaries and release
 * their leases through etcd). `up` stops etcd itself, by PID, once the nodes are gone.
 *
 * Tied: a detached etcd alone would outlive a SIGKILLed `up` (or test process) and keep its
 * ports. util-linux `setpriv --pdeathsig` arms the kernel's parent-death signal (prctl
 * PR_SET_PDEATHSIG) and execs, so the PID `spawn` reports is etcd's own. The kernel sends it
 * when the *thread* that forked etcd ends: libuv forks from the thread calling spawn(), so
 * start etcd from the main thread (from a worker_thread, etcd is stopped when that worker ends).
 * Without a usable setpriv (not Linux, util-linux older than 2.33), etcd is spawned as before:
 * in the caller's group, untied.
 */

/** What etcd gets when its parent dies: SIGTERM, so it shuts down cleanly (well under 1 s). */
export const parentDeathSignal = 'SIGTERM';

/**
 * Run by sh between setpriv and etcd. A parent that died after fork but before setpriv armed
 * the signal (a window of a few ms) would leave etcd untied: then the shell's parent is no
 * longer the process that spawned it ($0 holds that PID), and etcd is not started. `exec`
 * keeps the PID.
 */
const startIfParentAlive = '[ "$PPID" = "$0" ] && exec etcd "$@"';

export type EtcdSpawnPlan = {
  command: string;
  args: string[];
  /** Own session and process group (setsid): no terminal signal reaches it. */
  detached: boolean;
};

/** Pure: the command that runs etcd with `etcdArgs`, tied to `parentPid` when setpriv is usable. */
export function etcdSpawnPlan(
  etcdArgs: readonly string[],
  tie: { setprivUsable: boolean; parentPid: number },
): EtcdSpawnPlan {
  if (!tie.setprivUsable) return { command: 'etcd', args: [...etcdArgs], detached: false };
  return {
    command: 'setpriv',
    args: [
      '--pdeathsig',
      parentDeathSignal,
      '--',
      'sh',
      '-c',
      startIfParentAlive,
      String(tie.parentPid),
      ...etcdArgs,
    ],
    detached: true,
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
