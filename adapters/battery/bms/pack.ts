import type { Clock } from '../../../core/clock.js';
import { type LedPanel, ledPanel, type PanelMode } from './leds.js';
import { cellOpenCircuitVoltageV } from './ocv.js';
import {
  chargeBlocked,
  defaultRecovery,
  dischargeBlocked,
  evaluateProtections,
  gtx2500,
  noProtections,
  type ProtectionRecovery,
  type ProtectionState,
  type Protections,
} from './rules.js';

export type PackOptions = {
  clock: Clock;
  socPct?: number;
  sohPct?: number;
  temperatureC?: number;
  capacityAh?: number;
  /** Pack internal resistance; ours, not the manual's (typical for a 16S 50 Ah LFP pack). */
  internalResistanceOhm?: number;
  recovery?: ProtectionRecovery;
};

export type PackStatus = {
  /** CAN pack id / link position once the stack has addressed it (1 = master). */
  packId: number | undefined;
  running: boolean;
  fault: boolean;
  socPct: number;
  sohPct: number;
  voltageV: number;
  /** Measured current: + charge, − discharge (0 in a blocked direction). */
  currentA: number;
  temperatureC: number;
  remainingAh: number;
  capacityAh: number;
  chargedEnergyWh: number;
  dischargedEnergyWh: number;
  protections: Protections;
  chargeAllowed: boolean;
  dischargeAllowed: boolean;
  mode: PanelMode;
  leds: LedPanel;
};

function stripTimers(p: ProtectionState): Protections {
  const { chargeOverCurrentSinceMs: _c, dischargeOverCurrentSinceMs: _d, ...rest } = p;
  return rest;
}

/**
 * One GTX2500 pack. Pure apart from the injected clock: the driver (simulator) sets what the
 * inverter demands and the environment, and calls step(); the pack integrates charge over the
 * elapsed time, applies the manual's protections, and reports what its BMS would.
 */
export class Gtx2500Pack {
  packId: number | undefined;
  private readonly clock: Clock;
  private readonly capacityAh: number;
  private readonly resistanceOhm: number;
  private readonly recovery: ProtectionRecovery;
  private socPct: number;
  private sohPct: number;
  private temperatureC: number;
  private demandA = 0;
  private actualA = 0;
  private running = true;
  private fault = false;
  private chargedWh = 0;
  private dischargedWh = 0;
  private protections: ProtectionState = { ...noProtections };
  private lastStepMs: number;
  private voltageOverrideV: number | undefined;

  constructor(options: PackOptions) {
    this.clock = options.clock;
    this.socPct = options.socPct ?? 50;
    this.sohPct = options.sohPct ?? 100;
    this.temperatureC = options.temperatureC ?? 25;
    this.capacityAh = options.capacityAh ?? gtx2500.nominalCapacityAh;
    this.resistanceOhm = options.internalResistanceOhm ?? 0.03;
    this.recovery = options.recovery ?? defaultRecovery;
    this.lastStepMs = this.clock.now();
  }

  /** What the inverter asks for: + charge, − discharge. */
  setDemandCurrentA(currentA: number): void {
    this.demandA = currentA;
  }

  setTemperatureC(temperatureC: number): void {
    this.temperatureC = temperatureC;
  }

  setSocPct(socPct: number): void {
    this.socPct = Math.min(100, Math.max(0, socPct));
  }

  /** Forces the terminal voltage (scenario hook, e.g. a failing charger); undefined = model. */
  setVoltageOverrideV(voltageV: number | undefined): void {
    this.voltageOverrideV = voltageV;
  }

  setFault(fault: boolean): void {
    this.fault = fault;
  }

  setRunning(running: boolean): void {
    this.running = running;
  }

  private terminalVoltageV(currentA: number): number {
    if (this.voltageOverrideV !== undefined) return this.voltageOverrideV;
    const v = gtx2500.cellsInSeries * cellOpenCircuitVoltageV(this.socPct) + currentA * this.resistanceOhm;
    return Math.round(v * 100) / 100;
  }

  /** Advances to the clock's now: integrates the current held since the last step, then re-evaluates. */
  step(): PackStatus {
    const nowMs = this.clock.now();
    const elapsedH = Math.max(0, nowMs - this.lastStepMs) / 3600_000;
    this.lastStepMs = nowMs;
    if (elapsedH > 0 && this.actualA !== 0) {
      const beforeV = this.terminalVoltageV(this.actualA);
      this.socPct = Math.min(
        100,
        Math.max(0, this.socPct + ((this.actualA * elapsedH) / this.capacityAh) * 100),
      );
      const energyWh = Math.abs(beforeV * this.actualA * elapsedH);
      if (this.actualA > 0) this.chargedWh += energyWh;
      else this.dischargedWh += energyWh;
    }
    const demand = this.running ? this.demandA : 0;
    this.protections = evaluateProtections(
      { voltageV: this.terminalVoltageV(demand), currentA: demand, temperatureC: this.temperatureC },
      this.protections,
      nowMs,
      this.recovery,
    );
    const p = stripTimers(this.protections);
    const chargeAllowed = this.running && !this.fault && !chargeBlocked(p) && this.socPct < 100;
    const dischargeAllowed = this.running && !this.fault && !dischargeBlocked(p) && this.socPct > 0;
    this.actualA =
      demand > 0 ? (chargeAllowed ? demand : 0) : demand < 0 ? (dischargeAllowed ? demand : 0) : 0;
    return this.status(p, chargeAllowed, dischargeAllowed);
  }

  private mode(p: Protections): PanelMode {
    if (!this.running) return 'shutdown';
    if (this.fault) return 'fault';
    const demand = this.demandA;
    if (demand > gtx2500.idleCurrentA) {
      if (chargeBlocked(p))
        return this.socPct >= 100 &&
          !p.chargeOverTemperature &&
          !p.chargeUnderTemperature &&
          !p.chargeOverCurrent
          ? 'fullCharged'
          : 'chargeProtection';
      return this.socPct >= 100 ? 'fullCharged' : 'charging';
    }
    if (demand < -gtx2500.idleCurrentA) {
      if (p.dischargeUnderVoltage) return 'underVoltage';
      if (dischargeBlocked(p)) return 'dischargeProtection';
      return 'discharging';
    }
    // Idle: L7 is "long bright if equipment failure or protected" whatever the direction.
    if (chargeBlocked(p) && !(p.chargeOverVoltage && this.socPct >= 100)) return 'chargeProtection';
    if (dischargeBlocked(p)) return 'dischargeProtection';
    return 'standby';
  }

  private status(p: Protections, chargeAllowed: boolean, dischargeAllowed: boolean): PackStatus {
    const mode = this.mode(p);
    return {
      packId: this.packId,
      running: this.running,
      fault: this.fault,
      socPct: Math.round(this.socPct * 100) / 100,
      sohPct: this.sohPct,
      voltageV: this.terminalVoltageV(this.actualA),
      currentA: Math.round(this.actualA * 10) / 10,
      temperatureC: this.temperatureC,
      remainingAh: (this.socPct / 100) * this.capacityAh,
      capacityAh: this.capacityAh,
      chargedEnergyWh: this.chargedWh,
      dischargedEnergyWh: this.dischargedWh,
      protections: p,
      chargeAllowed,
      dischargeAllowed,
      mode,
      leds: ledPanel(mode, this.socPct),
    };
  }
}
