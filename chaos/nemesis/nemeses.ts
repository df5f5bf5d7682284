/**
 * The nemeses: each injects one fault into a running chaos cluster and knows how to heal it.
 * Choices (which node, which pair) come from the run's seeded PRNG, so a schedule is
 * reproducible from seed and scenario.
 */
import { MeterfabricError } from '../../core/errors.js';
import type { Prng } from '../runner/prng.js';
import type { NetworkFaults } from './network.js';
import { clockSkewPrimary, powerLoss } from './power-and-clock.js';

/** What a nemesis may do to node processes (implemented by the chaos cluster). */
export interface ProcessControl {
  readonly nodeIds: readonly string[];
  kill(nodeId: string): Promise<void>;
  /** SIGTERM: the node drains (hands its primaries over) and exits; SIGKILL if it hangs. */
  terminate(nodeId: string): Promise<void>;
  restart(nodeId: string): Promise<void>;
  pause(nodeId: string): void;
  resume(nodeId: string): void;
  /** The node that is primary of the most partitions right now, if known. */
  busiestPrimary(): Promise<string | undefined>;
  /** Partitions each node is configured primary of right now (from etcd). */
  primaryCounts(): Promise<Map<string, number>>;
}

export type NemesisContext = {
  network: NetworkFaults;
  processes: ProcessControl;
  leaseTtlMs: number;
};

export type Fault = {
  nemesis: NemesisName;
  description: string;
  targets: string[];
  /** The shortest time the fault must stay in place to matter (e.g. a pause past the lease). */
  minDurationMs: number;
  heal(): Promise<void>;
};

export type NemesisName =
  | 'kill'
  | 'kill-all'
  | 'restart-graceful'
  | 'pause'
  | 'pause-primary'
  | 'partition-minority'
  | 'isolate-primary'
  | 'isolate-etcd'
  | 'one-way'
  | 'latency'
  | 'rst-storm'
  | 'bandwidth'
  | 'power-loss'
  | 'clock-skew-primary';

export const nemesisNames: readonly NemesisName[] = [
  'kill',
  'kill-all',
  'restart-graceful',
  'pause',
  'pause-primary',
  'partition-minority',
  'isolate-primary',
  'isolate-etcd',
  'one-way',
  'latency',
  'rst-storm',
  'bandwidth',
];

/**
 * Nemeses aimed at the injected bugs (`power-and-clock.ts`), not (yet) drawn by `mixed`: each
 * is a scenario of its own. `clock-skew-primary` needs MF_CHAOS_CLOCK_CONTROL (see README).
 */
export const targetedNemesisNames: readonly NemesisName[] = ['power-loss', 'clock-skew-primary'];

function unsupported(name: NemesisName, network: NetworkFaults): never {
  throw new MeterfabricError(
    'MF_CHAOS_UNSUPPORTED',
    `nemesis ${name} needs the proxy network; the ${network.kind} network can only cut links`,
  );
}

export async function injectFault(name: NemesisName, ctx: NemesisContext, rng: Prng): Promise<Fault> {
  const nodes = ctx.processes.nodeIds;
  const network = ctx.network;
  const heal = () => network.heal();
  const isolate = (node: string) => network.isolate(node, nodes);
  switch (name) {
    case 'power-loss':
      return powerLoss(ctx, rng);
    case 'clock-skew-primary':
      return clockSkewPrimary(ctx, rng);
    case 'kill': {
      const node = rng.pick(nodes);
      await ctx.processes.kill(node);
      return {
        nemesis: name,
        description: `kill -9 ${node}, restart on heal`,
        targets: [node],
        minDurationMs: 1_000,
        heal: () => ctx.processes.restart(node),
      };
    }
    case 'kill-all': {
      // A whole-cluster crash (power loss): only what was on disk survives, so an
      // acknowledgement given before persisting shows up as a lost write.
      await Promise.all(nodes.map((node) => ctx.processes.kill(node)));
      return {
        nemesis: name,
        description: `kill -9 every node at once, restart all on heal`,
        targets: [...nodes],
        minDurationMs: 500,
        heal: async () => {
          await Promise.all(nodes.map((node) => ctx.processes.restart(node)));
        },
      };
    }
    case 'restart-graceful': {
      // Service Fabric's graceful restart: primaries move while the old primary is alive and
      // holds a valid lease, so only epoch fencing stops it from writing after the move.
      const node = (await ctx.processes.busiestPrimary()) ?? rng.pick(nodes);
      await ctx.processes.terminate(node);
      return {
        nemesis: name,
        description: `SIGTERM ${node} (drain: hand primaries over, exit), restart on heal`,
        targets: [node],
        minDurationMs: 500,
        heal: () => ctx.processes.restart(node),
      };
    }
    case 'pause-primary':
    case 'pause': {
      const node =
        name === 'pause-primary'
          ? ((await ctx.processes.busiestPrimary()) ?? rng.pick(nodes))
          : rng.pick(nodes);
      ctx.processes.pause(node);
      return {
        nemesis: name,
        description: `SIGSTOP ${node} past its lease, SIGCONT on heal`,
        targets: [node],
        minDurationMs: Math.round(ctx.leaseTtlMs * 1.5),
        heal: async () => ctx.processes.resume(node),
      };
    }
    case 'partition-minority': {
      const node = rng.pick(nodes);
      await isolate(node);
      return {
        nemesis: name,
        description: `partition: {${node}} | {${nodes.filter((n) => n !== node).join(',')},etcd}`,
        targets: [node],
        minDurationMs: Math.round(ctx.leaseTtlMs * 1.5),
        heal,
      };
    }
    case 'isolate-primary': {
      const node = (await ctx.processes.busiestPrimary()) ?? rng.pick(nodes);
      await isolate(node);
      return {
        nemesis: name,
        description: `isolate the busiest primary ${node} from peers and etcd`,
        targets: [node],
        minDurationMs: Math.round(ctx.leaseTtlMs * 1.5),
        heal,
      };
    }
    case 'isolate-etcd': {
      const node = rng.pick(nodes);
      await network.cutFromEtcd(node);
      return {
        nemesis: name,
        description: `cut ${node} from etcd only (peers still reachable)`,
        targets: [node],
        minDurationMs: Math.round(ctx.leaseTtlMs * 1.5),
        heal,
      };
    }
    case 'one-way': {
      const from = rng.pick(nodes);
      const to = rng.pick(nodes.filter((n) => n !== from));
      await network.cutOneWay(from, to);
      return {
        nemesis: name,
        description: `one-way: ${from} cannot reach ${to} (${to} can still reach ${from})`,
        targets: [from, to],
        minDurationMs: 2_000,
        heal,
      };
    }
    case 'latency': {
      const latencyMs = rng.int(20, 100);
      const jitterMs = Math.round(latencyMs / 2);
      if (!network.latency) unsupported(name, network);
      await network.latency(latencyMs, jitterMs);
      return {
        nemesis: name,
        description: `latency ${latencyMs} ± ${jitterMs} ms on every link`,
        targets: [...nodes],
        minDurationMs: 2_000,
        heal,
      };
    }
    case 'rst-storm': {
      const toxicity = 0.5;
      if (!network.resetStorm) unsupported(name, network);
      await network.resetStorm(toxicity);
      return {
        nemesis: name,
        description: `RST storm: half of new node-to-node connections reset on first data`,
        targets: [...nodes],
        minDurationMs: 2_000,
        heal,
      };
    }
    case 'bandwidth': {
      const rateKBps = rng.pick([16, 64, 256]);
      if (!network.bandwidth) unsupported(name, network);
      await network.bandwidth(rateKBps);
      return {
        nemesis: name,
        description: `bandwidth ${rateKBps} KB/s on every link`,
        targets: [...nodes],
        minDurationMs: 2_000,
        heal,
      };
    }
  }
}
