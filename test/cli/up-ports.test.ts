import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { run } from '../../cluster/cli/up-command.js';
import {
  checkEtcdPorts,
  checkHostedPorts,
  chooseBasePort,
  freeBasePort,
  portFree,
} from '../../cluster/cli/up-ports.js';
import { consecutiveFreePorts } from '../support/ports.js';

/** `up`'s ports: a taken one is a clear error naming it and the flag to pass; without --base-port free ones are picked. */
const held: Server[] = [];
afterEach(async () => {
  await Promise.all(held.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/**
 * `up` run in this process, in a temp dir, with etcd on `first`, its nodes from `first + 2` and
 * `extraArgs`: resolves with the error it refused with, once it is checked that nothing was
 * started (no etcd data, no node log).
 */
async function upRefusedBeforeStarting(first: number, extraArgs: readonly string[]): Promise<unknown> {
  const dir = mkdtempSync(join(tmpdir(), 'mf-up-ports-'));
  try {
    const err = await run([
      '--data',
      join(dir, 'data'),
      '--etcd',
      `127.0.0.1:${first}`,
      '--base-port',
      String(first + 2),
      ...extraArgs,
    ]).catch((e: unknown) => e);
    expect(existsSync(join(dir, 'data', 'etcd'))).toBe(false);
    expect(existsSync(join(dir, 'data', 'n1.log'))).toBe(false);
    return err;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Binds `port` on loopback until the test ends (another program holding it). */
async function hold(port: number): Promise<void> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  held.push(server);
}

describe('up ports', () => {
  it('an explicit --base-port with a taken port is refused, naming the port, its node and a free --base-port to pass', async () => {
    const first = await consecutiveFreePorts(3);
    await hold(first + 1);
    const err = await chooseBasePort({ requested: first, count: 3 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'MF_PORT_IN_USE', details: { port: first + 1, basePort: first } });
    const message = (err as Error).message;
    expect(message).toContain(`port ${first + 1} (node n2's, from --base-port ${first}) is already in use`);
    const suggestion = (err as { details: { suggestion: number } }).details.suggestion;
    expect(message).toContain(`pass --base-port ${suggestion}`);
    expect(suggestion).toBeGreaterThan(first + 1);
    for (let p = suggestion; p < suggestion + 3; p++) expect(await portFree(p)).toBe(true);
  });

  it('an explicit --base-port whose ports are free is used as given', async () => {
    const first = await consecutiveFreePorts(3);
    expect(await chooseBasePort({ requested: first, count: 3 })).toEqual({ basePort: first });
  });

  it("a --base-port range overlapping etcd's ports is refused too", async () => {
    const first = await consecutiveFreePorts(3);
    const err = await chooseBasePort({ requested: first, count: 3, reserved: new Set([first + 2]) }).catch(
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'MF_PORT_IN_USE', details: { port: first + 2 } });
    expect((err as Error).message).toContain("is etcd's");
  });

  it('without --base-port the first free run is picked, past a taken port', async () => {
    const first = await consecutiveFreePorts(6);
    await hold(first + 1);
    // From `first`: first+1 is taken, so the run starts after it.
    expect(await freeBasePort(first, 3)).toBe(first + 2);
    expect(await freeBasePort(first, 3, new Set([first + 3]))).toBe(first + 4);
  });

  it("etcd's client or peer port taken (and no etcd answering) is refused, naming the port and --etcd", async () => {
    const first = await consecutiveFreePorts(2);
    await hold(first + 1);
    const err = await checkEtcdPorts(`127.0.0.1:${first}`, first).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'MF_PORT_IN_USE', details: { port: first + 1, role: 'peer' } });
    expect((err as Error).message).toContain(
      `port ${first + 1} (etcd's peer port, from --etcd 127.0.0.1:${first})`,
    );
    expect((err as Error).message).toContain('pass --etcd');
  });

  it('a taken bridge or metrics port is refused naming its flag; an address not of this machine names the host flag', async () => {
    const first = await consecutiveFreePorts(2);
    await hold(first);
    const taken = await checkHostedPorts([
      { flag: '--http-port', host: '127.0.0.1', port: first + 1 },
      { flag: '--metrics', host: '127.0.0.1', port: first },
    ]).catch((e: unknown) => e);
    expect(taken).toMatchObject({ code: 'MF_PORT_IN_USE', details: { port: first, flag: '--metrics' } });
    expect((taken as Error).message).toBe(
      `port ${first} (from --metrics ${first}) is already in use on 127.0.0.1; pass another --metrics (0: any free port)`,
    );
    // 192.0.2.0/24 is documentation-only (RFC 5737): never an address of this machine.
    const elsewhere = await checkHostedPorts([{ flag: '--grpc-port', host: '192.0.2.1', port: 0 }]).catch(
      (e: unknown) => e,
    );
    expect(elsewhere).toMatchObject({ code: 'MF_CONFIG_INVALID' });
    expect((elsewhere as Error).message).toContain(
      '--grpc-port: cannot bind 192.0.2.1:0 (EADDRNOTAVAIL); pass a --bridge-host that is an address of this machine',
    );
  });

  // run() loads the head-end hook from dist/ (npm test builds first): --metrics needs it.
  it('`up --metrics` on a taken port fails before it starts etcd or any node', {
    timeout: 60_000,
  }, async () => {
    const first = await consecutiveFreePorts(6);
    await hold(first + 5);
    const err = await upRefusedBeforeStarting(first, ['--metrics', `127.0.0.1:${first + 5}`]);
    expect(err).toMatchObject({ code: 'MF_PORT_IN_USE', details: { port: first + 5, flag: '--metrics' } });
  });

  it('`up --base-port` with a taken port fails before it starts etcd or any node', {
    timeout: 60_000,
  }, async () => {
    const first = await consecutiveFreePorts(5);
    await hold(first + 2);
    const err = await upRefusedBeforeStarting(first, ['--no-demo']);
    expect(err).toMatchObject({ code: 'MF_PORT_IN_USE', details: { port: first + 2 } });
    expect((err as Error).message).toContain('--base-port');
  });
});
