import type { BatteryQuantity, CollectedReading } from '../../field-data.js';
import type { DecodedCan } from '../can/types.js';

/**
 * The latest telemetry of one battery unit (the stack's master, or one pack in Sofar-extended),
 * assembled from CAN frames, with charged/discharged energy integrated from voltage × current
 * because no battery frame carries energy. Pure: frames and their arrival times come in.
 */
export type UnitTelemetry = Partial<Record<BatteryQuantity, number>> & { lastMeasurementMs?: number };

export const quantityUnits: Readonly<Record<BatteryQuantity, string>> = {
  voltage: 'V',
  current: 'A',
  stateOfCharge: '%',
  stateOfHealth: '%',
  temperature: 'degC',
  chargedEnergy: 'Wh',
  dischargedEnergy: 'Wh',
  chargeVoltageLimit: 'V',
  chargeCurrentLimit: 'A',
  dischargeCurrentLimit: 'A',
};

export type ChangeThresholds = Partial<Record<BatteryQuantity, number>>;

/** A reading is sent "on change" when a value moves at least this far from the last one sent. */
export const defaultChangeThresholds: ChangeThresholds = {
  voltage: 0.5,
  current: 2,
  stateOfCharge: 1,
  stateOfHealth: 1,
  temperature: 1,
  chargeVoltageLimit: 0.1,
  chargeCurrentLimit: 1,
  dischargeCurrentLimit: 1,
};

export class TelemetryTracker {
  readonly values: UnitTelemetry = {};
  private readonly lastSent: Partial<Record<BatteryQuantity, number>> = {};

  constructor(
    /** Energy is not integrated across a gap longer than this (the link was down; we do not guess). */
    private readonly maxIntegrationGapMs = 10_000,
  ) {}

  apply(frame: DecodedCan, nowMs: number): void {
    const v = this.values;
    switch (frame.kind) {
      case 'measurements':
        this.applyMeasurement(frame.voltageV, frame.currentA, frame.temperatureC, nowMs);
        return;
      case 'stateOfCharge':
        v.stateOfCharge = frame.stateOfChargePct;
        v.stateOfHealth = frame.stateOfHealthPct;
        return;
      case 'limits':
        v.chargeVoltageLimit = frame.chargeVoltageLimitV;
        v.chargeCurrentLimit = frame.chargeCurrentLimitA;
        v.dischargeCurrentLimit = frame.dischargeCurrentLimitA;
        return;
      default:
        return;
    }
  }

  /** A voltage/current/temperature sample from any source (CAN 0x356, RS485 0x42). */
  applyMeasurement(voltageV: number, currentA: number, temperatureC: number, nowMs: number): void {
    const v = this.values;
    const last = v.lastMeasurementMs;
    if (last !== undefined && v.voltage !== undefined && v.current !== undefined) {
      const gapMs = nowMs - last;
      if (gapMs > 0 && gapMs <= this.maxIntegrationGapMs) {
        // Trapezoid between the previous and this sample.
        const powerW = (v.voltage * v.current + voltageV * currentA) / 2;
        const energyWh = (powerW * gapMs) / 3600_000;
        if (energyWh > 0) v.chargedEnergy = (v.chargedEnergy ?? 0) + energyWh;
        else v.dischargedEnergy = (v.dischargedEnergy ?? 0) - energyWh;
      }
    }
    v.chargedEnergy ??= 0;
    v.dischargedEnergy ??= 0;
    v.voltage = voltageV;
    v.current = currentA;
    v.temperature = temperatureC;
    v.lastMeasurementMs = nowMs;
  }

  /** Other values known directly (SOC, SOH, limits), e.g. from RS485 replies. */
  applyValues(
    values: Partial<
      Record<
        | 'stateOfCharge'
        | 'stateOfHealth'
        | 'chargeVoltageLimit'
        | 'chargeCurrentLimit'
        | 'dischargeCurrentLimit',
        number
      >
    >,
  ): void {
    Object.assign(this.values, values);
  }

  /** Quantities whose value moved past its threshold since last sent (never-sent ones count). */
  changedSinceSent(thresholds: ChangeThresholds = defaultChangeThresholds): BatteryQuantity[] {
    const out: BatteryQuantity[] = [];
    for (const [q, threshold] of Object.entries(thresholds) as [BatteryQuantity, number][]) {
      const value = this.values[q];
      if (value === undefined) continue;
      const sent = this.lastSent[q];
      if (sent === undefined || Math.abs(value - sent) >= threshold) out.push(q);
    }
    return out;
  }

  /** Readings for `quantities` (default: everything known), remembered as sent unless `markSent` is false. */
  readings(
    meterSerial: string,
    timestampMs: number,
    quantities?: readonly BatteryQuantity[],
    markSent = true,
  ): CollectedReading[] {
    const wanted = quantities ?? (Object.keys(quantityUnits) as BatteryQuantity[]);
    const out: CollectedReading[] = [];
    for (const quantity of wanted) {
      const value = this.values[quantity];
      if (value === undefined) continue;
      if (markSent) this.lastSent[quantity] = value;
      const energy = quantity === 'chargedEnergy' || quantity === 'dischargedEnergy';
      out.push({
        meterSerial,
        kind: energy ? 'register' : 'instantaneous',
        quantity: { source: 'battery', quantity },
        value: energy ? Math.round(value * 1000) / 1000 : value,
        unit: quantityUnits[quantity],
        timestampMs,
      });
    }
    return out;
  }
}
