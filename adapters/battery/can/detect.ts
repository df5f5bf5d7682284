import { sofarBaseIds } from './decode.js';
import type { CanFrame, CanVariant } from './types.js';

/**
 * Chooses the CAN variant from the ids seen on the bus (reference §2.6): extended ids whose low
 * 12 bits are a Pylon base id mean Sofar-extended (packId = id >> 12); standard 0x359/0x35C mean
 * Pylon V1.2; other standard 0x351–0x35F traffic means V1.3 (SMA style). Pure: feed it frames,
 * ask for the verdict; the caller decides how long to listen.
 */
export class CanVariantDetector {
  private sofarPacks = new Set<number>();
  private sawV12Only = false;
  private sawPylonStandard = false;

  observe(frame: Pick<CanFrame, 'id' | 'extended'>): void {
    if (frame.extended) {
      if (sofarBaseIds.has(frame.id & 0xfff)) this.sofarPacks.add(frame.id >>> 12);
      return;
    }
    if (frame.id === 0x359 || frame.id === 0x35c) this.sawV12Only = true;
    if (frame.id >= 0x351 && frame.id <= 0x35f) this.sawPylonStandard = true;
  }

  /** undefined while nothing battery-like has been seen (silence: send 0x305 and retry). */
  variant(): CanVariant | undefined {
    if (this.sofarPacks.size > 0) return 'sofar-extended';
    if (this.sawV12Only) return 'pylon-v1.2';
    if (this.sawPylonStandard) return 'pylon-v1.3';
    return undefined;
  }

  /** Pack ids seen in Sofar-extended ids, ascending. */
  sofarPackIds(): number[] {
    return [...this.sofarPacks].sort((a, b) => a - b);
  }
}

export function detectCanVariant(
  frames: Iterable<Pick<CanFrame, 'id' | 'extended'>>,
): CanVariant | undefined {
  const detector = new CanVariantDetector();
  for (const f of frames) detector.observe(f);
  return detector.variant();
}
