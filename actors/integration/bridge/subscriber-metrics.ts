import { Counter, Gauge, type Registry } from 'prom-client';
import { isMeterfabricError } from '../../../core/errors.js';
import type { SubscriberStats } from './subscribe-events.js';

/**
 * meterfabric_subscribe_events_* on the process's metrics endpoint (metrics-endpoint.ts): what
 * the gRPC bridge's SubscribeEvents streams hold for their clients, as totals of this process,
 * never per client (a label per stream or caller would grow without bound). What to alert on:
 *
 *   meterfabric_subscribe_events_streams                  open streams
 *   meterfabric_subscribe_events_largest_buffered_bytes   the most bytes one open stream has
 *                                                         waiting for its client now
 *   meterfabric_subscribe_events_max_buffered_bytes       the configured bound per stream
 *   meterfabric_subscribe_events_fell_behind_total        times a stream was detached from the
 *                                                         live messages to catch up from the files
 *   meterfabric_subscribe_events_ended_total{code}        streams the server ended with an error:
 *                                                         MF_SUBSCRIBER_OVERFLOW (too slow, no out
 *                                                         dir), MF_CHECKPOINT_EXPIRED (its position
 *                                                         left the window), MF_TOO_MANY_SUBSCRIBERS
 *                                                         (refused: maxSubscribers open), other
 *
 * The gauges are read from the open streams when scraped; the counters count events, so what
 * streams that have since closed did stays counted.
 */

/** The codes `ended_total` is labelled with; anything else is `other` (the label stays bounded). */
export const subscriberEndCodes = [
  'MF_SUBSCRIBER_OVERFLOW',
  'MF_CHECKPOINT_EXPIRED',
  'MF_TOO_MANY_SUBSCRIBERS',
  'other',
] as const;

export type SubscriberMetrics = {
  fellBehind(): void;
  ended(err: unknown): void;
  unregister(): void;
};

const names = {
  streams: 'meterfabric_subscribe_events_streams',
  largest: 'meterfabric_subscribe_events_largest_buffered_bytes',
  max: 'meterfabric_subscribe_events_max_buffered_bytes',
  fellBehind: 'meterfabric_subscribe_events_fell_behind_total',
  ended: 'meterfabric_subscribe_events_ended_total',
} as const;

export function subscriberMetrics(
  registry: Registry,
  source: { stats(): SubscriberStats[]; maxSubscriberBufferedBytes: number },
): SubscriberMetrics {
  const registers = [registry];
  new Gauge({
    name: names.streams,
    help: 'Open SubscribeEvents streams',
    registers,
    collect() {
      this.set(source.stats().length);
    },
  });
  new Gauge({
    name: names.largest,
    help: 'Bytes written to the SubscribeEvents stream furthest behind and not yet taken by its client',
    registers,
    collect() {
      this.set(Math.max(0, ...source.stats().map((s) => s.bufferedBytes)));
    },
  });
  new Gauge({
    name: names.max,
    help: 'Bytes a SubscribeEvents stream may have waiting for its client (--max-subscriber-buffered-mib)',
    registers,
    collect() {
      this.set(source.maxSubscriberBufferedBytes);
    },
  });
  const fellBehind = new Counter({
    name: names.fellBehind,
    help: 'Times a SubscribeEvents client fell behind by the bound and was caught up from the files',
    registers,
  });
  const ended = new Counter({
    name: names.ended,
    help: 'SubscribeEvents streams the server ended with an error, by MF code (MF_SUBSCRIBER_OVERFLOW: resubscribe; MF_CHECKPOINT_EXPIRED: reconcile from <out>/cim/)',
    labelNames: ['code'],
    registers,
  });
  // Present at 0 from the start, so increase() and absent-series alerts work before the first end.
  for (const code of subscriberEndCodes) ended.inc({ code }, 0);
  return {
    fellBehind: () => fellBehind.inc(),
    ended: (err) => {
      const code = isMeterfabricError(err) ? err.code : 'other';
      ended.inc({ code: (subscriberEndCodes as readonly string[]).includes(code) ? code : 'other' });
    },
    unregister: () => {
      for (const name of Object.values(names))
        if (registry.getSingleMetric(name)) registry.removeSingleMetric(name);
    },
  };
}
