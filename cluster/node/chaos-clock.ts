/**
 * TEST-ONLY clock control for the chaos suite's clock nemesis (Jepsen's clock skew). OFF
 * unless `MF_CHAOS_CLOCK_CONTROL` names a directory: then this node's Clock (lease
 * self-fencing, failover-manager timing, role-log stamps) runs at the rate written in
 * `<dir>/<nodeId>.rate` ("1" real time, "0.1" ten times slower; missing file: 1), re-read at
 * most every `rereadMs`. A production node never sets the variable. The clock never goes
 * back: a new rate applies from the instant it is read.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Clock } from '../../core/clock.js';

const rereadMs = 50;

export class ControlledClock implements Clock {
  private anchorRealMs: number;
  private anchorMs: number;
  private rate = 1;
  private checkedAtMs = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly rateFile: string,
    private readonly realNow: () => number = Date.now,
  ) {
    this.anchorRealMs = realNow();
    this.anchorMs = this.anchorRealMs;
  }

  now(): number {
    const real = this.realNow();
    if (real - this.checkedAtMs >= rereadMs) {
      this.checkedAtMs = real;
      const rate = readRate(this.rateFile);
      if (rate !== this.rate) {
        this.anchorMs = this.at(real);
        this.anchorRealMs = real;
        this.rate = rate;
      }
    }
    return this.at(real);
  }

  private at(realMs: number): number {
    return this.anchorMs + Math.max(0, realMs - this.anchorRealMs) * this.rate;
  }
}

function readRate(file: string): number {
  try {
    const rate = Number(readFileSync(file, 'utf8').trim());
    return Number.isFinite(rate) && rate >= 0 ? rate : 1;
  } catch {
    return 1; // no control file: real time
  }
}

/** The node's clock under `MF_CHAOS_CLOCK_CONTROL`, or undefined (the normal case). */
export function chaosClockFromEnv(nodeId: string, env: NodeJS.ProcessEnv = process.env): Clock | undefined {
  const dir = env.MF_CHAOS_CLOCK_CONTROL;
  return dir ? new ControlledClock(join(dir, `${nodeId}.rate`)) : undefined;
}
