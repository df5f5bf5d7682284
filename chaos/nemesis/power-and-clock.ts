/**
 * Two nemeses aimed at the failures the replication protocol must survive and that kill -9 of
 * one node or lease self-fencing usually hide:
 *
 * - `power-loss` (rack power loss): kill -9 every node at once, restart all but the busiest
 *   primary, so the failover manager must promote one of the restarted secondaries; the old
 *   primary returns on heal (its extra suffix is truncated). Every acknowledged write must be
 *   on a majority, so one of the restarted replicas holds it; a replica that acknowledges
 *   before persisting (the injected `ack-before-persist`) loses acknowledged writes here.
 * - `clock-skew-primary` (Jepsen's clock nemesis + a partition that heals halfway): the busiest
 *   primary's clock runs 20× slow and it is isolated until the failover manager has replaced
 *   it; its successors serve clients; then it may call its peers again, still cut from etcd
 *   and unreachable by them. It believes its lease valid and never learns of its replacement,
 *   so it goes on replicating its old epoch. Only epoch fencing on the replicas stops it (the
 *   injected `skip-epoch-fencing` lets it take them over and overwrite what its successor
 *   acknowledged).
 */
import { MeterfabricError } from '../../core/errors.js';
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

/** How long the successors serve clients before the deposed primary can call them again. */
const successorServeMs = 1_000;

/** Resolves once `node` is configured primary of no partition (or after `timeoutMs`). */
async function replaced(ctx: NemesisContext, node: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const count = await ctx.processes.primaryCounts().then(
      (counts) => counts.get(node) ?? 0,
      () => 1,
    );
    if (count === 0) return true;
    await new Promise((r) => setTimeout(r, 250));
  }
  return false;
}

export async function clockSkewPrimary(ctx: NemesisContext, rng: Prng): Promise<Fault> {
  const network = ctx.network;
  if (!network.healLink) {
    throw new MeterfabricError(
      'MF_CHAOS_UNSUPPORTED',
      `nemesis clock-skew-primary needs the proxy network; the ${network.kind} network cannot lift one link`,
    );
  }
  const nodes = ctx.processes.nodeIds;
  const node = (await ctx.processes.busiestPrimary()) ?? rng.pick(nodes);
  const peers = nodes.filter((n) => n !== node);
  setClockRate(node, slowClockRate);
  // 1. Cut off completely: etcd expires its lease and the failover manager replaces it, while
  //    its own slow clock says its lease is still valid (so it never steps down by itself).
  await network.isolate(node, nodes);
  const wasReplaced = await replaced(ctx, node, ctx.leaseTtlMs * 4 + 20_000);
  // 2. The successors serve clients for a while, then the partition heals halfway: the old
  //    primary can call its peers again (still cut from etcd, still unreachable by them), so it
  //    never learns of its replacement and goes on replicating its old epoch to them.
  await new Promise((r) => setTimeout(r, successorServeMs));
  for (const peer of peers) await network.healLink(node, peer);
  return {
    nemesis: 'clock-skew-primary',
    description: `clock skew: ${node}'s clock runs ${1 / slowClockRate}× slow; isolated until ${
      wasReplaced ? 'replaced' : 'the wait ran out (NOT replaced)'
    }, then it may call its peers again (still cut from etcd, unreachable by peers)`,
    targets: [node],
    minDurationMs: 3_000,
    heal: async () => {
      resetClockRate(node);
      await network.heal();
    },
  };
}
