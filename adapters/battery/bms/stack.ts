import type { Clock } from '../../../core/clock.js';
import { BatteryConfigError } from '../errors.js';
import { defaultFullChargeOptions, type FullChargeOptions, FullChargeTracker } from './full-charge.js';
import { levelBand } from './leds.js';
import type { Gtx2500Pack, PackStatus } from './pack.js';
import { forcedRechargeRequested, gtx2500, noProtections, type Protections } from './rules.js';

/** RS485 addressing on the PCS port: master 0x02, slaves 0x03… (reference §3.1). */
export const rs485MasterAddress = 0x02;

export type StackStatus = {
  packCount: number;
  packs: PackStatus[];
  /** Capacity-weighted over the packs, as the master reports it. */
  socPct: number;
  sohPct: number;
  voltageV: number;
  currentA: number;
  /** The hottest pack: protections are about the worst case. */
  temperatureC: number;
  chargedEnergyWh: number;
  dischargedEnergyWh: number;
  protections: Protections;
  chargeEnable: boolean;
  dischargeEnable: boolean;
  chargeVoltageLimitV: number;
  dischargeVoltageLimitV: number;
  chargeCurrentLimitA: number;
  dischargeCurrentLimitA: number;
  forceChargeRequest: boolean;
  fullChargeRequest: boolean;
  fault: boolean;
  /** Highest minus lowest SOC among packs. */
  socSpreadPct: number;
  /** Manual §9.1 (3b): a gap of more than one level LED between packs is not normal. */
  socImbalance: boolean;
};

/**
 * 1–4 GTX2500 packs in parallel; the first in link order is the master (manual §5.2.3). The
 * master speaks for the stack on the PCS port: it aggregates the packs, owns the full-charge
 * calendar and splits the inverter's current demand across the packs.
 */
export class Gtx2500Stack {
  readonly packs: readonly Gtx2500Pack[];
  private readonly fullCharge: FullChargeTracker;
  private readonly clock: Clock;

  constructor(
    packs: readonly Gtx2500Pack[],
    clock: Clock,
    fullChargeOptions: FullChargeOptions = defaultFullChargeOptions,
  ) {
    if (packs.length < 1 || packs.length > gtx2500.maxPacks) {
      throw new BatteryConfigError(
        `a GTX2500 stack has 1 to ${gtx2500.maxPacks} packs in parallel, not ${packs.length}`,
        {
          packCount: packs.length,
        },
      );
    }
    this.packs = packs;
    this.clock = clock;
    this.fullCharge = new FullChargeTracker(fullChargeOptions);
    this.autoAddress();
  }

  /** Automatic coding: ids follow the link-port chain, master first (manual §5.2.3). */
  autoAddress(): void {
    this.packs.forEach((pack, index) => {
      pack.packId = index + 1;
    });
  }

  /** RS485 address of pack `packId` (1-based): master 0x02, then 0x03… */
  static rs485AddressOf(packId: number): number {
    return rs485MasterAddress + packId - 1;
  }

  /** The inverter's demand for the whole stack, shared equally by the packs. */
  setDemandCurrentA(totalA: number): void {
    for (const pack of this.packs) pack.setDemandCurrentA(totalA / this.packs.length);
  }

  setTemperatureC(temperatureC: number): void {
    for (const pack of this.packs) pack.setTemperatureC(temperatureC);
  }

  step(): StackStatus {
    const packs = this.packs.map((p) => p.step());
    const capacityAh = packs.reduce((s, p) => s + p.capacityAh, 0);
    const remainingAh = packs.reduce((s, p) => s + p.remainingAh, 0);
    const socPct = Math.round((remainingAh / capacityAh) * 10_000) / 100;
    const protections = { ...noProtections };
    for (const p of packs) {
      for (const key of Object.keys(protections) as (keyof Protections)[])
        protections[key] ||= p.protections[key];
    }
    const chargeEnable = packs.every((p) => p.chargeAllowed);
    const dischargeEnable = packs.every((p) => p.dischargeAllowed);
    const socs = packs.map((p) => p.socPct);
    const bands = socs.map(levelBand);
    const full = this.fullCharge.update(this.clock.now(), socPct);
    const n = packs.length;
    return {
      packCount: n,
      packs,
      socPct,
      sohPct: Math.min(...packs.map((p) => p.sohPct)),
      voltageV: Math.round((packs.reduce((s, p) => s + p.voltageV, 0) / n) * 100) / 100,
      currentA: Math.round(packs.reduce((s, p) => s + p.currentA, 0) * 10) / 10,
      temperatureC: Math.max(...packs.map((p) => p.temperatureC)),
      chargedEnergyWh: packs.reduce((s, p) => s + p.chargedEnergyWh, 0),
      dischargedEnergyWh: packs.reduce((s, p) => s + p.dischargedEnergyWh, 0),
      protections,
      chargeEnable,
      dischargeEnable,
      chargeVoltageLimitV: gtx2500.chargeVoltageLimitV,
      dischargeVoltageLimitV: gtx2500.dischargeVoltageLimitV,
      // Stack-level limits: n × the nominal 25 A, zero when the direction is blocked (reference §2.5).
      chargeCurrentLimitA: chargeEnable ? n * gtx2500.nominalCurrentA : 0,
      dischargeCurrentLimitA: dischargeEnable ? n * gtx2500.nominalCurrentA : 0,
      forceChargeRequest: forcedRechargeRequested(socPct),
      fullChargeRequest: full.request,
      fault: packs.some((p) => p.fault),
      socSpreadPct: Math.round((Math.max(...socs) - Math.min(...socs)) * 100) / 100,
      socImbalance: Math.max(...bands) - Math.min(...bands) > 1,
    };
  }
}
