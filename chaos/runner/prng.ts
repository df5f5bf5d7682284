/**
 * Seeded PRNG (mulberry32) so that a chaos run's decisions — which fault, which node, how
 * long — are reproducible from its seed and scenario.
 */
export class Prng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('Prng.pick from an empty list');
    return items[Math.floor(this.next() * items.length)] as T;
  }

  /** A new generator derived from this one (for a sub-component that must not shift our sequence). */
  fork(): Prng {
    return new Prng(Math.floor(this.next() * 4294967296));
  }
}

/** Seeds given as text (e.g. "42" or "nightly") map to a 32-bit number; numbers pass through. */
export function seedFrom(text: string): number {
  if (/^\d+$/.test(text)) return Number(text) >>> 0;
  let hash = 2166136261;
  for (const ch of text) hash = Math.imul(hash ^ ch.charCodeAt(0), 16777619) >>> 0;
  return hash;
}
