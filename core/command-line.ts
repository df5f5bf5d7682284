import { type ParseArgsConfig, parseArgs } from 'node:util';
import { type MeterfabricError, UsageError } from './errors.js';

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
