import type { Clock } from '../../../core/clock.js';
import type { Logger } from '../../../core/logger.js';
import type { DeviceEvent } from '../../field-data.js';
import type { ModemCollector } from '../collector/collector.js';
import type { NotificationChannel } from './channels.js';
import { NotificationDebouncer } from './debouncer.js';

export type NotifierOptions = {
  collector: ModemCollector;
  channels: NotificationChannel[];
  clock: Clock;
  logger: Logger;
  /** Debounce window per modem. */
  windowMs?: number;
  /** Sends waiting at most; beyond it new notifications are dropped (and counted). */
  maxQueued?: number;
  /** Attempts per channel and event. */
  attempts?: number;
};

/**
 * Sends the collector's disconnect / reconnect / GPI notifications to every channel, debounced
 * per modem, one send at a time through a bounded queue so a mass outage cannot open
 * thousands of SMTP connections.
 */
export class ModemNotifier {
  readonly debouncer: NotificationDebouncer;
  sent = 0;
  failed = 0;
  droppedQueueFull = 0;
  private readonly queue: DeviceEvent[] = [];
  private sending = false;
  private readonly timer: NodeJS.Timeout;
  private readonly onEvent = (e: DeviceEvent) => this.debouncer.push(e);

  constructor(private readonly options: NotifierOptions) {
    const windowMs = options.windowMs ?? 30_000;
    this.debouncer = new NotificationDebouncer({ windowMs, maxTrackedModems: 100_000 });
    options.collector.on('device-event', this.onEvent);
    this.timer = setInterval(() => this.tick(), Math.max(20, Math.floor(windowMs / 4)));
    this.timer.unref();
  }

  private tick(): void {
    const max = this.options.maxQueued ?? 10_000;
    for (const event of this.debouncer.due(this.options.clock.now())) {
      if (this.queue.length >= max) this.droppedQueueFull++;
      else this.queue.push(event);
    }
    void this.drain();
  }

  private async drain(): Promise<void> {
    if (this.sending) return;
    this.sending = true;
    try {
      for (let event = this.queue.shift(); event; event = this.queue.shift()) {
        for (const channel of this.options.channels) await this.sendWithRetry(channel, event);
      }
    } finally {
      this.sending = false;
    }
  }

  private async sendWithRetry(channel: NotificationChannel, event: DeviceEvent): Promise<void> {
    const attempts = this.options.attempts ?? 3;
    for (let i = 1; i <= attempts; i++) {
      try {
        await channel.send(event);
        this.sent++;
        return;
      } catch (err) {
        if (i === attempts) {
          this.failed++;
          this.options.logger.error({ err, channel: channel.name, event }, 'notification not delivered');
          return;
        }
        await new Promise((r) => setTimeout(r, 200 * i));
      }
    }
  }

  stop(): void {
    clearInterval(this.timer);
    this.options.collector.off('device-event', this.onEvent);
    for (const c of this.options.channels) c.close?.();
  }
}
