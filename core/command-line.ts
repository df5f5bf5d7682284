import { type ParseArgsConfig, parseArgs } from 'node:util';
import { ConfigError, type MeterfabricError, UsageError } from './errors.js';

/**
 * How every `meterfabric` command exits (cluster/cli/README.md, "Exit codes"): 0 it did what
 * was asked; 1 it ran and failed (problems found, a peer unreachable, a start that failed);
 * 2 the command line or the configuration is wrong and the command refused it before starting
 * or changing anything.
 */
export const exitCodes = { ok: 0, failed: 1, usage: 2 } as const;

/**
 * The codes that mean "wrong command line or configuration": an unreadable flag (`UsageError`)
 * and a configuration refused before the start (`ConfigError`). Every other typed error is a
 * failure of a command that ran.
 */
const usageCodes: ReadonlySet<string> = new Set(['MF_USAGE', 'MF_CONFIG_INVALID']);

/** The exit code for a typed error that ends a command: mapped here once, for every entry point. */
export function exitCodeFor(err: MeterfabricError): 1 | 2 {
  return usageCodes.has(err.code) ? exitCodes.usage : exitCodes.failed;
}

/**
 * node:util's `parseArgs`, its errors (an unknown flag, a flag without its value, a stray
 * argument) turned into a `UsageError` that keeps Node's message, which names the flag, and
 * says where the flags are listed: `--help` where the command has it, else the flags themselves.
 * `command` is how the user typed it, e.g. `chaos run`.
 */
export function parseCommandLine<T extends ParseArgsConfig>(
  command: string,
  config: T,
): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (err) {
    // A malformed `config` is our bug (ERR_INVALID_ARG_*), not the user's command line.
    if (!String((err as { code?: unknown }).code).startsWith('ERR_PARSE_ARGS_')) throw err;
    const options = Object.keys(config.options ?? {});
    const where = options.includes('help')
      ? `\`meterfabric ${command} --help\` lists the flags`
      : `the flags of \`meterfabric ${command}\`: ${options.map((name) => `--${name}`).join(', ') || 'none'}`;
    throw new UsageError(`${(err as Error).message}; ${where}`);
  }
}

/**
 * The values a numeric flag accepts. `integer` (the default) reads only plain digits; otherwise
 * a plain decimal (`0.5`, `12`). Neither reads a sign, an exponent, hex or blanks, which
 * `Number()` would take (`Number('')` is 0, `Number('0x10')` 16) and which are more likely a
 * typo than meant. `min` is inclusive; `above` excludes its bound (time scales, speeds > 0).
 */
export type NumberFlagRange = {
  integer?: boolean;
  min?: number;
  above?: number;
  max: number;
  /** What the number is, with its unit, said after the range: "ms to wait for answers". */
  meaning?: string;
};

/** A port the command binds: 0 lets the OS pick a free one. */
export const listenPortRange: NumberFlagRange = { min: 0, max: 65_535, meaning: '0: any free port' };
/** A port the command connects to. */
export const dialPortRange: NumberFlagRange = { min: 1, max: 65_535 };
/**
 * The longest delay a Node timer keeps: beyond it `setTimeout` fires after 1 ms (with a
 * warning), so a duration above it would end a command at once instead of late.
 */
export const maxTimerMs = 2 ** 31 - 1;

/** Why `text` is not a value of `flag` in `range`, as one line naming the flag; undefined if it is. */
export function numberFlagProblem(flag: string, text: string, range: NumberFlagRange): string | undefined {
  const integer = range.integer ?? true;
  const value = Number(text);
  const readable = (integer ? /^\d+$/ : /^(\d+(\.\d*)?|\.\d+)$/).test(text);
  const inRange =
    (range.min === undefined || value >= range.min) &&
    (range.above === undefined || value > range.above) &&
    value <= range.max;
  if (readable && inRange) return undefined;
  const kind = integer ? 'an integer' : 'a number';
  const bounds =
    range.above !== undefined
      ? `above ${range.above} and at most ${range.max}`
      : `from ${range.min ?? 0} to ${range.max}`;
  return `${flag} must be ${kind} ${bounds}${range.meaning ? ` (${range.meaning})` : ''}, not "${text}"`;
}

/**
 * A numeric flag's value, or a `UsageError` (exit 2) naming the flag, its range and what was
 * given. Commands that list every problem at once collect `numberFlagProblem` instead.
 */
export function readNumberFlag(flag: string, text: string, range: NumberFlagRange): number {
  const problem = numberFlagProblem(flag, text, range);
  if (problem !== undefined) throw new UsageError(problem);
  return Number(text);
}

/**
 * Why the environment variable `name` (an `MF_*` number) does not hold a value in `range`, as
 * one line naming the variable; undefined if it does, or if it is unset or empty: `MF_X= cmd`
 * is the shell's way to clear a variable, so the default applies, where `Number('')` read 0.
 * The same strict reading as a flag's (`numberFlagProblem`): no sign, exponent, hex or blanks.
 */
export function numberEnvProblem(
  name: string,
  env: Readonly<Record<string, string | undefined>>,
  range: NumberFlagRange,
): string | undefined {
  const text = env[name];
  if (text === undefined || text === '') return undefined;
  return numberFlagProblem(name, text, range);
}

/**
 * An `MF_*` number, undefined when unset or empty (the caller's default applies), or a
 * `ConfigError` (MF_CONFIG_INVALID, exit 2) naming the variable, its range and what it held.
 * Readers that list every problem at once collect `numberEnvProblem` instead.
 */
export function readNumberEnv(
  name: string,
  env: Readonly<Record<string, string | undefined>>,
  range: NumberFlagRange,
): number | undefined {
  const problem = numberEnvProblem(name, env, range);
  if (problem !== undefined) throw new ConfigError([problem]);
  const text = env[name];
  return text === undefined || text === '' ? undefined : Number(text);
}
