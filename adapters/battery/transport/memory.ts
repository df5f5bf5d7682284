import { BatteryTransportError } from '../errors.js';
import { Listeners, type Transport, type TransportEvent } from './transport.js';

/**
 * An in-memory broadcast bus, like a CAN bus: what one endpoint sends every other endpoint
 * receives (not the sender), asynchronously, in order. For tests and single-process demos.
 */
export class MemoryBus<M> {
  private readonly endpoints = new Set<MemoryEndpoint<M>>();

  constructor(readonly name = 'bus') {}

  connect(label = `endpoint${this.endpoints.size + 1}`): Transport<M> {
    const endpoint = new MemoryEndpoint<M>(this, `memory:${this.name}/${label}`);
    this.endpoints.add(endpoint);
    return endpoint;
  }

  /** @internal */
  deliver(from: MemoryEndpoint<M>, message: M): void {
    for (const endpoint of this.endpoints)
      if (endpoint !== from) endpoint.receive({ type: 'message', message });
  }

  /** @internal */
  detach(endpoint: MemoryEndpoint<M>): void {
    this.endpoints.delete(endpoint);
  }
}

class MemoryEndpoint<M> implements Transport<M> {
  private readonly listeners = new Listeners<M>();
  private closed = false;

  constructor(
    private readonly bus: MemoryBus<M>,
    readonly description: string,
  ) {}

  async send(message: M): Promise<void> {
    if (this.closed) {
      throw new BatteryTransportError('MF_BATTERY_TRANSPORT_CLOSED', `${this.description} is closed`);
    }
    queueMicrotask(() => this.bus.deliver(this, message));
  }

  receive(event: TransportEvent<M>): void {
    if (!this.closed) queueMicrotask(() => this.listeners.emit(event));
  }

  subscribe(listener: (event: TransportEvent<M>) => void): () => void {
    return this.listeners.add(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.bus.detach(this);
    this.listeners.emit({ type: 'closed' });
    this.listeners.clear();
  }
}
