import type { Meter, RegistryState } from './types.js';

/** The POD a meter was installed at, at instant tMs (links are [from, to)). */
export function usagePointAt(state: RegistryState, meterSerial: string, tMs: number): string | undefined {
  const links = state.links[meterSerial];
  if (!links) return undefined;
  for (const link of links) {
    if (link.effectiveFromMs <= tMs && (link.effectiveToMs === undefined || tMs < link.effectiveToMs))
      return link.pod;
  }
  return undefined;
}

/** Commissioned meters under a concentrator: the ones the head-end collects from. */
export function commissionedMetersOf(state: RegistryState, concentratorId: string): Meter[] {
  const serials = state.metersByConcentrator?.[concentratorId];
  const candidates = serials ? serials.flatMap((s) => state.meters[s] ?? []) : Object.values(state.meters); // a state without the index (older snapshot)
  return candidates.filter((m) => m.concentratorId === concentratorId && m.state === 'commissioned');
}
