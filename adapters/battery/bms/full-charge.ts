import { gtx2500 } from './rules.js';

export type FullChargeOptions = {
  /** Local hour the window opens (inclusive) and closes (exclusive); default 03:00–06:00. */
  windowStartHour: number;
  windowEndHour: number;
  /** The site's offset from UTC, so "3 AM" is local time. */
  utcOffsetMinutes: number;
  belowForMs: number;
  socThresholdPct: number;
};

export const defaultFullChargeOptions: FullChargeOptions = {
  windowStartHour: gtx2500.fullChargeWindow.startHour,
  windowEndHour: gtx2500.fullChargeWindow.endHour,
  utcOffsetMinutes: 0,
  belowForMs: gtx2500.fullChargeAfterMs,
  socThresholdPct: gtx2500.fullChargeSocPct,
};

const hourMs = 3600_000;
const dayMs = 24 * hourMs;

/**
 * §5.2.4 (3): if SOC stayed below 97 % for a month, the BMS asks the PCS for a full charge (in
 * the 03:00–06:00 window) to recalibrate SOC. Once owed, the request stands (in each window)
 * until the pack reaches 100 %; SOC reaching 97 % before that restarts nothing, because the
 * calibration has not happened yet. Pure: time comes in with each update.
 */
export class FullChargeTracker {
  private belowSinceMs: number | undefined;
  private owed = false;

  constructor(private readonly options: FullChargeOptions = defaultFullChargeOptions) {}

  update(nowMs: number, socPct: number): { owed: boolean; request: boolean } {
    if (socPct >= 100) {
      this.owed = false;
      this.belowSinceMs = undefined;
    } else if (socPct >= this.options.socThresholdPct) {
      this.belowSinceMs = undefined;
    } else {
      this.belowSinceMs ??= nowMs;
      if (nowMs - this.belowSinceMs >= this.options.belowForMs) this.owed = true;
    }
    return { owed: this.owed, request: this.owed && this.inWindow(nowMs) };
  }

  inWindow(nowMs: number): boolean {
    const localMs = nowMs + this.options.utcOffsetMinutes * 60_000;
    const msOfDay = ((localMs % dayMs) + dayMs) % dayMs;
    return msOfDay >= this.options.windowStartHour * hourMs && msOfDay < this.options.windowEndHour * hourMs;
  }
}
