import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ServicePorts } from '../../../actors/host/service-ports.js';
import { type DriverDay, startDriverDay } from './driver-day.js';

/** The day the driver tests share starts at 2026-03-10 00:00 UTC. */
export const smallDayOriginMs = Date.UTC(2026, 2, 10);

/**
 * The in-process driver tests' day: head-end name 'it', organization 'IT', 4 concentrators of
 * 3 meters each (big enough for outages and gap recovery, small enough for a unit test), its
 * output in a fresh temporary directory pushed onto `dirs` for the caller's afterEach to remove.
 */
export async function startSmallDay(options: {
  ports: ServicePorts;
  /** The caller's list of directories to remove after each test. */
  dirs: string[];
  /** The temporary directory's name prefix (names the test in /tmp). */
  prefix: string;
  concentrators?: number;
  meters?: number;
  ackHold?: Parameters<typeof startDriverDay>[0]['ackHold'];
  loadProfileEveryMinutes?: number;
  wrapWrite?: Parameters<typeof startDriverDay>[0]['wrapWrite'];
}): Promise<DriverDay> {
  const outDir = await mkdtemp(join(tmpdir(), options.prefix));
  options.dirs.push(outDir);
  return startDriverDay({
    ports: options.ports,
    outDir,
    name: 'it',
    originMs: smallDayOriginMs,
    concentrators: options.concentrators ?? 4,
    meters: options.meters ?? 3,
    organization: 'IT',
    ackHold: options.ackHold,
    loadProfileEveryMinutes: options.loadProfileEveryMinutes,
    wrapWrite: options.wrapWrite,
  });
}
