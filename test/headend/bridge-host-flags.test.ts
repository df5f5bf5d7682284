import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { bridgeSettings, readIntegrationFlags } from '../../actors/integration/bridge/cli-flags.js';
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
      bridges: {
        host: '127.0.0.1',
        httpPort: 0,
        grpcPort: 7443,
        token: 'host-flags-token',
        maxSubscriberBufferedBytes: 32 * 1024 * 1024,
      },
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
    [
      ['--http-port', '70000'],
      /--http-port must be an integer from 0 to 65535 \(0: any free port\), not "70000"/,
    ],
    [['--grpc-port', 'x'], /--grpc-port must be an integer from 0 to 65535 \(0: any free port\), not "x"/],
    [
      ['--http-port', ' 80'],
      /--http-port must be an integer from 0 to 65535 \(0: any free port\), not " 80"/,
    ],
    [
      ['--token-file', '/nonexistent'],
      /--token-file configures the bridge, which only starts with --http-port/,
    ],
    [['--bridge-host', '0.0.0.0'], /--bridge-host configures the bridge/],
    [['--http-port', '0', '--tls-cert', 'a.pem'], /--tls-cert and --tls-key go together/],
    [['--http-port', '0', '--bridge-host', '0.0.0.0'], /on 0\.0\.0\.0 would take unauthenticated calls/],
    [
      ['--http-port', '0', '--max-subscriber-buffered-mib', '8'],
      /--max-subscriber-buffered-mib bounds the gRPC SubscribeEvents streams: add --grpc-port/,
    ],
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

describe('--max-subscriber-buffered-mib', () => {
  it('sets the bound per SubscribeEvents stream, in MiB', async () => {
    const settings = await readIntegrationHostFlags(
      parse(['--grpc-port', '0', '--max-subscriber-buffered-mib', '8']),
      { env: {} },
    );
    expect(settings.bridges?.maxSubscriberBufferedBytes).toBe(8 * 1024 * 1024);
    expect(
      (
        await readIntegrationHostFlags(parse(['--grpc-port', '0', '--max-subscriber-buffered-mib=1024']), {
          env: {},
        })
      ).bridges?.maxSubscriberBufferedBytes,
    ).toBe(1024 * 1024 * 1024);
    // The demo CLI's flags (cli-flags.ts) take it the same way.
    expect(await readIntegrationFlags({ 'max-subscriber-buffered-mib': '1' }, { env: {} })).toEqual({
      maxSubscriberBufferedBytes: 1024 * 1024,
    });
  });

  it('absent: 32 MiB', async () => {
    const settings = await readIntegrationHostFlags(parse(['--grpc-port', '0']), { env: {} });
    expect(settings.bridges?.maxSubscriberBufferedBytes).toBe(32 * 1024 * 1024);
  });

  it.each(['0', '-1', '1.5', '1e3', '0x10', '1025', '', ' 8', 'lots'])(
    'refuses %j with MF_CONFIG_INVALID naming the flag and its range',
    async (value) => {
      const message = `--max-subscriber-buffered-mib must be an integer from 1 to 1024 (MiB one SubscribeEvents stream may have waiting for a slow client; default 32), not "${value}"`;
      await expect(
        readIntegrationHostFlags(parse(['--grpc-port', '0', `--max-subscriber-buffered-mib=${value}`]), {
          env: {},
        }),
      ).rejects.toMatchObject({ code: 'MF_CONFIG_INVALID', message: expect.stringContaining(message) });
      await expect(
        readIntegrationFlags({ 'max-subscriber-buffered-mib': value }, { env: {} }),
      ).rejects.toMatchObject({ code: 'MF_CONFIG_INVALID', message: expect.stringContaining(message) });
    },
  );
});

describe('--max-subscribers', () => {
  it('sets how many SubscribeEvents streams the gRPC API serves at once, for `up` and the demo alike', async () => {
    const settings = await readIntegrationHostFlags(parse(['--grpc-port', '0', '--max-subscribers', '4']), {
      env: {},
    });
    expect(settings.bridges?.maxSubscribers).toBe(4);
    expect(
      (await readIntegrationHostFlags(parse(['--grpc-port', '0', '--max-subscribers=256']), { env: {} }))
        .bridges?.maxSubscribers,
    ).toBe(256);
    // The demo CLI reads it with readIntegrationFlags and builds its bridges with bridgeSettings.
    const demo = await readIntegrationFlags({ 'max-subscribers': '1' }, { env: {} });
    expect(demo).toEqual({ maxSubscribers: 1 });
    expect(bridgeSettings({ host: '127.0.0.1', httpPort: 0, grpcPort: 0 }, demo)).toEqual({
      host: '127.0.0.1',
      httpPort: 0,
      grpcPort: 0,
      maxSubscribers: 1,
    });
  });

  it("absent: left to the gRPC bridge's default (16)", async () => {
    const settings = await readIntegrationHostFlags(parse(['--grpc-port', '0']), { env: {} });
    expect(settings.bridges).not.toHaveProperty('maxSubscribers');
  });

  it('needs --grpc-port', async () => {
    await expect(
      readIntegrationHostFlags(parse(['--http-port', '0', '--max-subscribers', '4']), { env: {} }),
    ).rejects.toMatchObject({
      code: 'MF_CONFIG_INVALID',
      message: expect.stringContaining(
        '--max-subscribers bounds the gRPC SubscribeEvents streams: add --grpc-port',
      ),
    });
  });

  it.each(['0', '-1', '257', '1.5', '1e2', '0x10', '', ' 4', 'many'])(
    'refuses %j with MF_CONFIG_INVALID naming the flag and its range',
    async (value) => {
      const message = `--max-subscribers must be an integer from 1 to 256 (SubscribeEvents streams the gRPC API serves at once; default 16), not "${value}"`;
      await expect(
        readIntegrationHostFlags(parse(['--grpc-port', '0', `--max-subscribers=${value}`]), { env: {} }),
      ).rejects.toMatchObject({ code: 'MF_CONFIG_INVALID', message: expect.stringContaining(message) });
      await expect(readIntegrationFlags({ 'max-subscribers': value }, { env: {} })).rejects.toMatchObject({
        code: 'MF_CONFIG_INVALID',
        message: expect.stringContaining(message),
      });
    },
  );
});
