import { describe, expect, it } from 'vitest';
import { etcdSpawnPlan } from '../../cluster/etcd/etcd-spawn.js';

/** The command etcd runs under (cluster/etcd/etcd-spawn.ts); the processes themselves: etcd-lifetime.int. */
describe('etcdSpawnPlan', () => {
  const etcdArgs = ['--name', 'meterfabric', '--data-dir', '/tmp/x'];

  it('with setpriv: detached, under setpriv --pdeathsig SIGTERM, then the guard given the parent PID, then the etcd args', () => {
    const plan = etcdSpawnPlan(etcdArgs, { setprivUsable: true, parentPid: 4242 });
    expect(plan.command).toBe('setpriv');
    expect(plan.detached).toBe(true);
    expect(plan.args.slice(0, 5)).toEqual(['--pdeathsig', 'SIGTERM', '--', 'sh', '-c']);
    expect(plan.args[5]).toContain('exec etcd "$@"');
    expect(plan.args.slice(6)).toEqual(['4242', ...etcdArgs]);
  });

  it("without setpriv: etcd itself, in the caller's process group (as before the tie)", () => {
    expect(etcdSpawnPlan(etcdArgs, { setprivUsable: false, parentPid: 4242 })).toEqual({
      command: 'etcd',
      args: etcdArgs,
      detached: false,
    });
  });
});
