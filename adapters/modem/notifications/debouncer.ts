import type { DeviceEvent } from '../../field-data.js';

/**
 * Debounces modem notifications, pure. Events of one modem are held for `windowMs` from the
 * first one; when the window closes only the net change goes out: a modem that dropped and came
 * back within the window produces nothing, one that ended the window in a different state
 * produces the last event, and GPI moves collapse to one change from the first to the last
 * state. A flapping modem therefore sends at most one connection and one GPI notification per
 * window.
 */
export type DebouncerLimits = { windowMs: number; maxTrackedModems: number };

type Pending = {
  firstAtMs: number;
  connection?: { startedOnline: boolean; last: DeviceEvent };
  gpi?: { from: string; last: DeviceEvent };
  suppressed: number;
};

export class NotificationDebouncer {
  private readonly pending = new Map<string, Pending>();
  /** Settled events waiting for the next due() call. */
  private readonly ready: DeviceEvent[] = [];
  /** Events dropped because more than maxTrackedModems modems were pending at once. */
  dropped = 0;
  /** Events folded away by debouncing (flaps). */
  suppressed = 0;

  constructor(private readonly limits: DebouncerLimits) {}

  push(event: DeviceEvent): void {
    const key = event.deviceId;
    let p = this.pending.get(key);
    if (p && event.timestampMs - p.firstAtMs >= this.limits.windowMs) {
      // The window closed before this event, even if nobody has called due() since (a busy
      // event loop): settle it now so the new event opens a window of its own.
      this.pending.delete(key);
      this.ready.push(...this.settle(p));
      p = undefined;
    }
    if (!p) {
      if (this.pending.size >= this.limits.maxTrackedModems) {
        this.dropped++;
        return;
      }
      p = { firstAtMs: event.timestampMs, suppressed: 0 };
      this.pending.set(key, p);
    }
    if (event.key === 'modem.disconnected' || event.key === 'modem.reconnected') {
      if (p.connection) p.suppressed++;
      p.connection = {
        startedOnline: p.connection?.startedOnline ?? event.key === 'modem.disconnected',
        last: event,
      };
    } else if (event.key === 'modem.gpiChanged') {
      if (p.gpi) p.suppressed++;
      p.gpi = { from: p.gpi?.from ?? event.details?.from ?? '', last: event };
    }
  }

  /** Events whose window has closed by `nowMs`, net of flaps. */
  due(nowMs: number): DeviceEvent[] {
    const out = this.ready.splice(0);
    for (const [key, p] of this.pending) {
      if (nowMs - p.firstAtMs < this.limits.windowMs) continue;
      this.pending.delete(key);
      out.push(...this.settle(p));
    }
    return out;
  }

  private settle(p: Pending): DeviceEvent[] {
    const out: DeviceEvent[] = [];
    let suppressed = p.suppressed;
    if (p.connection) {
      const endsOnline = p.connection.last.key === 'modem.reconnected';
      if (endsOnline !== p.connection.startedOnline) out.push(p.connection.last);
      else suppressed++;
    }
    if (p.gpi) {
      const to = p.gpi.last.details?.to ?? '';
      if (to !== p.gpi.from)
        out.push({ ...p.gpi.last, details: { ...p.gpi.last.details, from: p.gpi.from, to } });
      else suppressed++;
    }
    this.suppressed += suppressed;
    return out;
  }

  get pendingCount(): number {
    return this.pending.size;
  }
}
