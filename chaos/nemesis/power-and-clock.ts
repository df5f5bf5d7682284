/**
 * Two nemeses aimed at the failures the replication protocol must survive and that kill -9 of
 * one node or lease self-fencing usually hide:
 *
 * - `power-loss` (rack power loss): kill -9 every node at once, restart all but the busiest
 *   primary, so the failover manager must promote one of the restarted secondaries; the old
 *   primary returns on heal (its extra suffix is truncated). Every acknowledged write must be
 *   on a majority, so one of the restarted replicas holds it; a replica that acknowledges
 *   before persisting (the injected `ack-before-persist`) loses acknowledged writes here.
 * - `clock-skew-primary` (Jepsen's clock nemesis): the busiest primary's clock runs 20× slow
 *   while it is cut from etcd and no peer can call it (it can still call them), so it believes
 *   its lease valid long after etcd expired it and the failover manager replaced it. Only epoch
 *   fencing on the secondaries stops it from committing (the injected `skip-epoch-fencing`).
 */
import type { Prng } from '../runner/prng.js';
import { resetClockRate, setClockRate } from './clock-control.js';
import type { Fault, NemesisContext } from './nemeses.js';

/** How much slower the deposed primary's clock runs under `clock-skew-primary`. */
export const slowClockRate = 0.05;

export async function powerLoss(ctx: NemesisContext, rng: Prng): Promise<Fault> {
  const nodes = ctx.processes.nodeIds;
  const held = (await ctx.processes.busiestPrimary()) ?? rng.pick(nodes);
  await Promise.all(nodes.map((node) => ctx.processes.kill(node)));
  const others = nodes.filter((n) => n !== held);
  await Promise.all(others.map((node) => ctx.processes.restart(node)));
  return {
    nemesis: 'power-loss',
    description: `power loss: kill -9 every node at once, restart all but the busiest primary ${held}; ${held} returns on heal`,
    targets: [...nodes],
    // etcd must expire the dead leases (FM election, membership) and the FM promote a survivor
    // before the old primary returns, with the workload running on the survivors meanwhile.
    minDurationMs: ctx.leaseTtlMs * 2 + 4_000,
    heal: () => ctx.processes.restart(held),
  };
}

export async function clockSkewPrimary(ctx: NemesisContext, rng: Prng): Promise<Fault> {
  const nodes = ctx.processes.nodeIds;
  const node = (await ctx.processes.busiestPrimary()) ?? rng.pick(nodes);
  setClockRate(node, slowClockRate);
  await ctx.network.cutFromEtcd(node);
  for (const other of nodes) if (other !== node) await ctx.network.cutOneWay(other, node);
  return {
    nemesis: 'clock-skew-primary',
    description: `clock skew: ${node}'s clock runs ${1 / slowClockRate}× slow while it is cut from etcd and from its peers' calls (it still reaches them)`,
    targets: [node],
    // past the lease as etcd counts it, the failover, and etcd3's own 2×TTL loss detection
    minDurationMs: ctx.leaseTtlMs * 3,
    heal: async () => {
      resetClockRate(node);
      await ctx.network.heal();
    },
  };
}
