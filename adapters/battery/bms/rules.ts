/**
 * The GTX2500 manual's numbers, in one place, with where each comes from. Every rule in the
 * model reads these; tests check each at and around its threshold.
 */
export const gtx2500 = {
  /** Technical data: 50 Ah, 51.2 V nominal, 16S LFP. */
  nominalCapacityAh: 50,
  nominalVoltageV: 51.2,
  cellsInSeries: 16,
  /** Technical data: charge voltage 55.68–56.16 V. The low end stays under the 56 V protection. */
  chargeVoltageLimitV: 55.68,
  /** §9.1 (e): discharge protection at ≤ 45.6 V; also the discharge voltage floor. */
  dischargeVoltageLimitV: 45.6,
  /** Technical data: nominal charge/discharge current 25 A, max 30 A per pack. */
  nominalCurrentA: 25,
  maxCurrentA: 30,
  /** §9.1 (c): "If current is greater than 50A, battery protection will turn on." */
  overCurrentProtectionA: 50,
  /** §9.1 (d): "battery voltage above 56V or more, battery charge protection will turn on." */
  chargeProtectionVoltageV: 56,
  /** §9.1 (e): "discharges to 45.6V or less, battery discharge protection will turn on." */
  dischargeProtectionVoltageV: 45.6,
  /** §9.1 (a): no charge above 55 °C or under −10 °C. */
  chargeTemperatureC: { min: -10, max: 55 },
  /** §9.1 (b): no discharge above 60 °C or under −20 °C. */
  dischargeTemperatureC: { min: -20, max: 60 },
  /** §5.2.4 (2): forced recharge when capacity is less than 8 %. */
  forcedRechargeBelowSocPct: 8,
  /** §5.2.4 (3): full charge when SOC was below 97 % for one month (Pylontech: 30 days). */
  fullChargeSocPct: 97,
  fullChargeAfterMs: 30 * 24 * 3600 * 1000,
  /** §5.2.4 note: full-charge period 03:00–06:00 by default (settable on the PCS). */
  fullChargeWindow: { startHour: 3, endHour: 6 },
  /** Technical data: up to 4 packs in parallel. */
  maxPacks: 4,
  /** Pylontech RS485 Status3: a current counts as "effective" above 0.1 A. */
  idleCurrentA: 0.1,
} as const;

/**
 * How protections clear. The manual gives only the trip points; real BMSs add hysteresis so a
 * pack does not chatter at the edge. These are our choices, not the manual's, so they are
 * configurable and named as such.
 */
export type ProtectionRecovery = {
  /** A voltage protection clears once the voltage is this far back inside the limit. */
  voltageHysteresisV: number;
  /** A temperature protection clears once the temperature is this far back inside the limit. */
  temperatureHysteresisC: number;
  /** An over-current protection holds (current cut) for this long before it may clear. */
  overCurrentHoldMs: number;
};

export const defaultRecovery: ProtectionRecovery = {
  voltageHysteresisV: 0.4,
  temperatureHysteresisC: 0,
  overCurrentHoldMs: 60_000,
};

export type Protections = {
  chargeOverTemperature: boolean;
  chargeUnderTemperature: boolean;
  dischargeOverTemperature: boolean;
  dischargeUnderTemperature: boolean;
  chargeOverCurrent: boolean;
  dischargeOverCurrent: boolean;
  chargeOverVoltage: boolean;
  dischargeUnderVoltage: boolean;
};

export const noProtections: Protections = {
  chargeOverTemperature: false,
  chargeUnderTemperature: false,
  dischargeOverTemperature: false,
  dischargeUnderTemperature: false,
  chargeOverCurrent: false,
  dischargeOverCurrent: false,
  chargeOverVoltage: false,
  dischargeUnderVoltage: false,
};

export type ProtectionState = Protections & {
  /** When each over-current protection tripped (for the hold time). */
  chargeOverCurrentSinceMs?: number;
  dischargeOverCurrentSinceMs?: number;
};

export type Measurement = { voltageV: number; currentA: number; temperatureC: number };

/** A protection that trips on `tripped` and, once on, holds until `recovered`. */
function latch(wasOn: boolean, tripped: boolean, recovered: boolean): boolean {
  return wasOn ? !recovered : tripped;
}

/**
 * One evaluation of the manual's protection rules. Pure: the previous state and the time come
 * in, the next state goes out. `currentA` is + for charge, − for discharge.
 */
export function evaluateProtections(
  m: Measurement,
  previous: ProtectionState,
  nowMs: number,
  recovery: ProtectionRecovery = defaultRecovery,
): ProtectionState {
  const t = m.temperatureC;
  const v = m.voltageV;
  const dT = recovery.temperatureHysteresisC;
  const dV = recovery.voltageHysteresisV;
  const ct = gtx2500.chargeTemperatureC;
  const dt = gtx2500.dischargeTemperatureC;
  const next: ProtectionState = {
    chargeOverTemperature: latch(previous.chargeOverTemperature, t > ct.max, t <= ct.max - dT),
    chargeUnderTemperature: latch(previous.chargeUnderTemperature, t < ct.min, t >= ct.min + dT),
    dischargeOverTemperature: latch(previous.dischargeOverTemperature, t > dt.max, t <= dt.max - dT),
    dischargeUnderTemperature: latch(previous.dischargeUnderTemperature, t < dt.min, t >= dt.min + dT),
    chargeOverVoltage: latch(
      previous.chargeOverVoltage,
      v >= gtx2500.chargeProtectionVoltageV,
      v < gtx2500.chargeProtectionVoltageV - dV,
    ),
    dischargeUnderVoltage: latch(
      previous.dischargeUnderVoltage,
      v <= gtx2500.dischargeProtectionVoltageV,
      v > gtx2500.dischargeProtectionVoltageV + dV,
    ),
    chargeOverCurrent: false,
    dischargeOverCurrent: false,
  };
  const overCurrent = (on: boolean, sinceMs: number | undefined, magnitudeA: number) => {
    const tripped = magnitudeA > gtx2500.overCurrentProtectionA;
    if (!on) return tripped ? { on: true, sinceMs: nowMs } : { on: false, sinceMs: undefined };
    const held = sinceMs !== undefined && nowMs - sinceMs < recovery.overCurrentHoldMs;
    return held || tripped
      ? { on: true, sinceMs: held ? sinceMs : nowMs }
      : { on: false, sinceMs: undefined };
  };
  const c = overCurrent(
    previous.chargeOverCurrent,
    previous.chargeOverCurrentSinceMs,
    Math.max(0, m.currentA),
  );
  const d = overCurrent(
    previous.dischargeOverCurrent,
    previous.dischargeOverCurrentSinceMs,
    Math.max(0, -m.currentA),
  );
  next.chargeOverCurrent = c.on;
  next.dischargeOverCurrent = d.on;
  if (c.sinceMs !== undefined) next.chargeOverCurrentSinceMs = c.sinceMs;
  if (d.sinceMs !== undefined) next.dischargeOverCurrentSinceMs = d.sinceMs;
  return next;
}

export function chargeBlocked(p: Protections): boolean {
  return p.chargeOverTemperature || p.chargeUnderTemperature || p.chargeOverCurrent || p.chargeOverVoltage;
}

export function dischargeBlocked(p: Protections): boolean {
  return (
    p.dischargeOverTemperature ||
    p.dischargeUnderTemperature ||
    p.dischargeOverCurrent ||
    p.dischargeUnderVoltage
  );
}

/** §5.2.4 (2): forced recharge below 8 % SOC (8 % itself is not below). */
export function forcedRechargeRequested(socPct: number): boolean {
  return socPct < gtx2500.forcedRechargeBelowSocPct;
}
