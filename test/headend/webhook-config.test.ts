import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readIntegrationFlags } from '../../actors/integration/bridge/cli-flags.js';
import { readIntegrationHostFlags } from '../../actors/integration/bridge/host-flags.js';
import { validateWebhookSubscribers } from '../../actors/integration/webhook-config.js';
import { loadWebhookConfigFile } from '../../actors/integration/webhook-file-config.js';
import { capturingLogger } from '../support/capturing-logger.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function configFile(content: unknown): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'mf-webhook-config-'));
  dirs.push(dir);
  await writeFile(join(dir, 'ca.pem'), '-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n');
  const path = join(dir, 'webhooks.json');
  await writeFile(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

describe('webhook configuration file', () => {
  it('reads subscribers, the secret from the named environment variable, and PEM files relative to the file', async () => {
    const path = await configFile([
      {
        name: 'dso-a',
        url: 'https://127.0.0.1:9443/cim',
        secretEnv: 'DSO_A_SECRET',
        nouns: ['EndDeviceEvents'],
        caFile: 'ca.pem',
      },
    ]);
    const [s] = await loadWebhookConfigFile(path, { DSO_A_SECRET: 'a-long-enough-secret' });
    expect(s).toMatchObject({ name: 'dso-a', secret: 'a-long-enough-secret', nouns: ['EndDeviceEvents'] });
    expect(String(s?.caPem)).toContain('BEGIN CERTIFICATE');
  });

  it.each([
    ['not JSON', '{', /webhook config .*webhooks\.json: .*JSON/],
    ['an unknown field', [{ name: 'a', url: 'http://x', retries: 3 }], /at 0: .*retries/],
    ['an unknown noun', [{ name: 'a', url: 'http://x', nouns: ['Foo'] }], /at 0\.nouns\.0/],
    [
      'an unset secret variable',
      [{ name: 'a', url: 'http://x', secretEnv: 'NOPE_UNSET' }],
      /NOPE_UNSET is not set/,
    ],
    ['a missing CA file', [{ name: 'a', url: 'https://x', caFile: 'missing.pem' }], /caFile missing\.pem/],
    ['an invalid url', [{ name: 'a', url: 'ftp://x' }], /must be http: or https:/],
  ])('refuses %s with MF_CONFIG_INVALID naming the problem', async (_name, content, message) => {
    const path = await configFile(content);
    const err = await loadWebhookConfigFile(path, {}).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'MF_CONFIG_INVALID' });
    expect((err as Error).message).toMatch(message);
  });
});

describe('integration CLI flags', () => {
  it('refuses half a TLS configuration', async () => {
    await expect(readIntegrationFlags({ 'tls-cert': 'a.pem' })).rejects.toThrow(
      '--tls-cert and --tls-key go together',
    );
    await expect(readIntegrationFlags({ 'tls-client-ca': 'ca.pem' })).rejects.toThrow(
      '--tls-client-ca and --tls-allowed-clients need --tls-cert and --tls-key',
    );
  });

  it('gives nothing when no flag is set (plain HTTP, no webhooks)', async () => {
    expect(await readIntegrationFlags({})).toEqual({});
  });
});

describe('webhook subscriber configuration', () => {
  it('lists every problem at once', () => {
    expect(() =>
      validateWebhookSubscribers([
        { name: 'a/b', url: 'ftp://x', secret: 'short' },
        { name: 'ok', url: 'not a url', nouns: ['Bogus' as 'MeterReadings'] },
        { name: 'ok', url: 'https://user:pw@host/x', clientCertPem: 'x' },
      ]),
    ).toThrow(
      expect.objectContaining({
        code: 'MF_CONFIG_INVALID',
        details: {
          problems: [
            'webhook subscriber 1 (a/b): name must be 1-64 characters of A-Z a-z 0-9 _ . -',
            'webhook subscriber 1 (a/b): url must be http: or https:, not ftp:',
            'webhook subscriber 1 (a/b): the shared secret must be at least 16 characters',
            'webhook subscriber 2 (ok): url "not a url" is not a URL',
            'webhook subscriber 2 (ok): noun "Bogus" is not one of MeterReadings, EndDeviceEvents',
            'webhook subscriber 3 (ok): name is used twice; names key the delivery positions',
            'webhook subscriber 3 (ok): put no credentials in the url; use the shared secret (signature)',
            'webhook subscriber 3 (ok): a client certificate needs its key, and a key its certificate',
          ],
        },
      }),
    );
  });
});

describe('an inline webhook secret in the config file', () => {
  const inlineSecret = 'inline-secret-0123456789';

  const entries = () => [
    { name: 'dso-inline', url: 'https://127.0.0.1:9443/cim', secret: inlineSecret },
    { name: 'dso-env', url: 'https://127.0.0.1:9444/cim', secretEnv: 'DSO_ENV_SECRET' },
  ];
  const env = { DSO_ENV_SECRET: 'secret-from-the-environment' };

  it('is accepted with a warning that names the subscriber and says where the secret belongs, never the secret', async () => {
    const { logger, lines, text } = capturingLogger();
    const subscribers = await loadWebhookConfigFile(await configFile(entries()), env, { logger });
    expect(subscribers.map((s) => [s.name, s.secret])).toEqual([
      ['dso-inline', inlineSecret],
      ['dso-env', 'secret-from-the-environment'],
    ]);
    const warnings = lines().filter((r) => r.level === 40);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({
      subscriber: 'dso-inline',
      msg: expect.stringMatching(/subscriber dso-inline has its shared secret inline.*secretFile.*secretEnv/),
    });
    expect(text()).not.toContain(inlineSecret);
  });

  it('is refused in production with MF_CONFIG_INVALID saying how to pass it instead, without echoing it', async () => {
    const { logger, text } = capturingLogger();
    const err = await loadWebhookConfigFile(await configFile(entries()), env, {
      production: true,
      logger,
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'MF_CONFIG_INVALID' });
    const problems = (err as { details: { problems: string[] } }).details.problems;
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(
      /subscriber dso-inline has its shared secret inline, refused in production.*"secretFile".*chmod 600.*"secretEnv"/,
    );
    expect((err as Error).message).not.toContain(inlineSecret);
    expect(text()).not.toContain(inlineSecret);
  });

  it('a secret from secretEnv or secretFile loads in production without a warning', async () => {
    const { logger, lines } = capturingLogger();
    const [s] = await loadWebhookConfigFile(await configFile([entries()[1]]), env, {
      production: true,
      logger,
    });
    expect(s?.secret).toBe('secret-from-the-environment');
    expect(lines().filter((r) => r.level === 40)).toEqual([]);
  });

  it('`up` flags: a bridge on a non-loopback address makes it production (refused); on loopback it is warned', async () => {
    const path = await configFile(entries());
    const flags = { 'http-port': '0', 'webhook-config': path };
    const withToken = { ...env, MF_BRIDGE_TOKEN: 'bridge-token-0123456789' };
    await expect(
      readIntegrationHostFlags({ ...flags, 'bridge-host': '0.0.0.0' }, { env: withToken }),
    ).rejects.toMatchObject({
      code: 'MF_CONFIG_INVALID',
      message: expect.stringContaining(
        'subscriber dso-inline has its shared secret inline, refused in production',
      ),
    });
    const { logger, lines } = capturingLogger();
    const local = await readIntegrationHostFlags(
      { ...flags, 'bridge-host': '127.0.0.1' },
      { env: withToken, logger },
    );
    expect(local.webhooks?.map((s) => s.name)).toEqual(['dso-inline', 'dso-env']);
    expect(lines().filter((r) => r.level === 40 && r.subscriber === 'dso-inline')).toHaveLength(1);
  });
});
