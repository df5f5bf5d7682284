/**
 * The runner's side of the clock nemesis: writes the rate files that nodes started with
 * `MF_CHAOS_CLOCK_CONTROL=<dir>` read for their clock (`cluster/node/chaos-clock.ts`,
 * test-only). The nodes inherit the variable from this process, so a run that may skew
 * clocks sets it before the cluster starts (`ensureClockControl`).
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MeterfabricError } from '../../core/errors.js';

export const clockControlVariable = 'MF_CHAOS_CLOCK_CONTROL';

/** Sets MF_CHAOS_CLOCK_CONTROL for nodes started from now on (unless already set); returns the folder. */
export function ensureClockControl(defaultDir: string): string {
  const dir = process.env[clockControlVariable] ?? defaultDir;
  process.env[clockControlVariable] = dir;
  mkdirSync(dir, { recursive: true });
  return dir;
}

function controlDir(): string {
  const dir = process.env[clockControlVariable];
  if (!dir) {
    throw new MeterfabricError(
      'MF_CHAOS_UNSUPPORTED',
      `the clock nemesis needs ${clockControlVariable}=<folder> set before the cluster starts (the nodes read their clock rate there)`,
    );
  }
  return dir;
}

/** `node`'s clock runs at `rate` × real time from now on (1 = normal). */
export function setClockRate(node: string, rate: number): void {
  const dir = controlDir();
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${node}.rate`), `${rate}\n`);
}

/** Every node's clock back to real time (the rate files are removed). */
export function resetClockRate(node: string): void {
  rmSync(join(controlDir(), `${node}.rate`), { force: true });
}
