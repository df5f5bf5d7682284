import { normalizeObis } from '../cim/reading-type-map.js';
import type { CollectedReading } from '../field-data.js';
import { type CsvRow, CsvRowError } from './codec.js';

/**
 * PP_ rows: "all prepayment readings collected the day" (seed §2.5.1.1, READING folder). The
 * seed names the file but not its columns, so they are ours (`fromSeed: false`):
 * `serialnumber;pod;register;type;value;unit;time`.
 *
 * Prepayment readings are the meter's payment-metering registers, which DLMS/COSEM puts in
 * OBIS value group C = 19 (abstract objects, A = 0): D = 0 the account, D = 10 credit
 * registers (E = 0..9, one per credit such as token or emergency credit), D = 20 charges
 * (E = 0..9). D = 0/10/20 and numbering by E are confirmed by two public implementations
 * (Gurux's Account/Credit/Charge default names 0.0.19.0/10/20.0.255, Connexo's import and
 * emergency credit 0.0.19.10.0/1.255 and charges 0.0.19.20.0/2.255; see README.md); the
 * bound E <= 9 is our assumption (no source seen states it). One function below holds it.
 * Values are written as read, with their unit: a currency amount ('EUR') or, for meters that
 * keep credit in energy, 'kWh'. Nothing is converted or invented; a prepayment reading
 * without a unit is refused (MF_CSV_ROW), not guessed.
 */
export type PrepaymentRegisterType = 'account' | 'credit' | 'charge';

/** OBIS C.D.E of a payment-metering register -> its type, or undefined for any other register. */
export function prepaymentRegisterType(obis: string): PrepaymentRegisterType | undefined {
  const m = /^19\.(\d{1,3})\.(\d{1,3})$/.exec(normalizeObis(obis));
  if (!m) return undefined;
  const d = Number(m[1]);
  const e = Number(m[2]);
  if (d === 0 && e === 0) return 'account';
  if (d === 10 && e <= 9) return 'credit';
  if (d === 20 && e <= 9) return 'charge';
  return undefined;
}

/**
 * PP_ rows from collected readings: every OBIS payment-metering register (any reading kind),
 * one row each, in input order; every other reading is ignored. `register` is the OBIS code
 * as C.D.E, `unit` the unit as measured.
 */
export function prepaymentRows(readings: readonly CollectedReading[]): CsvRow[] {
  const rows: CsvRow[] = [];
  for (const r of readings) {
    if (r.quantity.source !== 'obis') continue;
    const type = prepaymentRegisterType(r.quantity.code);
    if (!type) continue;
    if (r.unit.trim() === '')
      throw new CsvRowError(
        `prepayment register ${r.quantity.code} of meter ${r.meterSerial} has no unit (a currency such as EUR, or kWh); the PP_ row would be meaningless without it`,
        { meterSerial: r.meterSerial, register: r.quantity.code },
      );
    rows.push({
      serialnumber: r.meterSerial,
      pod: r.usagePoint ?? '',
      register: normalizeObis(r.quantity.code),
      type,
      value: r.value,
      unit: r.unit,
      time: r.timestampMs,
    });
  }
  return rows;
}
