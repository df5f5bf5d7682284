import { encodeStateOp } from '../replicator/state-ops.js';
import type { ReplicatedStore } from '../replicator/store-api.js';
import { type Reminder, type ReminderStore, reminderId } from './reminders.js';

/** Reminders as keys of the partition's replicated state (`__reminders/<service>|<key>|<name>`). */
const prefix = '__reminders/';
/** One past the prefix's last character, for an exclusive range end. */
const prefixEnd = '__reminders0';

/**
 * The replicated put that stores `reminder`: the one place its key and JSON format are made,
 * shared by `put` and by the persistence engine, which commits a decision's reminders in the
 * same replicated operation as its event.
 */
export function reminderPutOp(reminder: Reminder): Uint8Array {
  const value = new TextEncoder().encode(JSON.stringify(reminder));
  return encodeStateOp({ kind: 'put', key: prefix + reminderId(reminder), value });
}

export class ReplicatedReminderStore implements ReminderStore {
  constructor(private readonly store: ReplicatedStore) {}

  async list(): Promise<Reminder[]> {
    const entries = await this.store.scan({ gte: prefix, lt: prefixEnd });
    return entries.map(([, value]) => JSON.parse(Buffer.from(value).toString('utf8')) as Reminder);
  }

  async put(reminder: Reminder): Promise<void> {
    await this.store.replicate([reminderPutOp(reminder)]);
  }

  async get(reminder: Reminder): Promise<Reminder | undefined> {
    const value = await this.store.get(prefix + reminderId(reminder));
    return value ? (JSON.parse(Buffer.from(value).toString('utf8')) as Reminder) : undefined;
  }

  async settle(): Promise<void> {
    // An empty operation commits after every one proposed before it on this primary.
    await this.store.replicate([]);
  }

  async remove(reminder: Reminder): Promise<void> {
    const key = prefix + reminderId(reminder);
    const current = await this.store.get(key);
    if (!current) return;
    const stored = JSON.parse(Buffer.from(current).toString('utf8')) as Reminder;
    // A reminder re-registered meanwhile (new due time) must survive the old one's removal.
    if (stored.idem !== reminder.idem) return;
    await this.store.replicate([encodeStateOp({ kind: 'del', key })]);
  }
}
