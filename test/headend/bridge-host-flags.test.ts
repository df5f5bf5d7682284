import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import {
  integrationHostFlags,
  readIntegrationHostFlags,
} from '../../actors/integration/bridge/host-flags.js';

/** `meterfabric up`'s integration flags: parsed like the CLI does, validated before anything starts. */

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

const parse = (args: string[]) =>
  parseArgs({ args, options: { ...integrationHostFlags }, strict: true }).values;

async function files(): Promise<{ token: string; hooks: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'mf-host-flags-'));
  dirs.push(dir);
  const token = join(dir, 'token');
  await writeFile(token, 'host-flags-token\n');
  await chmod(token, 0o600);
  await writeFile(join(dir, 'hook.secret'), 'hook-secret-0123456789\n');
  await chmod(join(dir, 'hook.secret'), 0o600);
  const hooks = join(dir, 'hooks.json');
  await writeFile(
    hooks,
    JSON.stringify([
      {
        name: 'dso',
        url: 'https://127.0.0.1:9443/cim',
        secretFile: 'hook.secret',
        nouns: ['EndDeviceEvents'],
      },
    ]),
  );
  return { token, hooks };
}

describe('integration host flags (meterfabric up)', () => {
  it('bridges, token file, webhooks and metrics from the command line', async () => {
    const f = await files();
    const settings = await readIntegrationHostFlags(
      parse([
        '--http-port',
        '0',
        '--grpc-port',
        '7443',
        '--token-file',
        f.token,
        '--webhook-config',
        f.hooks,
        '--metrics',
        '127.0.0.1:0',
      ]),
      { env: {} },
    );
    expect(settings).toEqual({
      bridges: { host: '127.0.0.1', httpPort: 0, grpcPort: 7443, token: 'host-flags-token' },
      webhooks: [
        {
          name: 'dso',
          url: 'https://127.0.0.1:9443/cim',
          secret: 'hook-secret-0123456789',
          nouns: ['EndDeviceEvents'],
        },
      ],
      metricsListen: '127.0.0.1:0',
    });
  });

  it('takes the token from MF_BRIDGE_TOKEN when no flag gives one', async () => {
    const settings = await readIntegrationHostFlags(parse(['--http-port', '0']), {
      env: { MF_BRIDGE_TOKEN: 'env-token' },
    });
    expect(settings.bridges?.token).toBe('env-token');
  });

  it.each([
    [['--http-port', '70000'], /--http-port must be a TCP port/],
    [['--grpc-port', 'x'], /--grpc-port must be a TCP port/],
    [['--token-file', '/nonexistent'], /--token-file configure the bridge: add --http-port/],
    [['--bridge-host', '0.0.0.0'], /--bridge-host configure the bridge/],
    [['--http-port', '0', '--tls-cert', 'a.pem'], /--tls-cert and --tls-key go together/],
    [['--http-port', '0', '--bridge-host', '0.0.0.0'], /on 0\.0\.0\.0 would take unauthenticated calls/],
  ])('refuses %j with MF_CONFIG_INVALID naming the problem', async (args, message) => {
    await expect(readIntegrationHostFlags(parse(args), { env: {} })).rejects.toMatchObject({
      code: 'MF_CONFIG_INVALID',
      message: expect.stringMatching(message),
    });
  });

  it('a non-loopback bridge with a token is allowed', async () => {
    const f = await files();
    const settings = await readIntegrationHostFlags(
      parse(['--http-port', '0', '--bridge-host', '0.0.0.0', '--token-file', f.token]),
      { env: {} },
    );
    expect(settings.bridges).toMatchObject({ host: '0.0.0.0', token: 'host-flags-token' });
  });
});
