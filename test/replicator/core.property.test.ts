import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Lsn } from '../../cluster/replicator/contract.js';
import { agreementLsn, compareProgress, epochAt } from '../../cluster/replicator/core/epoch-history.js';
import { ReplicaLogState } from '../../cluster/replicator/core/log-state.js';
import { PrimaryCore } from '../../cluster/replicator/core/primary-core.js';
import { quorumSize } from '../../cluster/replicator/core/quorum.js';
import { NO_FAULTS, parseFaults, type ReplicationFaults } from '../../cluster/replicator/faults.js';

/**
 * A simulated three-replica partition driven only by the pure core: writes, message
 * deliveries in any order, crashes, restarts, and reconfigurations done the way the failover
 * manager does them (fence a majority, pick the highest (epoch, LSN), new epoch + barrier).
 * Every replica's log is what it has persisted (the simulation persists on append).
 */
type Entry = { lsn: Lsn; epoch: number; payload: string };
type SimReplica = {
  id: string;
  alive: boolean;
  log: Entry[]; // index i holds LSN i+1
  state: ReplicaLogState;
  primary?: { core: PrimaryCore; synced: Map<string, Lsn> }; // next LSN to send per secondary
};

type Action =
  | { kind: 'write' }
  | { kind: 'deliver'; from: number; to: number }
  | { kind: 'crash'; who: number }
  | { kind: 'restart'; who: number }
  | { kind: 'reconfigure'; unreached: number | null };

const ids = ['a', 'b', 'c'];

class Sim {
  replicas: SimReplica[];
  epoch = 0;
  committed = new Map<Lsn, Entry>();
  writes = 0;

  constructor(faults: ReplicationFaults) {
    this.replicas = ids.map((id) => ({
      id,
      alive: true,
      log: [],
      state: new ReplicaLogState(
        `sim/${id}`,
        { fencedEpoch: 0, history: [], logStartLsn: 1, lastPersistedLsn: 0, appliedLsn: 0 },
        faults,
      ),
    }));
    this.reconfigure();
  }

  private recordCommit(primary: SimReplica, commitLsn: Lsn): void {
    for (let lsn = 1; lsn <= commitLsn; lsn++) {
      const entry = primary.log[lsn - 1]!;
      const earlier = this.committed.get(lsn);
      if (earlier) {
        if (earlier.payload !== entry.payload) throw new Error(`committed LSN ${lsn} changed`);
        continue;
      }
      // commit LSN never exceeds what a majority persisted
      const holders = this.replicas.filter((r) => r.log[lsn - 1]?.payload === entry.payload).length;
      if (holders < quorumSize(ids.length)) throw new Error(`LSN ${lsn} committed on ${holders} replicas`);
      this.committed.set(lsn, entry);
    }
  }

  write(): void {
    const p = this.replicas.find((r) => r.alive && r.primary);
    if (!p?.primary) return;
    let header: { lsn: Lsn; epoch: number };
    try {
      header = p.primary.core.propose();
    } catch {
      return; // queue full
    }
    this.append(p, { ...header, payload: `w${this.writes++}` });
    const commit = p.primary.core.onPersisted(p.id, header.lsn);
    if (commit !== null) this.recordCommit(p, commit);
  }

  private append(r: SimReplica, entry: Entry): void {
    r.state.append([entry]);
    r.log.push(entry);
    r.state.markPersisted(entry.lsn);
  }

  deliver(fromIndex: number, toIndex: number): void {
    const from = this.replicas[fromIndex]!;
    const to = this.replicas[toIndex]!;
    if (from === to || !from.alive || !to.alive || !from.primary) return;
    const { core, synced } = from.primary;
    try {
      to.state.checkEpoch(core.epoch);
    } catch {
      from.primary = undefined; // refused: the sender learns it was deposed
      return;
    }
    to.state.fence(core.epoch);
    if (to.primary && to.primary.core.epoch < core.epoch) to.primary = undefined;
    let next = synced.get(to.id);
    if (next === undefined) {
      // handshake: find where the logs agree and cut the secondary's false progress
      const keep = agreementLsn(
        { history: from.state.history, lastLsn: from.state.lastLsn },
        { history: to.state.history, lastLsn: to.state.lastLsn },
      );
      to.state.truncateAfter(Math.max(keep, to.state.appliedLsn));
      to.log.length = to.state.lastLsn;
      next = to.state.lastLsn + 1;
    }
    const entry = from.log[next - 1];
    if (entry) {
      this.append(to, entry);
      next += 1;
    }
    synced.set(to.id, next);
    const commit = core.onPersisted(to.id, to.state.persistedLsn);
    if (commit !== null) this.recordCommit(from, commit);
  }

  crash(who: number): void {
    const r = this.replicas[who]!;
    r.alive = false;
    r.primary = undefined;
    for (const other of this.replicas) other.primary?.synced.delete(r.id);
  }

  restart(who: number): void {
    this.replicas[who]!.alive = true;
  }

  /** `unreached`: a replica the failover manager cannot reach (paused, partitioned): it is not fenced. */
  reconfigure(unreached: number | null = null): void {
    const live = this.replicas.filter((r, i) => r.alive && i !== unreached);
    if (live.length < quorumSize(ids.length)) return; // quorum loss: elect nobody
    this.epoch += 1;
    const answers = live.map((r) => {
      const result = r.state.fence(this.epoch);
      r.primary = undefined; // a fenced primary steps down
      return { r, ...result };
    });
    answers.sort((x, y) => compareProgress(y, x));
    const chosen = answers[0]!.r;
    // THE property: the new primary holds every committed operation
    for (const [lsn, entry] of this.committed) {
      const held = chosen.log[lsn - 1];
      if (held?.payload !== entry.payload || held.epoch !== entry.epoch) {
        throw new Error(`new primary ${chosen.id} (epoch ${this.epoch}) lacks committed LSN ${lsn}`);
      }
    }
    for (const other of this.replicas) other.primary?.synced.delete(chosen.id);
    const core = new PrimaryCore({
      partition: 'sim',
      epoch: this.epoch,
      self: chosen.id,
      voters: ids,
      lastLsn: chosen.state.lastLsn,
      committedLsn: chosen.state.committedLsn,
      maxQueueOps: 1000,
    });
    chosen.primary = { core, synced: new Map() };
    const barrier = core.propose();
    this.append(chosen, { ...barrier, payload: `barrier${this.epoch}` });
    core.onPersisted(chosen.id, barrier.lsn);
  }

  run(action: Action): void {
    if (action.kind === 'write') this.write();
    else if (action.kind === 'deliver') this.deliver(action.from, action.to);
    else if (action.kind === 'crash') this.crash(action.who);
    else if (action.kind === 'restart') this.restart(action.who);
    else this.reconfigure(action.unreached);
  }
}

const replicaIndex = fc.integer({ min: 0, max: 2 });
const action: fc.Arbitrary<Action> = fc.oneof(
  { weight: 4, arbitrary: fc.constant<Action>({ kind: 'write' }) },
  {
    weight: 6,
    arbitrary: fc.record({ kind: fc.constant('deliver' as const), from: replicaIndex, to: replicaIndex }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('crash' as const), who: replicaIndex }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('restart' as const), who: replicaIndex }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('reconfigure' as const),
      unreached: fc.option(replicaIndex, { nil: null }),
    }),
  },
);

function simulate(actions: readonly Action[], faults: ReplicationFaults): Sim {
  const sim = new Sim(faults);
  for (const a of actions) sim.run(a);
  for (const r of sim.replicas) r.alive = true;
  sim.reconfigure(null); // final failover must keep everything committed
  return sim;
}

describe('replication core under crashes and reconfigurations (property)', () => {
  it('commit LSN never exceeds what a majority persisted, and every new primary holds every committed operation', () => {
    let mostCommitted = 0;
    let mostEpochs = 0;
    fc.assert(
      fc.property(fc.array(action, { maxLength: 300, size: 'max' }), (actions) => {
        const sim = simulate(actions, NO_FAULTS);
        mostCommitted = Math.max(mostCommitted, sim.committed.size);
        mostEpochs = Math.max(mostEpochs, sim.epoch);
        expect(epochAt(sim.replicas[0]!.state.history, 0)).toBe(0);
      }),
      { numRuns: 400 },
    );
    // the runs did exercise commits across several failovers
    expect(mostCommitted).toBeGreaterThanOrEqual(5);
    expect(mostEpochs).toBeGreaterThan(5);
  });

  it('the checker catches a broken protocol: with epoch fencing skipped, a deposed primary loses committed data', () => {
    const broken = parseFaults('skip-epoch-fencing');
    // Search for a counterexample; if the checker could not see the fault it would find none.
    const outcome = fc.check(
      fc.property(fc.array(action, { maxLength: 300, size: 'max' }), (actions) => {
        simulate(actions, broken);
      }),
      { numRuns: 2000, seed: 42 },
    );
    expect(outcome.failed).toBe(true);
  });
});
