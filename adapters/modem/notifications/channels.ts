import { createTransport, type Transporter } from 'nodemailer';
import { eventTypeFor } from '../../cim/event-type-map.js';
import type { DeviceEvent } from '../../field-data.js';

/** Where notifications go. Each channel sends one event; retries are the notifier's job. */
export interface NotificationChannel {
  readonly name: string;
  send(event: DeviceEvent): Promise<void>;
  close?(): void;
}

export type WebhookConfig = { url: string; timeoutMs?: number; bearerToken?: string };

const words: Record<string, string> = {
  'modem.disconnected': 'disconnected',
  'modem.reconnected': 'reconnected',
  'modem.gpiChanged': 'GPI input changed',
};

export function describeEvent(event: DeviceEvent): string {
  const what = words[event.key] ?? event.key;
  const details = Object.entries(event.details ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
  return `modem ${event.deviceId} ${what}${details ? ` (${details})` : ''} at ${new Date(event.timestampMs).toISOString()}`;
}

/** POSTs `{ event, endDeviceEventType, text }` as JSON; a non-2xx answer is a failure. */
export class WebhookChannel implements NotificationChannel {
  readonly name = 'webhook';
  constructor(private readonly config: WebhookConfig) {}

  async send(event: DeviceEvent): Promise<void> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.config.bearerToken) headers.authorization = `Bearer ${this.config.bearerToken}`;
    const res = await fetch(this.config.url, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        event,
        endDeviceEventType: eventTypeFor(event.key, event.phase),
        text: describeEvent(event),
      }),
      signal: AbortSignal.timeout(this.config.timeoutMs ?? 5000),
    });
    if (!res.ok) throw new Error(`webhook ${this.config.url} answered ${res.status}`);
  }
}

export type EmailConfig = {
  host: string;
  port: number;
  /** Implicit TLS (port 465); otherwise STARTTLS is used when the server offers it. */
  secure?: boolean;
  /** Refuse to send without STARTTLS (production). */
  requireTls?: boolean;
  auth?: { user: string; pass: string };
  from: string;
  to: string[];
  timeoutMs?: number;
};

/** E-mail through a maintained SMTP client (nodemailer). */
export class EmailChannel implements NotificationChannel {
  readonly name = 'email';
  private readonly transport: Transporter;

  constructor(private readonly config: EmailConfig) {
    this.transport = createTransport({
      host: config.host,
      port: config.port,
      secure: config.secure ?? false,
      requireTLS: config.requireTls ?? false,
      auth: config.auth,
      connectionTimeout: config.timeoutMs ?? 10_000,
      socketTimeout: config.timeoutMs ?? 10_000,
    });
  }

  async send(event: DeviceEvent): Promise<void> {
    const text = describeEvent(event);
    await this.transport.sendMail({
      from: this.config.from,
      to: this.config.to,
      subject: `meterfabric: ${text.split(' (')[0]!.split(' at ')[0]}`,
      text: `${text}\nEndDeviceEventType ${eventTypeFor(event.key, event.phase)}\n`,
    });
  }

  close(): void {
    this.transport.close();
  }
}
