import type { Lsn } from '../cluster/replicator/contract.js';
import { encodeStateOp, type StateOp } from '../cluster/replicator/state-ops.js';
import type { ReplicatedStore } from '../cluster/replicator/store-api.js';
import { MeterfabricError } from '../core/errors.js';

/** Operations one transaction may carry: bounds the size of one replicated log entry. */
export const MAX_TRANSACTION_OPS = 10_000;

export class TransactionError extends MeterfabricError {
  constructor(code: 'MF_TX_CLOSED' | 'MF_TX_TOO_LARGE', message: string) {
    super(code, message);
    this.name = 'TransactionError';
  }
}

/**
 * Mutations of any collections of one partition, replicated as ONE operation list (one
 * `replicate()` call): they apply atomically, in order, on every replica, or not at all.
 * Reads through the transaction see its own writes first.
 */
export class Transaction {
  private readonly ops: StateOp[] = [];
  private readonly overlay = new Map<string, Uint8Array | null>();
  private readonly finishers: Array<(committed: boolean) => void> = [];
  private state: 'open' | 'committing' | 'committed' | 'aborted' = 'open';

  constructor(readonly store: ReplicatedStore) {}

  get isOpen(): boolean {
    return this.state === 'open';
  }

  private assertOpen(): void {
    if (this.state !== 'open') {
      throw new TransactionError('MF_TX_CLOSED', `transaction is ${this.state}; start a new one`);
    }
  }

  put(key: string, value: Uint8Array): void {
    this.push({ kind: 'put', key, value });
    this.overlay.set(key, value);
  }

  del(key: string): void {
    this.push({ kind: 'del', key });
    this.overlay.set(key, null);
  }

  private push(op: StateOp): void {
    this.assertOpen();
    if (this.ops.length >= MAX_TRANSACTION_OPS) {
      throw new TransactionError(
        'MF_TX_TOO_LARGE',
        `a transaction holds at most ${MAX_TRANSACTION_OPS} operations; split the work into several transactions`,
      );
    }
    encodeStateOp(op); // validates key and value bounds now, not at commit
    this.ops.push(op);
  }

  /** The value as this transaction sees it: its own write, else the committed state. */
  async get(key: string): Promise<Uint8Array | undefined> {
    const own = this.overlay.get(key);
    if (own !== undefined) return own ?? undefined;
    return this.store.get(key);
  }

  /** Written (non-null) or deleted (null) by this transaction; undefined if untouched. */
  ownWrite(key: string): Uint8Array | null | undefined {
    return this.overlay.get(key);
  }

  /** Runs once the transaction commits or aborts (e.g. to release a dequeued item's reservation). */
  onFinish(finisher: (committed: boolean) => void): void {
    this.finishers.push(finisher);
  }

  /** Replicates the transaction; resolves with its LSN after quorum commit (0 if it changed nothing). */
  async commit(): Promise<Lsn> {
    this.assertOpen();
    if (this.ops.length === 0) {
      this.finish('committed');
      return 0;
    }
    this.state = 'committing';
    try {
      const lsn = await this.store.replicate(this.ops.map(encodeStateOp));
      this.finish('committed');
      return lsn;
    } catch (err) {
      this.finish('aborted');
      throw err;
    }
  }

  abort(): void {
    if (this.state === 'open') this.finish('aborted');
  }

  private finish(state: 'committed' | 'aborted'): void {
    this.state = state;
    for (const finisher of this.finishers.splice(0)) finisher(state === 'committed');
  }
}
