import type { Clock } from '../../core/clock.js';
import { MeterfabricError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';

/**
 * Durable reminders: stored in the partition's replicated reminder dictionary, scheduled on
 * whichever node is primary. A reminder fires as an actor call whose idempotency key names the
 * reminder and its due time, so firing again after a failover (the old primary fired but had
 * not deleted it yet) is answered from the actor's dedup table: it runs once.
 */
export type Reminder = {
  service: string;
  key: string;
  name: string;
  dueAtMs: number;
  method: string;
  arg: unknown;
  idem: string;
};

/** The replicated dictionary behind reminders (one per partition). */
export interface ReminderStore {
  list(): Promise<Reminder[]>;
  put(reminder: Reminder): Promise<void>;
  /** Deletes the reminder if the stored one is still this one (same idem). */
  remove(reminder: Reminder): Promise<void>;
  /** The reminder stored under `reminder`'s id (service, key, name), whatever its idem. */
  get(reminder: Reminder): Promise<Reminder | undefined>;
  /**
   * Resolves once every write this primary proposed before the call is committed and applied
   * (one empty replicated operation: the log commits in order), so a read after it sees the
   * outcome of a write that failed with an unknown outcome. Rejects as a write does.
   */
  settle(): Promise<void>;
}

export function reminderId(r: Pick<Reminder, 'service' | 'key' | 'name'>): string {
  return `${r.service}|${r.key}|${r.name}`;
}

/** Bound on reminders scheduled per partition. */
export const maxRemindersPerPartition = 100_000;
const retryDelayMs = 500;
/**
 * Reminders of turns whose persist outcome is unknown, waiting to be reconciled, per partition.
 * Beyond it a reminder is not reconciled here (logged): it fires when the partition is next
 * activated (the next primary's start()), as before reconciling existed.
 */
export const maxPendingReconciles = 10_000;
/** Settle attempts per round before the pending reminders are given up (logged), and their backoff. */
export const maxReconcileAttempts = 40;
const reconcileFirstDelayMs = 100;
const reconcileMaxDelayMs = 15_000;
/** setTimeout's limit; later reminders are re-armed when this elapses. */
const maxTimerMs = 2 ** 31 - 1;

export class ReminderScheduler {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  /** Reminder id -> idem of the reminder scheduled under it. */
  private readonly idems = new Map<string, string>();
  private stopped = false;
  /** Reminders whose commit is unknown (a failed persist), oldest first; bounded. */
  private pending: Reminder[] = [];
  private reconciling = false;

  constructor(
    private readonly store: ReminderStore,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly fire: (reminder: Reminder) => Promise<unknown>,
  ) {}

  async start(): Promise<void> {
    for (const reminder of await this.store.list()) this.schedule(reminder);
  }

  /** Stores (one replicated write each) and schedules reminders: for a decision without an event. */
  async register(reminders: readonly Reminder[]): Promise<void> {
    for (const reminder of this.admit(reminders)) {
      await this.store.put(reminder);
      this.schedule(reminder);
    }
  }

  /**
   * The reminders that need a write, checked against the bound before anything is written:
   * registering the reminder already scheduled (same id and idem) is a no-op, so an actor may
   * re-arm its reminder on every call without a replicated write each time.
   */
  admit(reminders: readonly Reminder[]): Reminder[] {
    const fresh = reminders.filter((r) => this.idems.get(reminderId(r)) !== r.idem);
    const newIds = new Set(fresh.map(reminderId).filter((id) => !this.timers.has(id)));
    if (this.timers.size + newIds.size > maxRemindersPerPartition) {
      throw new MeterfabricError(
        'MF_REMINDER_LIMIT',
        `partition already holds ${this.timers.size} of at most ${maxRemindersPerPartition} reminders`,
      );
    }
    return fresh;
  }

  /**
   * Schedules reminders already committed to the store by someone else (the persistence
   * engine, in the event's replicated operation). Never call it before that commit.
   */
  scheduleCommitted(reminders: readonly Reminder[]): void {
    for (const reminder of reminders) this.schedule(reminder);
  }

  /**
   * A persist carrying these reminders failed, its outcome unknown (a quorum timeout may still
   * commit on this primary): once the store has settled, each one stored under its id with
   * the same idem gets a timer, the others none. Done in the background, one round per batch:
   * a settle that fails is retried with backoff, at most maxReconcileAttempts times in a row.
   * stop() (deactivation) drops what is pending: the next primary's start() loads the store.
   */
  reconcile(reminders: readonly Reminder[]): void {
    if (this.stopped || reminders.length === 0) return;
    const room = maxPendingReconciles - this.pending.length;
    if (reminders.length > room) {
      this.logger.warn(
        { dropped: reminders.length - Math.max(0, room), bound: maxPendingReconciles },
        'reminder reconcile queue full: those reminders fire once the partition is next activated',
      );
    }
    if (room > 0) this.pending.push(...reminders.slice(0, room));
    if (!this.reconciling) void this.reconcileLoop();
  }

  /** Reminders waiting for their outcome to be known (0 once every reconcile is done). */
  get pendingReconciles(): number {
    return this.pending.length;
  }

  private async reconcileLoop(): Promise<void> {
    this.reconciling = true;
    let attempts = 0;
    let delayMs = reconcileFirstDelayMs;
    try {
      while (!this.stopped && this.pending.length > 0) {
        // Taken before the settle: reminders added meanwhile need a later settle of their own.
        const count = this.pending.length;
        const stored: (Reminder | undefined)[] = [];
        try {
          await this.store.settle();
          for (const reminder of this.pending.slice(0, count)) stored.push(await this.store.get(reminder));
        } catch (err) {
          if (this.stopped) return;
          if (++attempts >= maxReconcileAttempts) {
            this.logger.warn(
              { reminders: count, attempts, err: String(err) },
              'reminder reconcile gave up: the store did not settle; those reminders fire once the partition is next activated',
            );
            this.pending.splice(0, count);
            attempts = 0;
            delayMs = reconcileFirstDelayMs;
            continue;
          }
          await new Promise((r) => setTimeout(r, delayMs).unref());
          delayMs = Math.min(reconcileMaxDelayMs, delayMs * 2);
          continue;
        }
        if (this.stopped) return;
        const batch = this.pending.splice(0, count);
        attempts = 0;
        delayMs = reconcileFirstDelayMs;
        batch.forEach((reminder, i) => {
          const found = stored[i];
          // Not committed, or replaced since by a later registration (which scheduled itself),
          // or already fired and removed: no timer. Already scheduled with this idem (an actor
          // re-registered it after recovering): its timer stays, no second one.
          if (found?.idem !== reminder.idem) return;
          if (this.idems.get(reminderId(reminder)) === reminder.idem) return;
          this.schedule(found);
        });
      }
    } finally {
      this.reconciling = false;
    }
  }

  get scheduled(): number {
    return this.timers.size;
  }

  private schedule(reminder: Reminder): void {
    if (this.stopped) return;
    const id = reminderId(reminder);
    const previous = this.timers.get(id);
    if (previous) clearTimeout(previous);
    this.idems.set(id, reminder.idem);
    const delayMs = Math.min(maxTimerMs, Math.max(0, reminder.dueAtMs - this.clock.now()));
    const timer = setTimeout(() => {
      if (reminder.dueAtMs > this.clock.now()) return this.schedule(reminder);
      void this.run(reminder);
    }, delayMs);
    timer.unref();
    this.timers.set(id, timer);
  }

  private async run(reminder: Reminder): Promise<void> {
    const id = reminderId(reminder);
    while (!this.stopped) {
      try {
        await this.fire(reminder);
        await this.store.remove(reminder);
        // Only if it is still this reminder: the fired call may have registered the next one
        // under the same id, whose timer must stay tracked (and replaceable).
        if (this.idems.get(id) === reminder.idem) {
          this.timers.delete(id);
          this.idems.delete(id);
        }
        return;
      } catch (err) {
        this.logger.warn({ reminder: id, err: String(err) }, 'reminder firing failed; retrying');
        await new Promise((r) => setTimeout(r, retryDelayMs));
      }
    }
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    this.idems.clear();
    this.pending = [];
  }
}
