import { Counter, Gauge, type Registry } from 'prom-client';
import { type Clock, systemClock } from '../../core/clock.js';
import { makeDirectory } from '../../core/fs/make-directory.js';
import { type Logger, silentLogger } from '../../core/logger.js';
import type { CimPublisher } from './cim-publisher.js';
import { type BackoffPolicy, defaultBackoff } from './webhook-backoff.js';
import { WebhookChannel, type WebhookEvents, type WebhookSubscriberStatus } from './webhook-channel.js';
import {
  defaultWebhookLimits,
  validateWebhookSubscribers,
  type WebhookLimits,
  type WebhookSubscriberConfig,
} from './webhook-config.js';
import { WebhookOutbox } from './webhook-outbox.js';

/**
 * Optional webhook delivery of the CIM publisher's EventMessages: one channel per configured
 * subscriber (see webhook-channel.ts for ordering, retries and the bounded queue), all sharing
 * one classic-level state store under `stateDir`.
 */

export type WebhookDispatcherOptions = {
  subscribers: readonly WebhookSubscriberConfig[];
  /** Directory of the durable queues and positions (created if missing). */
  stateDir: string;
  limits?: Partial<WebhookLimits>;
  backoff?: BackoffPolicy;
  /** Wall clock for the signature timestamp; not the simulated clock of the demo. */
  clock?: Clock;
  random?: () => number;
  logger?: Logger;
  /** Prometheus registry for meterfabric_webhook_* metrics. */
  metrics?: Registry;
};

export type { WebhookSubscriberStatus };

export class WebhookDispatcher {
  private constructor(
    private readonly outbox: WebhookOutbox,
    private readonly channels: WebhookChannel[],
    private readonly unregister: () => void,
  ) {}

  /** Validates the subscribers (ConfigError lists every problem), opens the store, starts delivering. */
  static async start(publisher: CimPublisher, options: WebhookDispatcherOptions): Promise<WebhookDispatcher> {
    validateWebhookSubscribers(options.subscribers);
    await makeDirectory(options.stateDir);
    const outbox = await WebhookOutbox.open(options.stateDir);
    const clock = options.clock ?? systemClock;
    const metrics = options.metrics
      ? webhookMetrics(options.metrics, clock)
      : { events: {}, unregister: () => {} };
    const logger = (options.logger ?? silentLogger).child({ component: 'webhook' });
    for (const s of options.subscribers) {
      // Allowed (development, loopback receivers), but say so: production wants both.
      if (s.secret === undefined)
        logger.warn({ subscriber: s.name }, 'webhook: no shared secret; deliveries are unsigned');
      if (new URL(s.url).protocol === 'http:' && !isLoopback(new URL(s.url).hostname))
        logger.warn(
          { subscriber: s.name, url: s.url },
          'webhook: plain http to a remote receiver; use https',
        );
    }
    const channels = options.subscribers.map(
      (config) =>
        new WebhookChannel(config, {
          publisher,
          outbox,
          limits: { ...defaultWebhookLimits, ...options.limits },
          backoff: options.backoff ?? defaultBackoff,
          clock,
          random: options.random ?? Math.random,
          logger,
          events: metrics.events,
        }),
    );
    const dispatcher = new WebhookDispatcher(outbox, channels, metrics.unregister);
    metrics.bind?.(dispatcher);
    for (const channel of channels) await channel.start();
    return dispatcher;
  }

  /**
   * Resolves once every message published so far is in the subscribers' durable queues. For
   * at-least-once across a crash, the stream consumer calls this before acknowledging the batch
   * it published: a batch acknowledged earlier and lost in a crash would not be published again.
   */
  async flush(): Promise<void> {
    await Promise.all(this.channels.map((c) => c.flush()));
  }

  status(): WebhookSubscriberStatus[] {
    return this.channels.map((c) => c.status());
  }

  /** Stops delivering (an in-flight request is aborted and retried after restart), closes the store. */
  async close(): Promise<void> {
    await Promise.all(this.channels.map((c) => c.close()));
    this.unregister();
    await this.outbox.close();
  }
}

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || hostname.startsWith('127.');
}

/**
 * meterfabric_webhook_* on the process's metrics endpoint, per subscriber: queue depth
 * (queued_messages), delivered_total, retried attempts (failed_attempts_total), failed
 * permanently (lost_total: skipped as too large, or refused and no longer retained), refused
 * (delayed, not lost), and last_success_age_seconds.
 */
function webhookMetrics(
  registry: Registry,
  clock: Clock,
): {
  events: WebhookEvents;
  unregister: () => void;
  bind?: (d: WebhookDispatcher) => void;
} {
  const labelNames = ['subscriber'];
  const delivered = new Counter({
    name: 'meterfabric_webhook_delivered_total',
    help: 'Messages a webhook receiver acknowledged with 2xx',
    labelNames,
    registers: [registry],
  });
  const failed = new Counter({
    name: 'meterfabric_webhook_failed_attempts_total',
    help: 'Webhook delivery attempts that failed and will be retried',
    labelNames,
    registers: [registry],
  });
  const refused = new Counter({
    name: 'meterfabric_webhook_refused_total',
    help: 'Messages a full webhook queue refused (taken again from the publisher once it drains)',
    labelNames,
    registers: [registry],
  });
  const lost = new Counter({
    name: 'meterfabric_webhook_lost_total',
    help: 'Refused messages the publisher no longer retained when the queue drained (reconcile from files)',
    labelNames,
    registers: [registry],
  });
  let dispatcher: WebhookDispatcher | undefined;
  new Gauge({
    name: 'meterfabric_webhook_queued_messages',
    help: 'Messages waiting in a webhook subscriber queue',
    labelNames,
    registers: [registry],
    collect() {
      for (const s of dispatcher?.status() ?? []) this.set({ subscriber: s.name }, s.queued);
    },
  });
  new Gauge({
    name: 'meterfabric_webhook_last_success_age_seconds',
    help: 'Seconds since the receiver last answered 2xx (since the dispatcher started, while none yet)',
    labelNames,
    registers: [registry],
    collect() {
      for (const s of dispatcher?.status() ?? [])
        this.set({ subscriber: s.name }, Math.max(0, (clock.now() - s.lastSuccessAtMs) / 1000));
    },
  });
  return {
    events: {
      delivered: (subscriber) => delivered.inc({ subscriber }),
      failedAttempt: (subscriber) => failed.inc({ subscriber }),
      refused: (subscriber) => refused.inc({ subscriber }),
      lost: (subscriber, count) => lost.inc({ subscriber }, count),
    },
    bind: (d) => {
      dispatcher = d;
    },
    unregister: () => {
      for (const name of [
        'meterfabric_webhook_delivered_total',
        'meterfabric_webhook_failed_attempts_total',
        'meterfabric_webhook_refused_total',
        'meterfabric_webhook_lost_total',
        'meterfabric_webhook_queued_messages',
        'meterfabric_webhook_last_success_age_seconds',
      ])
        if (registry.getSingleMetric(name)) registry.removeSingleMetric(name);
    },
  };
}
