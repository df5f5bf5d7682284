import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { ActorCallChannel } from '../../cluster/actors/actor-call-channel.js';
import { actorCallStreamHandler } from '../../cluster/node/actor-call-stream.js';
import { channelOptions, NodeService } from '../../cluster/node/grpc-contracts.js';
import { MeterfabricError } from '../../core/errors.js';

/**
 * The CallActors transport on real gRPC over loopback: the node's stream handler and the
 * proxy's channel. The actor host behind the handler is replaced by a function with the same
 * signature whose timing the test controls (the transport is under test here; the cluster
 * tests run the same path against real nodes: test/cluster/*.int.test.ts use the stream).
 */
type Req = {
  service: string;
  key: string;
  method: string;
  payload: Buffer;
  idempotencyKey: string;
  partition: string;
};

const servers: grpc.Server[] = [];
const clients: grpc.Client[] = [];
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
  for (const s of servers.splice(0)) s.forceShutdown();
});

async function serve(
  call: (req: Req) => Promise<Buffer>,
  token?: string,
): Promise<{ server: grpc.Server; address: string }> {
  const server = new grpc.Server(channelOptions);
  server.addService(NodeService.service, { CallActors: actorCallStreamHandler({ call }, token) });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  servers.push(server);
  return { server, address: `127.0.0.1:${port}` };
}

function channelTo(address: string, token?: string): ActorCallChannel {
  const client = new NodeService(address, grpc.credentials.createInsecure(), channelOptions);
  clients.push(client);
  return new ActorCallChannel(client, token);
}

const request = (key: string, method = 'get'): Req => ({
  service: 'counter',
  key,
  method,
  payload: Buffer.from('null'),
  idempotencyKey: `idem-${key}`,
  partition: 'counter/0',
});

describe('CallActors: actor calls multiplexed on one stream', () => {
  it('answers each call by id, a fast call before a slow one sent earlier', async () => {
    // The slow call is answered only once the caller has the fast one's answer (not after a
    // fixed delay, which a stall on a loaded box could outlast): a channel that held the fast
    // answer behind the slow call would never get there, and the calls' deadlines fail the test.
    let fastReceived!: () => void;
    const fastArrived = new Promise<void>((resolve) => (fastReceived = resolve));
    const { address } = await serve(async (req) => {
      if (req.key === 'slow') await fastArrived;
      return Buffer.from(JSON.stringify({ key: req.key }));
    });
    const channel = channelTo(address);
    const order: string[] = [];
    const slow = channel.call(request('slow'), 15_000).then((b) => order.push(JSON.parse(b.toString()).key));
    const fast = channel.call(request('fast'), 15_000).then((b) => {
      order.push(JSON.parse(b.toString()).key);
      fastReceived();
    });
    await Promise.all([slow, fast]);
    expect(order).toEqual(['fast', 'slow']);
    expect(channel.inFlight).toBe(0);
  });

  it("gives the caller the node's MF_* code and message", async () => {
    const { address } = await serve(async (req) => {
      throw new MeterfabricError('MF_UNKNOWN_METHOD', `counter has no method "${req.method}"`);
    });
    await expect(channelTo(address).call(request('a', 'nope'), 5_000)).rejects.toMatchObject({
      code: 'MF_UNKNOWN_METHOD',
      message: 'counter has no method "nope"',
    });
  });

  it('fails a call past its attempt timeout with MF_DEADLINE and keeps serving the next ones', async () => {
    const { address } = await serve(async (req) =>
      req.key === 'hang' ? new Promise<Buffer>(() => undefined) : Buffer.from('1'),
    );
    const channel = channelTo(address);
    await expect(channel.call(request('hang'), 200)).rejects.toMatchObject({ code: 'MF_DEADLINE' });
    expect((await channel.call(request('ok'), 5_000)).toString()).toBe('1');
  });

  it('fails the calls in flight with MF_UNAVAILABLE when the node goes away (outcome unknown, retryable)', async () => {
    const { server, address } = await serve(() => new Promise<Buffer>(() => undefined));
    const channel = channelTo(address);
    const pending = channel.call(request('a'), 30_000);
    await new Promise((r) => setTimeout(r, 200));
    server.forceShutdown();
    await expect(pending).rejects.toMatchObject({ code: 'MF_UNAVAILABLE' });
    expect(channel.inFlight).toBe(0);
  });

  it('refuses a stream without the cluster token (MF_UNAUTHENTICATED) and runs nothing', async () => {
    let served = 0;
    const { address } = await serve(async () => {
      served++;
      return Buffer.from('1');
    }, 'secret-token');
    await expect(channelTo(address).call(request('a'), 5_000)).rejects.toMatchObject({
      code: 'MF_UNAUTHENTICATED',
    });
    await expect(channelTo(address, 'wrong-token!').call(request('a'), 5_000)).rejects.toMatchObject({
      code: 'MF_UNAUTHENTICATED',
    });
    expect(served).toBe(0);
    expect((await channelTo(address, 'secret-token').call(request('a'), 5_000)).toString()).toBe('1');
    expect(served).toBe(1);
  });
});
