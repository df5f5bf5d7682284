import { distPath } from '../../core/paths.js';
import {
  setprivPdeathsigUsable,
  type TiedSpawnPlan,
  tiedSpawnPlan,
  warnUntiedOnce,
} from '../../core/process/tied-spawn.js';

/**
 * How to spawn a standalone replica process (standalone-main.js, built to dist/) with `args`
 * (`--id`, `--listen`, `--data`): tied to this process (core/process/tied-spawn.ts), as nodes
 * and etcd are, so a SIGKILLed bench or test run does not leave replicas holding their ports
 * and data locks. In this process's group (a terminal's Ctrl-C reaches them too). Without a
 * usable setpriv: untied, with one MF_REPLICAS_UNTIED warning. The PID `spawn` reports stays
 * the replica's own (setpriv and sh exec).
 */
export function standaloneReplicaSpawnPlan(args: readonly string[]): TiedSpawnPlan {
  const usable = setprivPdeathsigUsable();
  if (!usable)
    warnUntiedOnce(
      'MF_REPLICAS_UNTIED',
      'setpriv --pdeathsig is not usable here (util-linux 2.33+ is needed): the standalone replicas started here keep running, ' +
        'holding their ports and data, if this process is killed without stopping them. ' +
        'Install util-linux (apt-get install -y util-linux) to tie them to it.',
    );
  return tiedSpawnPlan(process.execPath, [distPath('cluster', 'replicator', 'standalone-main.js'), ...args], {
    setprivUsable: usable,
    parentPid: process.pid,
    ownProcessGroup: false,
  });
}
