import { unit } from './hash.js';
import type { MeterModel } from './meter-model.js';

/**
 * The payment-metering registers of a simulated prepayment meter, pure and deterministic like
 * the meter itself. Credit is kept in euro cents (integers, so every value is exact): the
 * meter starts with a seeded credit, each hour's consumption is charged at a fixed price,
 * and whenever the credit falls below a threshold at an hour's end the customer buys a token
 * that adds a fixed amount. So the credit never runs out and the relay stays the head-end's
 * business (a real meter would open it at zero credit; the simulation does not model that).
 *
 * Registers, OBIS as in DLMS/COSEM payment metering (adapters/csv/README.md cites sources):
 * 19.10.0 import credit (the balance left, EUR) and 19.20.0 charge (the amount collected for
 * energy since the meter was commissioned, EUR).
 */

export const prepaymentPriceCentsPerKWh = 25;
const topUpBelowCents = 500;
const topUpCents = 3_000;
const hourMs = 3_600_000;

export type PrepaymentRegisters = { creditCents: number; chargedCents: number };

export const prepaymentRegisterObis = { credit: '19.10.0', charge: '19.20.0' } as const;

export class PrepaymentAccount {
  readonly initialCreditCents: number;
  private readonly cache = new Map<number, PrepaymentRegisters>();
  private relayOperationsSeen: number;

  constructor(
    private readonly meter: MeterModel,
    seed: number,
  ) {
    this.initialCreditCents = 2_000 + Math.floor(unit(seed, meter.serial, 'credit') * 6_000);
    this.relayOperationsSeen = meter.relayOperations;
  }

  /** The registers at `ms`: whole hours as settled at each hour's end, plus the running hour's charge. */
  at(ms: number): PrepaymentRegisters {
    // Consumption after a relay operation changed: forget what was derived from the old history.
    if (this.meter.relayOperations !== this.relayOperationsSeen) {
      this.cache.clear();
      this.relayOperationsSeen = this.meter.relayOperations;
    }
    const at = Math.max(ms, this.meter.originMs);
    const hourStart = Math.floor(at / hourMs) * hourMs;
    const settled = this.atHour(hourStart);
    if (at === hourStart) return settled;
    const partialWh = this.meter.totalAt(at) - this.meter.totalAt(hourStart);
    const cost = costCents(partialWh);
    return { creditCents: settled.creditCents - cost, chargedCents: settled.chargedCents + cost };
  }

  private atHour(boundaryMs: number): PrepaymentRegisters {
    const origin = this.meter.originMs;
    if (boundaryMs <= origin) return { creditCents: this.initialCreditCents, chargedCents: 0 };
    const cached = this.cache.get(boundaryMs);
    if (cached) return cached;
    let from = boundaryMs;
    while (from > origin && !this.cache.has(from)) from -= hourMs;
    let state: PrepaymentRegisters =
      from <= origin ? { creditCents: this.initialCreditCents, chargedCents: 0 } : this.cache.get(from)!;
    for (let end = Math.max(from, origin) + hourMs; end <= boundaryMs; end += hourMs) {
      const cost = costCents(this.meter.intervalWh(end) ?? 0);
      let creditCents = state.creditCents - cost;
      if (creditCents < topUpBelowCents) creditCents += topUpCents;
      state = { creditCents, chargedCents: state.chargedCents + cost };
      this.cache.set(end, state);
    }
    return state;
  }
}

function costCents(wh: number): number {
  return Math.round((wh * prepaymentPriceCentsPerKWh) / 1000);
}
