import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readIntegrationFlags } from '../../actors/integration/bridge/cli-flags.js';
import { serveIntegration } from '../../actors/integration/bridge/serve.js';
import { CimPublisher } from '../../actors/integration/cim-publisher.js';
import { loadWebhookConfigFile } from '../../actors/integration/webhook-file-config.js';
import { capturingLogger } from '../support/capturing-logger.js';
import { setUpDay } from './day-fixture.js';

/** Secrets off the command line: --token-file, MF_BRIDGE_TOKEN, --token (warned), webhook secretFile. */

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'mf-secrets-'));
  dirs.push(dir);
  return dir;
}

async function secretFile(content: string, mode = 0o600): Promise<string> {
  const path = join(await tempDir(), 'token');
  await writeFile(path, content);
  await chmod(path, mode);
  return path;
}

describe('bridge token sources', () => {
  it('--token-file: the file holds the token (trailing newline dropped), no warning for a 600 file', async () => {
    const { logger, lines } = capturingLogger();
    const file = await secretFile('from-the-file-0123\n');
    expect(await readIntegrationFlags({ 'token-file': file }, { env: {}, logger })).toEqual({
      token: 'from-the-file-0123',
      tokenSource: 'file',
    });
    expect(lines()).toEqual([]);
  });

  it('MF_BRIDGE_TOKEN: the environment gives the token when no flag does', async () => {
    expect(await readIntegrationFlags({}, { env: { MF_BRIDGE_TOKEN: 'from-env' } })).toEqual({
      token: 'from-env',
      tokenSource: 'env',
    });
    expect(await readIntegrationFlags({}, { env: { MF_BRIDGE_TOKEN: '' } })).toEqual({});
  });

  it('--token still works but logs a warning that it shows in ps', async () => {
    const { logger, lines } = capturingLogger();
    expect(await readIntegrationFlags({ token: 'inline' }, { env: {}, logger })).toEqual({
      token: 'inline',
      tokenSource: 'flag',
    });
    expect(lines()).toEqual([
      expect.objectContaining({
        level: 40,
        msg: expect.stringMatching(/visible in ps.*--token-file or MF_BRIDGE_TOKEN/),
      }),
    ]);
  });

  it('precedence: a flag wins over MF_BRIDGE_TOKEN; --token with --token-file is refused', async () => {
    const file = await secretFile('file-token');
    const env = { MF_BRIDGE_TOKEN: 'env-token' };
    expect((await readIntegrationFlags({ 'token-file': file }, { env })).token).toBe('file-token');
    expect((await readIntegrationFlags({ token: 'flag-token' }, { env })).token).toBe('flag-token');
    await expect(readIntegrationFlags({ token: 'a', 'token-file': file }, { env })).rejects.toMatchObject({
      code: 'MF_CONFIG_INVALID',
      message: expect.stringMatching(/--token and --token-file are both given/),
    });
  });

  it('refuses an empty, missing, multi-line or oversized token file; warns when others can read it', async () => {
    for (const [content, message] of [
      ['', /the file is empty/],
      ['\n', /the file is empty/],
      ['two\nlines\n', /must be one line/],
      ['x'.repeat(5000), /at most 4096 bytes/],
    ] as const) {
      const file = await secretFile(content);
      await expect(readIntegrationFlags({ 'token-file': file }, { env: {} })).rejects.toMatchObject({
        code: 'MF_CONFIG_INVALID',
        message: expect.stringMatching(message),
      });
    }
    await expect(
      readIntegrationFlags({ 'token-file': join(await tempDir(), 'nope') }, { env: {} }),
    ).rejects.toThrow(/--token-file .*nope: .*ENOENT/);
    const { logger, lines } = capturingLogger();
    const open = await secretFile('readable-by-all', 0o644);
    expect((await readIntegrationFlags({ 'token-file': open }, { env: {}, logger })).token).toBe(
      'readable-by-all',
    );
    expect(lines()).toEqual([expect.objectContaining({ msg: expect.stringMatching(/chmod 600/) })]);
  });

  it('the token read from the file is what the HTTP bridge demands', async () => {
    const settings = await readIntegrationFlags(
      { 'token-file': await secretFile('bridge-file-token\n') },
      { env: {} },
    );
    const run = setUpDay({ concentrators: 1, meters: 1, outageChance: 0, provision: false });
    const served = await serveIntegration(run.headend, new CimPublisher({ source: 't', clock: run.clock }), {
      host: '127.0.0.1',
      httpPort: 0,
      grpcPort: 0,
      ...(settings.token !== undefined ? { token: settings.token } : {}),
      clock: run.clock,
      source: 't',
      onDemandTimeoutMs: 2_000,
      controlTimeoutMs: 60_000,
    });
    try {
      const post = (authorization?: string) =>
        fetch(served.http.url, {
          method: 'POST',
          headers: { 'content-type': 'text/xml', ...(authorization ? { authorization } : {}) },
          body: '<x/>',
        }).then((r) => r.status);
      expect(await post()).toBe(401);
      expect(await post('Bearer bridge-file-token')).not.toBe(401);
    } finally {
      await served.close();
    }
  });
});

describe('webhook secret sources', () => {
  async function config(entry: Record<string, unknown>, files: Record<string, string> = {}) {
    const dir = await tempDir();
    for (const [name, content] of Object.entries(files)) {
      await writeFile(join(dir, name), content);
      await chmod(join(dir, name), 0o600);
    }
    const path = join(dir, 'hooks.json');
    await writeFile(path, JSON.stringify([{ name: 'h', url: 'https://127.0.0.1:9/cim', ...entry }]));
    return path;
  }

  it('secretFile is read relative to the config file; secretEnv from the environment', async () => {
    const fromFile = await config({ secretFile: 'h.secret' }, { 'h.secret': 'webhook-secret-from-file\n' });
    expect((await loadWebhookConfigFile(fromFile, {}))[0]?.secret).toBe('webhook-secret-from-file');
    const fromEnv = await config({ secretEnv: 'HOOK_SECRET' });
    expect(
      (await loadWebhookConfigFile(fromEnv, { HOOK_SECRET: 'webhook-secret-from-env' }))[0]?.secret,
    ).toBe('webhook-secret-from-env');
  });

  it('refuses two secret sources for one subscriber, and a missing secret file, naming the subscriber', async () => {
    const both = await config(
      { secretFile: 'h.secret', secretEnv: 'HOOK_SECRET' },
      { 'h.secret': 'x'.repeat(20) },
    );
    await expect(loadWebhookConfigFile(both, { HOOK_SECRET: 'y'.repeat(20) })).rejects.toThrow(
      /subscriber h has secretEnv and secretFile; keep one/,
    );
    const missing = await config({ secretFile: 'nope.secret' });
    await expect(loadWebhookConfigFile(missing, {})).rejects.toThrow(
      /subscriber h: secretFile .*nope\.secret/,
    );
    const short = await config({ secretFile: 'h.secret' }, { 'h.secret': 'short' });
    await expect(loadWebhookConfigFile(short, {})).rejects.toThrow(/at least 16 characters/);
  });
});
