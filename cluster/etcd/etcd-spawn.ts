import { type TiedSpawnPlan, tiedSpawnPlan } from '../../core/process/tied-spawn.js';

/**
 * How `etcd` is spawned: in a process group of its own, yet tied to the process that starts it
 * (core/process/tied-spawn.ts: setpriv --pdeathsig SIGTERM and a parent-alive guard, the PID
 * etcd's own).
 *
 * Own group: a terminal's Ctrl-C sends SIGINT to `up`'s whole process group. etcd in that group
 * exited at once, while the nodes were still draining (they hand over primaries and release
 * their leases through etcd). `up` stops etcd itself, by PID, once the nodes are gone.
 *
 * Tied: a detached etcd alone would outlive a SIGKILLed `up` (or test process) and keep its
 * ports. It gets SIGTERM (clean shutdown, well under 1 s) when the thread that spawned it ends:
 * start etcd from the main thread. Without a usable setpriv, etcd is spawned as before the tie:
 * in the caller's group, untied.
 */
export type EtcdSpawnPlan = TiedSpawnPlan;

/** Pure: the command that runs etcd with `etcdArgs`, tied to `parentPid` when setpriv is usable. */
export function etcdSpawnPlan(
  etcdArgs: readonly string[],
  tie: { setprivUsable: boolean; parentPid: number },
): EtcdSpawnPlan {
  return tiedSpawnPlan('etcd', etcdArgs, { ...tie, ownProcessGroup: true });
}
