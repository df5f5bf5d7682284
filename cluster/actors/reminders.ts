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
}

export function reminderId(r: Pick<Reminder, 'service' | 'key' | 'name'>): string {
  return `${r.service}|${r.key}|${r.name}`;
}

/** Bound on reminders scheduled per partition. */
export const maxRemindersPerPartition = 100_000;
const retryDelayMs = 500;
/** setTimeout's limit; later reminders are re-armed when this elapses. */
const maxTimerMs = 2 ** 31 - 1;

export class ReminderScheduler {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  /** Reminder id -> idem of the reminder scheduled under it. */
  private readonly idems = new Map<string, string>();
  private stopped = false;

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
  }
}
