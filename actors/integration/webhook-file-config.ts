import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { readSecretFile } from './bridge/secrets.js';
import { validateWebhookSubscribers, type WebhookSubscriberConfig } from './webhook-config.js';

/**
 * Webhook subscribers from a JSON file (the `--webhook-config` flag). Secrets do not belong on
 * a command line (visible in `ps`) nor, ideally, in the file: `secretEnv` names an environment
 * variable holding the secret, `secretFile` a file holding it (relative to this file; mode 600).
 * At most one of secret / secretEnv / secretFile. PEM paths are relative to the file.
 *
 * An inline `secret` sits in a file that gets copied, committed and attached to tickets: it is
 * accepted with a warning naming the subscriber (never the secret), and refused outright when
 * the deployment is configured for production (`production`: the bridge serves a non-loopback
 * address, see bridge/host-flags.ts), with the two places it belongs instead.
 *
 *   [{ "name": "dso-a", "url": "https://integrator.example/cim", "secretEnv": "DSO_A_SECRET",
 *      "nouns": ["EndDeviceEvents"], "caFile": "ca.pem",
 *      "clientCertFile": "hook.crt", "clientKeyFile": "hook.key", "requestTimeoutMs": 10000 }]
 */

const entrySchema = z.strictObject({
  name: z.string(),
  url: z.string(),
  secret: z.string().optional(),
  secretEnv: z.string().optional(),
  secretFile: z.string().optional(),
  nouns: z.array(z.enum(['MeterReadings', 'EndDeviceEvents'])).optional(),
  caFile: z.string().optional(),
  clientCertFile: z.string().optional(),
  clientKeyFile: z.string().optional(),
  requestTimeoutMs: z.number().int().positive().optional(),
});
const fileSchema = z.array(entrySchema).max(64);

export type WebhookConfigFileOptions = {
  /** Refuse inline secrets (ConfigError) instead of warning. */
  production?: boolean;
  logger?: Logger;
};

export async function loadWebhookConfigFile(
  path: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
  options: WebhookConfigFileOptions = {},
): Promise<WebhookSubscriberConfig[]> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new ConfigError([`webhook config ${path}: ${(err as Error).message}`]);
  }
  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success)
    throw new ConfigError(
      parsed.error.issues.map(
        (i) => `webhook config ${path} at ${i.path.join('.') || '(root)'}: ${i.message}`,
      ),
    );
  const problems: string[] = [];
  const base = dirname(path);
  const pem = async (file: string | undefined, label: string): Promise<Buffer | undefined> => {
    if (file === undefined) return undefined;
    try {
      return await readFile(resolve(base, file));
    } catch (err) {
      problems.push(`webhook config ${path}: ${label} ${file}: ${(err as Error).message}`);
      return undefined;
    }
  };
  const subscribers: WebhookSubscriberConfig[] = [];
  for (const e of parsed.data) {
    const given = (['secret', 'secretEnv', 'secretFile'] as const).filter((k) => e[k] !== undefined);
    if (given.length > 1)
      problems.push(`webhook config ${path}: subscriber ${e.name} has ${given.join(' and ')}; keep one`);
    if (e.secret !== undefined) inlineSecret(path, e.name, options, problems);
    let secret = e.secretEnv !== undefined ? env[e.secretEnv] : e.secret;
    if (e.secretFile !== undefined && given.length === 1) {
      try {
        secret = await readSecretFile(
          resolve(base, e.secretFile),
          `webhook config ${path}: subscriber ${e.name}: secretFile`,
        );
      } catch (err) {
        const listed =
          err instanceof ConfigError ? (err.details as { problems?: string[] }).problems : undefined;
        problems.push(...(listed ?? [(err as Error).message]));
      }
    }
    if (e.secretEnv !== undefined && !secret)
      problems.push(
        `webhook config ${path}: subscriber ${e.name}: environment variable ${e.secretEnv} is not set`,
      );
    const [caPem, clientCertPem, clientKeyPem] = await Promise.all([
      pem(e.caFile, 'caFile'),
      pem(e.clientCertFile, 'clientCertFile'),
      pem(e.clientKeyFile, 'clientKeyFile'),
    ]);
    subscribers.push({
      name: e.name,
      url: e.url,
      ...(secret ? { secret } : {}),
      ...(e.nouns ? { nouns: e.nouns } : {}),
      ...(caPem ? { caPem } : {}),
      ...(clientCertPem ? { clientCertPem } : {}),
      ...(clientKeyPem ? { clientKeyPem } : {}),
      ...(e.requestTimeoutMs !== undefined ? { requestTimeoutMs: e.requestTimeoutMs } : {}),
    });
  }
  if (problems.length > 0) throw new ConfigError(problems);
  validateWebhookSubscribers(subscribers);
  return subscribers;
}

/** Where a secret goes instead of the config file: said the same way in the warning and the refusal. */
function moveSecretAdvice(name: string): string {
  return `put it in a file readable only by the service user and name it with "secretFile" (relative to the config file, chmod 600), or in an environment variable named by "secretEnv", and remove "secret" from subscriber ${name}`;
}

function inlineSecret(
  path: string,
  name: string,
  options: WebhookConfigFileOptions,
  problems: string[],
): void {
  if (options.production) {
    problems.push(
      `webhook config ${path}: subscriber ${name} has its shared secret inline, refused in production (the bridge serves a non-loopback address): ${moveSecretAdvice(name)}`,
    );
    return;
  }
  options.logger?.warn(
    { subscriber: name, config: path },
    `webhook config: subscriber ${name} has its shared secret inline in ${path}; ${moveSecretAdvice(name)} (a production deployment refuses it)`,
  );
}
