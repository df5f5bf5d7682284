import { request } from 'node:https';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { authorizeCaller } from '../../actors/integration/bridge/auth.js';
import {
  type GrpcBridge,
  HeadendService,
  startGrpcBridge,
} from '../../actors/integration/bridge/grpc-bridge.js';
import { type HttpBridge, startHttpBridge } from '../../actors/integration/bridge/http-bridge.js';
import { type BridgeTls, loadBridgeTls } from '../../actors/integration/bridge/tls.js';
import { CimPublisher } from '../../actors/integration/cim-publisher.js';
import { readReply } from '../../adapters/cim/message.js';
import { child, parseXml } from '../../adapters/cim/xml-tree.js';
import { makePki, type Pem, type TestPki } from '../support/tls.js';
import { usagePointConfig } from './cim-requests.js';
import { type DayRun, setUpDay } from './day-fixture.js';

const token = 'mtls-token';
const thisFile = fileURLToPath(import.meta.url);
let pki: TestPki;
beforeAll(async () => {
  pki = await makePki(['integrator-a', 'integrator-b']);
}, 60_000);
afterAll(async () => {
  await pki?.remove();
});

const stops: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const s of stops.splice(0).reverse()) await s();
});

function headend(): DayRun {
  const run = setUpDay({ concentrators: 1, meters: 1, outageChance: 0, provision: false });
  for (const command of run.fleet.provisioning())
    if (command.type === 'upsertConcentrator') run.headend.applyRegistry(command);
  return run;
}

function tlsConfig(allowed?: string[]): BridgeTls {
  return {
    certPem: pki.server.certPem,
    keyPem: pki.server.keyPem,
    clientCaPem: pki.caPem,
    ...(allowed ? { allowedClientNames: allowed } : {}),
  };
}

const bridgeOptions = (run: DayRun) => ({
  clock: run.clock,
  source: 'mtls-test',
  onDemandTimeoutMs: 2_000,
  controlTimeoutMs: 60_000,
});

async function httpBridge(run: DayRun, tls: BridgeTls, withToken = true): Promise<HttpBridge> {
  const bridge = await startHttpBridge(run.headend, {
    host: '127.0.0.1',
    port: 0, // the OS picks; bridge.url carries the bound port
    tls,
    ...(withToken ? { token } : {}),
    ...bridgeOptions(run),
  });
  stops.push(() => bridge.close());
  return bridge;
}

/** POST over HTTPS trusting the test CA, optionally presenting a client certificate. */
function post(
  url: string,
  xml: string,
  options: { client?: Pem; token?: string },
): Promise<{ status: number; code?: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        ca: pki.caPem,
        agent: false,
        ...(options.client ? { cert: options.client.certPem, key: options.client.keyPem } : {}),
        headers: {
          'content-type': 'text/xml',
          ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const reply = readReply(child(parseXml(Buffer.concat(chunks).toString()), 'Reply')!);
          resolve({
            status: res.statusCode ?? 0,
            ...(reply.errors[0] ? { code: reply.errors[0].code } : {}),
          });
        });
      },
    );
    req.on('error', reject);
    req.end(xml);
  });
}

describe('CIM bridge over HTTPS with mutual TLS', () => {
  it('serves a caller with a certificate from the integrators CA and the token', async () => {
    const run = headend();
    const bridge = await httpBridge(run, tlsConfig(['integrator-a']));
    expect(bridge.url).toMatch(/^https:/);
    const res = await post(bridge.url, usagePointConfig(['POD-1']), {
      client: pki.clients['integrator-a'],
      token,
    });
    expect(res).toEqual({ status: 200 });
    expect(run.headend.registry.usagePoints['POD-1']).toBeDefined();
  });

  it.each([
    ['no client certificate', () => undefined],
    ['a certificate from another CA', () => pki.stranger],
  ])('refuses %s in the TLS handshake, changing nothing', async (_name, client) => {
    const run = headend();
    const bridge = await httpBridge(run, tlsConfig());
    const before = structuredClone(run.headend.registry);
    const given = client();
    await expect(
      post(bridge.url, usagePointConfig(['POD-X']), { token, ...(given ? { client: given } : {}) }),
    ).rejects.toThrow(/certificate|socket hang up|ECONNRESET/i);
    expect(run.headend.registry).toEqual(before);
  });

  it('refuses a CA-signed certificate whose CN is not an allowed integrator (403 MF_FORBIDDEN), changing nothing', async () => {
    const run = headend();
    const bridge = await httpBridge(run, tlsConfig(['integrator-a']));
    const before = structuredClone(run.headend.registry);
    const res = await post(bridge.url, usagePointConfig(['POD-X']), {
      client: pki.clients['integrator-b'],
      token,
    });
    expect(res).toEqual({ status: 403, code: 'MF_FORBIDDEN' });
    expect(run.headend.registry).toEqual(before);
  });

  it('still requires the token when both are configured (401 MF_UNAUTHENTICATED), changing nothing', async () => {
    const run = headend();
    const bridge = await httpBridge(run, tlsConfig());
    const before = structuredClone(run.headend.registry);
    const client = pki.clients['integrator-a'];
    expect(await post(bridge.url, usagePointConfig(['POD-X']), { ...(client ? { client } : {}) })).toEqual({
      status: 401,
      code: 'MF_UNAUTHENTICATED',
    });
    expect(
      await post(bridge.url, usagePointConfig(['POD-X']), { ...(client ? { client } : {}), token: 'wrong' }),
    ).toEqual({ status: 401, code: 'MF_UNAUTHENTICATED' });
    expect(run.headend.registry).toEqual(before);
  });

  it('with TLS but no client CA, authenticates by token alone', async () => {
    const run = headend();
    const bridge = await httpBridge(run, { certPem: pki.server.certPem, keyPem: pki.server.keyPem });
    expect(await post(bridge.url, usagePointConfig(['POD-2']), { token })).toEqual({ status: 200 });
    expect(await post(bridge.url, usagePointConfig(['POD-3']), {})).toEqual({
      status: 401,
      code: 'MF_UNAUTHENTICATED',
    });
    expect(Object.keys(run.headend.registry.usagePoints)).toEqual(['POD-2']);
  });
});

type Reply = { result: string; errors: { code: string }[] };

async function grpcBridge(run: DayRun, tls: BridgeTls): Promise<{ bridge: GrpcBridge; port: number }> {
  const bridge = await startGrpcBridge(run.headend, new CimPublisher({ source: 'mtls', clock: run.clock }), {
    address: '127.0.0.1:0', // the OS picks; bridge.port is the bound port
    token,
    tls,
    ...bridgeOptions(run),
  });
  stops.push(() => bridge.close());
  return { bridge, port: bridge.port };
}

function grpcCall(
  port: number,
  client: Pem | undefined,
  xml: string,
  withToken = true,
): Promise<{ err: grpc.ServiceError | null; res?: Reply }> {
  const credentials = grpc.credentials.createSsl(
    Buffer.from(pki.caPem),
    client ? Buffer.from(client.keyPem) : null,
    client ? Buffer.from(client.certPem) : null,
  );
  const stub = new HeadendService(`127.0.0.1:${port}`, credentials) as unknown as grpc.Client & {
    UsagePointLocationConfig(
      req: { xml: string },
      md: grpc.Metadata,
      options: grpc.CallOptions,
      cb: (err: grpc.ServiceError | null, res?: Reply) => void,
    ): void;
  };
  stops.push(() => stub.close());
  const md = new grpc.Metadata();
  if (withToken) md.set('authorization', `Bearer ${token}`);
  return new Promise((resolve) =>
    stub.UsagePointLocationConfig({ xml }, md, { deadline: Date.now() + 20_000 }, (err, res) =>
      resolve({ err, ...(res ? { res } : {}) }),
    ),
  );
}

/** Opens SubscribeEvents and resolves with the error that ends it. */
function grpcStreamError(port: number, client: Pem | undefined): Promise<grpc.ServiceError> {
  const credentials = grpc.credentials.createSsl(
    Buffer.from(pki.caPem),
    client ? Buffer.from(client.keyPem) : null,
    client ? Buffer.from(client.certPem) : null,
  );
  const stub = new HeadendService(`127.0.0.1:${port}`, credentials) as unknown as grpc.Client & {
    SubscribeEvents(
      req: { afterPosition: number; nouns: string[] },
      md: grpc.Metadata,
    ): grpc.ClientReadableStream<unknown>;
  };
  stops.push(() => stub.close());
  const md = new grpc.Metadata();
  md.set('authorization', `Bearer ${token}`);
  const stream = stub.SubscribeEvents({ afterPosition: 0, nouns: [] }, md);
  return new Promise((resolve) => stream.on('error', (err: grpc.ServiceError) => resolve(err)));
}

describe('head-end gRPC API with mutual TLS', () => {
  it('serves a caller with a certificate from the integrators CA and the token', async () => {
    const run = headend();
    const { port } = await grpcBridge(run, tlsConfig(['integrator-a']));
    const { err, res } = await grpcCall(port, pki.clients['integrator-a'], usagePointConfig(['POD-G']));
    expect(err).toBeNull();
    expect(res?.result).toBe('OK');
    expect(run.headend.registry.usagePoints['POD-G']).toBeDefined();
  });

  it.each([
    ['no client certificate', () => undefined],
    ['a certificate from another CA', () => pki.stranger],
  ])('refuses %s in the handshake (UNAVAILABLE), changing nothing', async (_name, client) => {
    const run = headend();
    const { port } = await grpcBridge(run, tlsConfig());
    const before = structuredClone(run.headend.registry);
    const { err, res } = await grpcCall(port, client(), usagePointConfig(['POD-X']));
    expect(res).toBeUndefined();
    expect(err?.code).toBe(grpc.status.UNAVAILABLE);
    expect(run.headend.registry).toEqual(before);
  });

  it('refuses a CN outside the allowed integrators (PERMISSION_DENIED) and a missing token (UNAUTHENTICATED), changing nothing', async () => {
    const run = headend();
    const { port } = await grpcBridge(run, tlsConfig(['integrator-a']));
    const before = structuredClone(run.headend.registry);
    const forbidden = await grpcCall(port, pki.clients['integrator-b'], usagePointConfig(['POD-X']));
    expect(forbidden.err?.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(forbidden.err?.details).toMatch(/^MF_FORBIDDEN: client certificate CN=integrator-b/);
    const stream = await grpcStreamError(port, pki.clients['integrator-b']);
    expect(stream.code).toBe(grpc.status.PERMISSION_DENIED);
    const tokenless = await grpcCall(port, pki.clients['integrator-a'], usagePointConfig(['POD-X']), false);
    expect(tokenless.err?.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(run.headend.registry).toEqual(before);
  });
});

describe('caller authorization rules', () => {
  const tls: BridgeTls = { certPem: 'c', keyPem: 'k', clientCaPem: 'ca', allowedClientNames: ['a'] };
  it.each([
    ['no mechanism configured', {}, { authorization: undefined, peerCommonName: undefined }, 'ok'],
    [
      'token only, right token',
      { token: 't' },
      { authorization: 'Bearer t', peerCommonName: undefined },
      'ok',
    ],
    [
      'token only, wrong token',
      { token: 't' },
      { authorization: 'Bearer x', peerCommonName: undefined },
      'MF_UNAUTHENTICATED',
    ],
    [
      'mTLS, no verified peer',
      { tls },
      { authorization: undefined, peerCommonName: undefined },
      'MF_UNAUTHENTICATED',
    ],
    ['mTLS, listed CN', { tls }, { authorization: undefined, peerCommonName: 'a' }, 'ok'],
    [
      'mTLS, one of several CNs listed',
      { tls },
      { authorization: undefined, peerCommonName: ['z', 'a'] },
      'ok',
    ],
    ['mTLS, unlisted CN', { tls }, { authorization: undefined, peerCommonName: 'b' }, 'MF_FORBIDDEN'],
    [
      'both, CN but no token',
      { tls, token: 't' },
      { authorization: undefined, peerCommonName: 'a' },
      'MF_UNAUTHENTICATED',
    ],
    [
      'both, token but no CN',
      { tls, token: 't' },
      { authorization: 'Bearer t', peerCommonName: undefined },
      'MF_UNAUTHENTICATED',
    ],
    ['both satisfied', { tls, token: 't' }, { authorization: 'Bearer t', peerCommonName: 'a' }, 'ok'],
  ] as const)('%s', (_name, config, caller, expected) => {
    const decision = authorizeCaller(config, caller);
    expect(decision.ok ? 'ok' : decision.code).toBe(expected);
  });

  it('refuses to start with a CN list but no client CA (it would never be checked)', async () => {
    const run = headend();
    await expect(
      startHttpBridge(run.headend, {
        host: '127.0.0.1',
        port: 0,
        tls: { certPem: pki.server.certPem, keyPem: pki.server.keyPem, allowedClientNames: ['a'] },
        ...bridgeOptions(run),
      }),
    ).rejects.toMatchObject({ code: 'MF_CONFIG_INVALID' });
  });

  it('loading TLS files names each unreadable or non-PEM file', async () => {
    await expect(
      loadBridgeTls({
        certFile: pki.files.serverCert,
        keyFile: '/nonexistent/key.pem',
        clientCaFile: thisFile,
      }),
    ).rejects.toMatchObject({
      code: 'MF_CONFIG_INVALID',
      details: {
        problems: [
          expect.stringMatching(/^TLS key \/nonexistent\/key.pem cannot be read/),
          `client CA ${thisFile} is not a PEM file`,
        ],
      },
    });
    const loaded = await loadBridgeTls({
      certFile: pki.files.serverCert,
      keyFile: pki.files.serverKey,
      clientCaFile: pki.files.ca,
      allowedClients: 'integrator-a, integrator-b',
    });
    expect(loaded.allowedClientNames).toEqual(['integrator-a', 'integrator-b']);
    expect(String(loaded.clientCaPem)).toBe(pki.caPem);
  });
});
