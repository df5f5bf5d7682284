import type { CollectedReading } from '../../adapters/field-data.js';
import { localMidnightUtcMs, localTime, previousDate } from '../domain/local-time.js';
import type { MeterModel } from './meter-model.js';
import { prepaymentRegisterObis } from './prepayment.js';

/**
 * What a simulated meter hands over with a daily closure besides its energy registers: the
 * day's maximum demand (OBIS 1.6.0, kW, stamped with the end of the peak quarter hour, as
 * meters stamp a maximum with its time) and, for a prepayment meter, its payment-metering
 * registers at the closure instant (OBIS 19.10.0 credit, 19.20.0 charge, EUR).
 */

/** Start of the local day that closes at `closureMs` (the previous local midnight). */
export function closureDayStartMs(closureMs: number, timeZone: string): number {
  return localMidnightUtcMs(previousDate(localTime(closureMs, timeZone).date), timeZone);
}

export function maximumDemandReadings(
  meter: MeterModel,
  timeZone: string,
  closureMs: number,
): CollectedReading[] {
  const md = meter.maximumDemand(closureDayStartMs(closureMs, timeZone), closureMs);
  if (!md) return [];
  return [
    {
      meterSerial: meter.serial,
      kind: 'dailyClosure',
      quantity: { source: 'obis', code: '1.6.0' },
      value: md.valueW / 1000,
      unit: 'kW',
      timestampMs: md.timestampMs,
    },
  ];
}

export function prepaymentReadings(meter: MeterModel, closureMs: number): CollectedReading[] {
  if (!meter.prepayment) return [];
  const registers = meter.prepayment.at(closureMs);
  const reading = (code: string, cents: number): CollectedReading => ({
    meterSerial: meter.serial,
    kind: 'dailyClosure',
    quantity: { source: 'obis', code },
    value: cents / 100,
    unit: 'EUR',
    timestampMs: closureMs,
  });
  return [
    reading(prepaymentRegisterObis.credit, registers.creditCents),
    reading(prepaymentRegisterObis.charge, registers.chargedCents),
  ];
}
