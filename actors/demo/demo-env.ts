import { type NumberFlagRange, numberEnvProblem } from '../../core/command-line.js';
import { ConfigError } from '../../core/errors.js';

/**
 * The demo fleet's sizes: the same bounds for `meterfabric demo`'s flags (cli.ts) and for the
 * `MF_DEMO_*` variables `meterfabric up` reads (up.ts), so neither entry point takes what the
 * other refuses. knxSites and batterySites are the simulation sites' own bound (0 to 64).
 */
export const demoSizeRanges = {
  concentrators: { min: 1, max: 100_000 },
  meters: { min: 1, max: 1_000, meaning: 'per concentrator' },
  knxSites: { min: 0, max: 64 },
  batterySites: { min: 0, max: 64 },
} as const satisfies Record<string, NumberFlagRange>;

export type DemoSizes = { concentrators: number; meters: number; knxSites: number; batterySites: number };

const defaults: DemoSizes = { concentrators: 100, meters: 20, knxSites: 2, batterySites: 2 };

const variables: Record<keyof DemoSizes, string> = {
  concentrators: 'MF_DEMO_CONCENTRATORS',
  meters: 'MF_DEMO_METERS',
  knxSites: 'MF_DEMO_KNX_SITES',
  batterySites: 'MF_DEMO_BATTERY_SITES',
};

const sizeKeys = Object.keys(variables) as (keyof DemoSizes)[];

/**
 * What is wrong with the `MF_DEMO_*` sizes in `env`, one line per variable. `up` calls this
 * while it plans (cluster/cli/up-plan.ts), so a bad value exits 2 before etcd or a node starts
 * rather than after the cluster is up. Unset or empty takes the default.
 */
export function demoEnvProblems(env: Readonly<Record<string, string | undefined>>): string[] {
  return sizeKeys
    .map((key) => numberEnvProblem(variables[key], env, demoSizeRanges[key]))
    .filter((problem): problem is string => problem !== undefined);
}

/** The demo's sizes from `MF_DEMO_*`, or a ConfigError (MF_CONFIG_INVALID) naming each bad variable. */
export function readDemoSizes(env: Readonly<Record<string, string | undefined>>): DemoSizes {
  const problems = demoEnvProblems(env);
  if (problems.length > 0) throw new ConfigError(problems);
  const size = (key: keyof DemoSizes): number => {
    const text = env[variables[key]];
    return text === undefined || text === '' ? defaults[key] : Number(text);
  };
  return {
    concentrators: size('concentrators'),
    meters: size('meters'),
    knxSites: size('knxSites'),
    batterySites: size('batterySites'),
  };
}
