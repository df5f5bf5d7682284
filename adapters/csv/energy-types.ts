/**
 * `energytype` / `energytype_description` of DC_ and R_ rows, by OBIS register group (C.8).
 * Only 8 "Active Energy Import Previous" appears in the seed (§2.5.1.1); the other numbers are
 * meterfabric's own assignment until the real SMMePlus table is known.
 */
export type EnergyType = { code: number; description: string; fromSeed: boolean };

const previous: Record<number, EnergyType> = {
  1: { code: 8, description: 'Active Energy Import Previous', fromSeed: true },
  2: { code: 9, description: 'Active Energy Export Previous', fromSeed: false },
  3: { code: 10, description: 'Reactive Energy Import Previous', fromSeed: false },
  4: { code: 11, description: 'Reactive Energy Export Previous', fromSeed: false },
};

const current: Record<number, EnergyType> = {
  1: { code: 1, description: 'Active Energy Import Current', fromSeed: false },
  2: { code: 2, description: 'Active Energy Export Current', fromSeed: false },
  3: { code: 3, description: 'Reactive Energy Import Current', fromSeed: false },
  4: { code: 4, description: 'Reactive Energy Export Current', fromSeed: false },
};

/** `period` 'previous' for daily closures (DC_), 'current' for current registers (R_). */
export function energyTypeOf(obisGroupC: number, period: 'previous' | 'current'): EnergyType | undefined {
  return (period === 'previous' ? previous : current)[obisGroupC];
}
