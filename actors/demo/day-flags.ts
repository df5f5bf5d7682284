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
} as const;

export type DemoDayFlags = {
  /** Absent: the work manager's default (60). */
  loadProfileEveryMinutes?: number;
};

export function readDemoDayFlags(values: {
  'load-profile-every-minutes'?: string | undefined;
}): DemoDayFlags {
  const text = values['load-profile-every-minutes'];
  if (text === undefined) return {};
  try {
    return {
      loadProfileEveryMinutes: validLoadProfileEveryMinutes(/^\d+$/.test(text) ? Number(text) : text),
    };
  } catch (err) {
    if (!isMeterfabricError(err)) throw err;
    throw new ConfigError([
      `--load-profile-every-minutes must be a positive integer dividing 1440 (e.g. 60, 360), not "${text}"`,
    ]);
  }
}
