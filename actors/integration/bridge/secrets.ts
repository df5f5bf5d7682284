import { readFile, stat } from 'node:fs/promises';
import { ConfigError } from '../../../core/errors.js';
import type { Logger } from '../../../core/logger.js';

/**
 * Where the bridge's bearer token (and other shared secrets) come from. A secret on the command
 * line is visible to every local user in `ps` and lands in shell history, so the preferred
 * sources are a file (`--token-file`, readable by the service user only) or the environment
 * (`MF_BRIDGE_TOKEN`); `--token` still works for development and logs a warning.
 *
 * Precedence: the command line wins over the environment (as for every node setting);
 * `--token` and `--token-file` together are refused (which one was meant is not clear).
 */

export const bridgeTokenEnv = 'MF_BRIDGE_TOKEN';
/** A secret file is a token or a key, not a document: bigger is a wrong path. */
const maxSecretFileBytes = 4096;

export type TokenSource = 'flag' | 'file' | 'env';

export async function resolveBridgeToken(options: {
  flag?: string | undefined;
  file?: string | undefined;
  env?: Readonly<Record<string, string | undefined>>;
  logger?: Logger;
}): Promise<{ token: string; source: TokenSource } | undefined> {
  const env = options.env ?? process.env;
  if (options.flag !== undefined && options.file !== undefined)
    throw new ConfigError(['--token and --token-file are both given; keep one (prefer --token-file)']);
  if (options.file !== undefined) {
    return { token: await readSecretFile(options.file, '--token-file', options.logger), source: 'file' };
  }
  if (options.flag !== undefined) {
    if (options.flag === '') throw new ConfigError(['--token is empty']);
    options.logger?.warn(
      `--token puts the bridge token on the command line, visible in ps and shell history: use --token-file or ${bridgeTokenEnv}`,
    );
    return { token: options.flag, source: 'flag' };
  }
  const fromEnv = env[bridgeTokenEnv];
  if (fromEnv !== undefined && fromEnv !== '') return { token: fromEnv, source: 'env' };
  return undefined;
}

/**
 * A secret from a file: one line, the trailing newline dropped. Warns when the file is readable
 * by group or others (the point of a file is that only the service user can read it).
 */
export async function readSecretFile(path: string, label: string, logger?: Logger): Promise<string> {
  let text: string;
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new Error('not a regular file');
    if (info.size > maxSecretFileBytes)
      throw new Error(
        `${info.size} bytes; a secret file holds one secret (at most ${maxSecretFileBytes} bytes)`,
      );
    if ((info.mode & 0o077) !== 0)
      logger?.warn({ path }, `${label}: the secret file is readable by group or others; chmod 600 it`);
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError([`${label} ${path}: ${(err as Error).message}`]);
  }
  const secret = text.replace(/\r?\n$/, '');
  if (secret === '') throw new ConfigError([`${label} ${path}: the file is empty`]);
  if (/[\r\n]/.test(secret)) throw new ConfigError([`${label} ${path}: the secret must be one line`]);
  return secret;
}
