import { describe, expect, it } from 'vitest';
import { standaloneReplicaSpawnPlan } from '../../cluster/replicator/standalone-spawn.js';
import { distPath } from '../../core/paths.js';
import { setprivPdeathsigUsable } from '../../core/process/tied-spawn.js';

/** The processes themselves: test/replicator/processes.int.test.ts spawns them with this plan. */
describe('standaloneReplicaSpawnPlan', () => {
  it.skipIf(!setprivPdeathsigUsable())(
    "ties the replica to this process, in this process's group: setpriv execs node standalone-main.js with the args",
    () => {
      const plan = standaloneReplicaSpawnPlan(['--id', 's1', '--listen', '127.0.0.1:0']);
      expect(plan.command).toBe('setpriv');
      expect(plan.detached).toBe(false);
      expect(plan.args.slice(0, 5)).toEqual(['--pdeathsig', 'SIGTERM', '--', 'sh', '-c']);
      expect(plan.args[5]).toBe(`[ "$PPID" = "$0" ] && exec ${process.execPath} "$@"`);
      expect(plan.args.slice(6)).toEqual([
        String(process.pid),
        distPath('cluster', 'replicator', 'standalone-main.js'),
        '--id',
        's1',
        '--listen',
        '127.0.0.1:0',
      ]);
    },
  );
});
