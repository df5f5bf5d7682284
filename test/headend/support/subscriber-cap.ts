import * as grpc from '@grpc/grpc-js';
import { expect } from 'vitest';
import { HeadendService } from '../../../actors/integration/bridge/grpc-bridge.js';
import { waitFor } from '../../support/wait.js';

type SubscribeClient = grpc.Client & {
  SubscribeEvents(
    request: { afterPosition: number; nouns: string[] },
    metadata: grpc.Metadata,
  ): grpc.ClientReadableStream<unknown>;
};

/** How long one more stream is given to be refused before the check says it was served. */
const refusalWaitMs = 15_000;

/**
 * Against a running process's gRPC API and its metrics endpoint (`--metrics`): `cap` streams
 * are served, one more is refused with RESOURCE_EXHAUSTED (MF_TOO_MANY_SUBSCRIBERS) and counted.
 * What `--max-subscribers <cap>` must reach. Closes its streams and returns once the endpoint
 * shows none open, so the caller's own checks of the stream metrics are not disturbed.
 */
export async function expectSubscriberCap(options: {
  grpcAddress: string;
  metricsUrl: string;
  cap: number;
  token?: string;
}): Promise<void> {
  const client = new HeadendService(
    options.grpcAddress,
    grpc.credentials.createInsecure(),
  ) as unknown as SubscribeClient;
  const metadata = () => {
    const md = new grpc.Metadata();
    if (options.token !== undefined) md.set('authorization', `Bearer ${options.token}`);
    return md;
  };
  const scrape = () => fetch(options.metricsUrl).then((r) => r.text());
  const openStreams = async () =>
    Number(/^meterfabric_subscribe_events_streams (\d+)$/m.exec(await scrape())?.[1]);
  const streams: grpc.ClientReadableStream<unknown>[] = [];
  const subscribe = () => {
    const stream = client.SubscribeEvents({ afterPosition: 0, nouns: [] }, metadata());
    streams.push(stream);
    return stream;
  };
  try {
    for (let i = 0; i < options.cap; i++) {
      const stream = subscribe();
      stream.on('data', () => undefined);
      stream.on('error', () => undefined); // CANCELLED when this check closes it
    }
    // A stream counts once the server has taken the call: only then is one more over the cap.
    await waitFor(
      async () => (await openStreams()) === options.cap,
      `${options.cap} streams open`,
      30_000,
      100,
    );

    const extra = subscribe();
    let received = 0;
    extra.on('data', () => {
      received++;
    });
    const refused = await new Promise<grpc.ServiceError | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(undefined), refusalWaitMs);
      extra.on('error', (err: grpc.ServiceError) => {
        clearTimeout(timer);
        resolve(err);
      });
    });
    expect(refused?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(refused?.details).toMatch(
      new RegExp(
        `^MF_TOO_MANY_SUBSCRIBERS: this bridge already serves ${options.cap} SubscribeEvents streams`,
      ),
    );
    expect(refused?.metadata.get('mf-code')).toEqual(['MF_TOO_MANY_SUBSCRIBERS']);
    expect(received).toBe(0);
    const counted = await waitFor(
      async () =>
        /^meterfabric_subscribe_events_ended_total\{code="MF_TOO_MANY_SUBSCRIBERS"\} 1$/m.test(
          await scrape(),
        ),
      'the refusal counted on /metrics',
      10_000,
      100,
    );
    expect(counted).toBe(true);
  } finally {
    for (const stream of streams) stream.cancel();
    client.close();
  }
  await waitFor(async () => (await openStreams()) === 0, 'the streams closed', 30_000, 100);
}
