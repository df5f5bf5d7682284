import http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { ActorCallChannel } from '../../cluster/actors/actor-call-channel.js';
import {
  type ActorReplyFrame,
  actorCallStreamHandler,
  type CallStreamLimits,
} from '../../cluster/node/actor-call-stream.js';
import { channelOptions, NodeService } from '../../cluster/node/grpc-contracts.js';
import { MeterfabricError } from '../../core/errors.js';
import { waitFor } from '../support/wait.js';

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
const sessions: http2.ClientHttp2Session[] = [];
afterEach(() => {
  for (const s of sessions.splice(0)) s.destroy();
  for (const c of clients.splice(0)) c.close();
  for (const s of servers.splice(0)) s.forceShutdown();
});

async function serve(
  call: (req: Req) => Promise<Buffer>,
  token?: string,
  limits?: CallStreamLimits,
): Promise<{ server: grpc.Server; address: string }> {
  const server = new grpc.Server(channelOptions);
  server.addService(NodeService.service, { CallActors: actorCallStreamHandler({ call }, token, limits) });
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

  /**
   * A raw HTTP/2 caller of CallActors, paused (it reads nothing until resumed). grpc-js's client
   * keeps reading HTTP/2 into its own buffer even when nobody reads the call, so it cannot be a
   * caller that does not read.
   */
  function rawCaller(address: string): http2.ClientHttp2Stream {
    const session = http2.connect(`http://${address}`);
    sessions.push(session);
    const stream = session.request({
      ':method': 'POST',
      ':path': '/meterfabric.node.Node/CallActors',
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    stream.pause();
    stream.on('error', () => undefined);
    return stream;
  }

  const callActors = NodeService.service.CallActors!;

  /** Calls `from`..`to` as gRPC length-prefixed messages, one buffer. */
  function callFrames(from: number, to: number): Buffer {
    return Buffer.concat(
      Array.from({ length: to - from + 1 }, (_, i) => {
        const message = callActors.requestSerialize({ id: from + i, call: request(`k${from + i}`) });
        const prefix = Buffer.alloc(5);
        prefix.writeUInt32BE(message.length, 1);
        return Buffer.concat([prefix, message]);
      }),
    );
  }

  /** Resumes the stream and hands each reply message's bytes to `onReply`. */
  function readReplies(stream: http2.ClientHttp2Stream, onReply: (message: Buffer) => void): void {
    let pending = Buffer.alloc(0);
    stream.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 5 && pending.length >= 5 + pending.readUInt32BE(1)) {
        const length = pending.readUInt32BE(1);
        onReply(pending.subarray(5, 5 + length));
        pending = pending.subarray(5 + length);
      }
    });
    stream.resume();
  }

  describe('replies bounded by bytes per stream', () => {
    const replyBytes = 256 * 1024;
    const budgetBytes = 4 * 1024 * 1024;
    const calls = 200; // 50 MiB of replies if all ran, 12.5 times the budget

    /** A node replying `replyBytes` per call under the byte budget, counting calls served and refused. */
    async function countingServe() {
      const counts = { served: 0, refused: 0 };
      const { address } = await serve(
        async () => {
          counts.served++;
          return Buffer.alloc(replyBytes, 7);
        },
        undefined,
        { maxQueuedReplyBytes: budgetBytes, onRefused: () => counts.refused++ },
      );
      return { address, counts };
    }

    it('a caller that does not read its replies gets MF_CALL_STREAM_FULL for new calls once its queued replies pass the budget, and no more replies are queued for it', async () => {
      const { address, counts } = await countingServe();
      // A raw HTTP/2 caller that does not read its stream.
      const stream = rawCaller(address);
      const send = (id: number): void => {
        stream.write(callFrames(id, id));
      };
      // 10 MiB of replies: all run (calls already admitted run whatever their replies weigh),
      // and all but HTTP/2's 64 KiB window and a reply or two in its queue stay with the node.
      const first = 40;
      for (let id = 1; id <= first; id++) send(id);
      await waitFor(() => counts.served === first, 'the first calls served', 60_000);
      // Every later call is refused without running while the caller still does not read.
      for (let id = first + 1; id <= calls; id++) send(id);
      await waitFor(() => counts.refused === calls - first, 'the later calls refused', 60_000);
      expect(counts.served).toBe(first);
      const replies: ActorReplyFrame[] = [];
      readReplies(stream, (message) =>
        replies.push(callActors.responseDeserialize(message) as ActorReplyFrame),
      );
      await waitFor(() => replies.length === calls, 'every reply read', 60_000);
      const ok = replies.filter((r) => !r.errorCode);
      const full = replies.filter((r) => r.errorCode === 'MF_CALL_STREAM_FULL');
      expect(ok).toHaveLength(counts.served);
      expect(full).toHaveLength(counts.refused);
      expect(ok.every((r) => r.result?.length === replyBytes)).toBe(true);
      expect(full[0]?.errorMessage).toContain(`budget ${budgetBytes}`);
      // Once the caller has read, the stream serves again.
      send(calls + 1);
      await waitFor(() => replies.length === calls + 1, 'the reply after draining', 30_000);
      expect(replies[calls]?.errorCode ?? '').toBe('');
      stream.end();
    });

    it('a caller that never reads and keeps calling is stopped being read once its refusals pass 1 MiB, and served again once it reads', async () => {
      const { address, counts } = await countingServe();
      const stream = rawCaller(address);
      stream.write(callFrames(1, 40));
      await waitFor(() => counts.served === 40, 'the first calls served', 60_000);
      // 30,000 more calls (several MiB of refusals if all were answered).
      const total = 30_040;
      stream.write(callFrames(41, total));
      await waitFor(() => counts.refused > 0, 'refusals', 60_000);
      let last = -1;
      // The node stops reading: the refusals stop growing although calls are still unsent.
      await waitFor(
        async () => {
          const now = counts.refused;
          await new Promise((r) => setTimeout(r, 500));
          const stable = now === counts.refused && now === last;
          last = now;
          return stable;
        },
        'refusals to stop growing',
        60_000,
        0,
      );
      expect(counts.served).toBe(40);
      expect(counts.refused).toBeLessThan(total - 40);
      // Each refusal is ~120 bytes: the node held at most its 1 MiB allowance of them (and a few
      // that the caller's flow-control window took).
      expect(counts.refused * 100).toBeLessThan(2 * 1024 * 1024);
      let replies = 0;
      readReplies(stream, () => replies++);
      // Reading drains it: every call is then answered (served or refused), none lost.
      await waitFor(() => replies === total, 'every call answered', 60_000);
      expect(counts.served + counts.refused).toBe(total);
      stream.end();
    });

    it('a caller that reads its replies gets every one, the same 50 MiB passing through', async () => {
      let refused = 0;
      const { address } = await serve(async () => Buffer.alloc(replyBytes, 7), undefined, {
        maxQueuedReplyBytes: budgetBytes,
        onRefused: () => refused++,
      });
      const channel = channelTo(address);
      // Eight in flight: at most 2 MiB of replies can be queued at once, whatever the box's load.
      let received = 0;
      const worker = async (w: number): Promise<void> => {
        for (let i = w; i < calls; i += 8) {
          const reply = await channel.call(request(`k${i}`), 30_000);
          received += reply.length;
        }
      };
      await Promise.all([0, 1, 2, 3, 4, 5, 6, 7].map(worker));
      expect(received).toBe(calls * replyBytes);
      expect(refused).toBe(0);
    });
  });
});
