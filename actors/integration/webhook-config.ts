import { ConfigError } from '../../core/errors.js';
import type { PublishedMessage } from './cim-publisher.js';

/**
 * Webhook subscriber configuration and its validation at start (every problem listed at once).
 */

export type WebhookNoun = PublishedMessage['noun'];
const nouns: readonly WebhookNoun[] = ['MeterReadings', 'EndDeviceEvents'];

export type WebhookSubscriberConfig = {
  /** Stable id: names the subscriber's queue and position in the state store. [A-Za-z0-9_.-]{1,64} */
  name: string;
  /** http: or https: URL the messages are POSTed to. */
  url: string;
  /** Shared secret for the HMAC-SHA256 signature header; without it deliveries are unsigned. */
  secret?: string;
  /** Only these nouns are delivered; empty or absent: all. */
  nouns?: readonly WebhookNoun[];
  /** PEM CA bundle that signs the receiver's certificate (https with a private CA). */
  caPem?: string | Buffer;
  /** PEM client certificate and key, when the receiver requires mTLS. */
  clientCertPem?: string | Buffer;
  clientKeyPem?: string | Buffer;
  /** Per-attempt limit for connecting, sending and getting the status line. */
  requestTimeoutMs?: number;
};

export type WebhookLimits = {
  /** Messages waiting per subscriber (on disk). When full, new messages are refused until it drains. */
  maxQueuedMessages: number;
  /** Largest message accepted into a queue; bigger ones are refused (counted and logged). */
  maxMessageBytes: number;
  /** Response bodies are read up to this size and discarded (a receiver cannot make us buffer). */
  maxResponseBytes: number;
  requestTimeoutMs: number;
};

export const defaultWebhookLimits: WebhookLimits = {
  maxQueuedMessages: 10_000,
  maxMessageBytes: 16 * 1024 * 1024,
  maxResponseBytes: 64 * 1024,
  requestTimeoutMs: 10_000,
};

/** Throws ConfigError listing every problem of the subscriber list. */
export function validateWebhookSubscribers(subscribers: readonly WebhookSubscriberConfig[]): void {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const [i, s] of subscribers.entries()) {
    const where = `webhook subscriber ${i + 1} (${s.name || 'unnamed'})`;
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(s.name))
      problems.push(`${where}: name must be 1-64 characters of A-Z a-z 0-9 _ . -`);
    if (seen.has(s.name)) problems.push(`${where}: name is used twice; names key the delivery positions`);
    seen.add(s.name);
    let url: URL | undefined;
    try {
      url = new URL(s.url);
    } catch {
      problems.push(`${where}: url "${s.url}" is not a URL`);
    }
    if (url && url.protocol !== 'http:' && url.protocol !== 'https:')
      problems.push(`${where}: url must be http: or https:, not ${url.protocol}`);
    if (url && (url.username || url.password))
      problems.push(`${where}: put no credentials in the url; use the shared secret (signature)`);
    for (const noun of s.nouns ?? [])
      if (!nouns.includes(noun)) problems.push(`${where}: noun "${noun}" is not one of ${nouns.join(', ')}`);
    if ((s.clientCertPem === undefined) !== (s.clientKeyPem === undefined))
      problems.push(`${where}: a client certificate needs its key, and a key its certificate`);
    if (s.secret !== undefined && s.secret.length < 16)
      problems.push(`${where}: the shared secret must be at least 16 characters`);
    if (s.requestTimeoutMs !== undefined && !(s.requestTimeoutMs > 0))
      problems.push(`${where}: requestTimeoutMs must be positive`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
}
