import { numberFlagProblem } from '../../core/command-line.js';
import { ConfigError, isMeterfabricError } from '../../core/errors.js';
import { validLoadProfileEveryMinutes } from '../work-manager/config.js';

/**
 * The demo day's own command-line flags, shared by `meterfabric demo` (cli.ts) and
 * `meterfabric up` / `npm start` (cluster/cli/up-command.ts passes what it reads to up.ts), so
 * both spell and check them the same way. Checked before anything starts.
 */
export const demoDayFlags = {
  /** Load profile collection period, minutes (a positive integer dividing 1440; default 60). */
  'load-profile-every-minutes': { type: 'string' },
  /** Simulated seconds per wall-clock second (default 1440: a day in about a minute). */
  speed: { type: 'string' },
} as const;

export type DemoDayFlags = {
  /** Absent: the work manager's default (60). */
  loadProfileEveryMinutes?: number;
  /** Absent: 1440. The day never runs faster than this; a slow machine makes it longer. */
  speed?: number;
};

/**
 * The day flags given, spelled as on the command line: `up --no-demo` runs no day, so it
 * refuses them instead of ignoring them.
 */
export function givenDemoDayFlags(
  values: Partial<Record<keyof typeof demoDayFlags, string | undefined>>,
): string[] {
  return (Object.keys(demoDayFlags) as (keyof typeof demoDayFlags)[])
    .filter((flag) => values[flag] !== undefined)
    .map((flag) => `--${flag}`);
}

/** The fastest day a machine is asked for: a day in about a second. */
const maxSpeed = 86_400;

export function readDemoDayFlags(values: {
  'load-profile-every-minutes'?: string | undefined;
  speed?: string | undefined;
}): DemoDayFlags {
  const speedText = values.speed;
  const speed = speedText === undefined ? undefined : Number(speedText);
  const speedProblem =
    speedText === undefined
      ? undefined
      : numberFlagProblem('--speed', speedText, {
          integer: false,
          above: 0,
          max: maxSpeed,
          meaning: 'simulated seconds per second; 1440 runs a day in a minute',
        });
  if (speedProblem !== undefined) throw new ConfigError([speedProblem]);
  const withSpeed: DemoDayFlags = speed === undefined ? {} : { speed };
  const text = values['load-profile-every-minutes'];
  if (text === undefined) return withSpeed;
  try {
    return {
      ...withSpeed,
      loadProfileEveryMinutes: validLoadProfileEveryMinutes(/^\d+$/.test(text) ? Number(text) : text),
    };
  } catch (err) {
    if (!isMeterfabricError(err)) throw err;
    throw new ConfigError([
      `--load-profile-every-minutes must be a positive integer dividing 1440 (e.g. 60, 360), not "${text}"`,
    ]);
  }
}
