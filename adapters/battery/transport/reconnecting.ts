import { BatteryTransportError } from '../errors.js';
import { Listeners, type Transport, type TransportEvent } from './transport.js';

export type ReconnectOptions = {
  /** First retry delay; doubles per failure up to maxDelayMs, back to the start after a success. */
  initialDelayMs?: number;
  maxDelayMs?: number;
  description?: string;
};

/**
 * Keeps a transport to a site open: connects with `connect`, forwards its messages, and when it
 * drops or cannot be reached, retries with capped exponential backoff. A drop is reported as an
 * 'error' event (MF_BATTERY_TRANSPORT_CLOSED), not 'closed', because the link will come back; the
 * monitor sees the silence and raises battery.linkLost itself. Only close() ends it.
 */
export class ReconnectingTransport<M> implements Transport<M> {
  readonly description: string;
  private readonly listeners = new Listeners<M>();
  private current: Transport<M> | undefined;
  private closed = false;
  private delayMs: number;
  private timer: NodeJS.Timeout | undefined;
  connects = 0;

  constructor(
    private readonly connect: () => Promise<Transport<M>>,
    private readonly options: ReconnectOptions = {},
  ) {
    this.description = options.description ?? 'reconnecting transport';
    this.delayMs = options.initialDelayMs ?? 500;
    void this.attempt();
  }

  private async attempt(): Promise<void> {
    if (this.closed) return;
    try {
      const transport = await this.connect();
      if (this.closed) {
        await transport.close();
        return;
      }
      this.current = transport;
      this.connects++;
      this.delayMs = this.options.initialDelayMs ?? 500;
      transport.subscribe((event) => {
        if (event.type !== 'closed') {
          this.listeners.emit(event);
          return;
        }
        this.current = undefined;
        if (this.closed) return;
        this.listeners.emit({
          type: 'error',
          error: new BatteryTransportError(
            'MF_BATTERY_TRANSPORT_CLOSED',
            `${transport.description} dropped; reconnecting`,
          ),
        });
        this.schedule();
      });
    } catch (err) {
      this.listeners.emit({
        type: 'error',
        error:
          err instanceof BatteryTransportError
            ? err
            : new BatteryTransportError(
                'MF_BATTERY_TRANSPORT_CONNECT',
                `${this.description}: ${(err as Error).message}`,
              ),
      });
      this.schedule();
    }
  }

  private schedule(): void {
    if (this.closed || this.timer) return;
    const delayMs = this.delayMs;
    this.delayMs = Math.min(this.options.maxDelayMs ?? 30_000, this.delayMs * 2);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.attempt();
    }, delayMs);
  }

  get connected(): boolean {
    return this.current !== undefined;
  }

  async send(message: M): Promise<void> {
    if (!this.current) {
      throw new BatteryTransportError(
        'MF_BATTERY_TRANSPORT_CLOSED',
        `${this.description} is not connected right now`,
      );
    }
    await this.current.send(message);
  }

  subscribe(listener: (event: TransportEvent<M>) => void): () => void {
    return this.listeners.add(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const current = this.current;
    this.current = undefined;
    await current?.close();
    this.listeners.emit({ type: 'closed' });
    this.listeners.clear();
  }
}
