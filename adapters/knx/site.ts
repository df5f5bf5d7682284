import { type Clock, systemClock } from '../../core/clock.js';
import { type Logger, silentLogger } from '../../core/logger.js';
import type { ControlKind } from '../cim/event-type-map.js';
import type { CollectedReading, DeviceEvent } from '../field-data.js';
import { backoffDelayMs, defaultBackoff } from './backoff.js';
import { CemiMessageCode } from './constants.js';
import { parseEndpoint } from './discovery.js';
import { isKnxError, KnxError } from './errors.js';
import { isReading, type KnxSiteConfigInput, KnxSiteMap } from './site-map.js';
import { TunnelClient, type TunnelClientOptions } from './tunnel-client.js';

/**
 * The driver the head-end's Device actor uses for one KNX gateway: owns a tunnel, turns group
 * telegrams into CollectedReadings, polls with GroupValue_Read on schedule, executes
 * EndDeviceControl actions as confirmed GroupValue_Writes, and reports the gateway's
 * reachability as DeviceEvents (raised once when lost, cleared once when back).
 */

export type KnxSiteOptions = {
  config: KnxSiteConfigInput;
  onReading: (reading: CollectedReading) => void;
  onEvent: (event: DeviceEvent) => void;
  clock?: Clock;
  logger?: Logger;
  /** Overrides for the tunnel (timers, local address, backoff). */
  tunnel?: Partial<Omit<TunnelClientOptions, 'gateway' | 'clock' | 'logger'>>;
};

export class KnxSite {
  readonly map: KnxSiteMap;
  private client: TunnelClient | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private stopped = true;
  private reachable: boolean | undefined;
  private connectAttempt = 0;
  private readonly clock: Clock;
  private readonly logger: Logger;
  readonly stats = { readings: 0, unmapped: 0, polls: 0 };

  constructor(private readonly options: KnxSiteOptions) {
    this.map = new KnxSiteMap(options.config);
    this.clock = options.clock ?? systemClock;
    this.logger = (options.logger ?? silentLogger).child({
      component: 'knx-site',
      gateway: this.map.config.gatewayId,
    });
  }

  get connected(): boolean {
    return this.client?.status === 'connected';
  }

  /** Starts connecting (retrying with backoff while the gateway is unreachable) and polling. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    void this.connect();
    this.pollTimer = setInterval(() => void this.pollNow(), this.map.config.pollIntervalMs);
    this.pollTimer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.pollTimer) clearInterval(this.pollTimer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.pollTimer = undefined;
    this.retryTimer = undefined;
    const client = this.client;
    this.client = undefined;
    await client?.close();
  }

  private setReachable(reachable: boolean, why?: string): void {
    if (this.reachable === reachable) return;
    // The first successful connect is not an event; losing the gateway (or never reaching it) is.
    const wasKnown = this.reachable !== undefined;
    this.reachable = reachable;
    if (reachable && !wasKnown) return;
    this.options.onEvent(this.map.reachabilityEvent(reachable, this.clock.now(), why ? { reason: why } : {}));
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const client = new TunnelClient({
      ...this.options.tunnel,
      gateway: parseEndpoint(this.map.config.gateway),
      routeBack: this.map.config.routeBack,
      clock: this.clock,
      logger: this.logger,
    });
    client.on({
      telegram: (cemi) => {
        if (cemi.kind !== 'ldata' || cemi.messageCode !== CemiMessageCode.L_DATA_IND) return;
        const result = this.map.readingFor(cemi, this.clock.now());
        if (isReading(result)) {
          this.stats.readings++;
          this.options.onReading(result);
        } else if (result) {
          this.stats.unmapped++;
          this.logger.warn(result, 'KNX telegram not turned into a reading');
        }
      },
      status: (status, error) => {
        if (status === 'connected') this.setReachable(true);
        else if (status === 'reconnecting') this.setReachable(false, error?.message);
      },
    });
    this.client = client;
    try {
      await client.connect();
      this.connectAttempt = 0;
      void this.pollNow();
    } catch (err) {
      await client.close();
      if (this.client === client) this.client = undefined;
      if (this.stopped) return;
      const message = isKnxError(err) ? err.message : String(err);
      this.setReachable(false, message);
      const full = isKnxError(err, 'MF_KNX_NO_MORE_CONNECTIONS');
      const delayMs = backoffDelayMs(
        this.connectAttempt++,
        { ...defaultBackoff, ...this.options.tunnel?.backoff },
        full,
      );
      this.logger.warn({ reason: message, delayMs }, 'KNX gateway unreachable; retrying');
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        void this.connect();
      }, delayMs);
    }
  }

  /** Sends GroupValue_Read to every polled address; answers arrive as readings. */
  async pollNow(): Promise<void> {
    const client = this.client;
    if (client?.status !== 'connected') return;
    this.stats.polls++;
    for (const ga of this.map.pollAddresses) {
      try {
        await client.groupRead(ga);
      } catch (err) {
        this.logger.warn({ err: isKnxError(err) ? err.message : String(err), ga }, 'KNX poll read failed');
        return;
      }
    }
  }

  /**
   * Executes an EndDeviceControl action: the configured GroupValue_Write, resolved once the
   * gateway confirmed it on the bus; emits the matching meter event with the correlation id.
   */
  async execute(meterSerial: string, action: ControlKind, correlationId?: string): Promise<DeviceEvent> {
    const write = this.map.controlFor(meterSerial, action);
    const client = this.client;
    if (client?.status !== 'connected') {
      throw new KnxError(
        'MF_KNX_NOT_CONNECTED',
        `KNX gateway ${this.map.config.gatewayId} is not connected; the ${action} for ${meterSerial} was not sent`,
      );
    }
    await client.groupWrite(write.groupAddress, write.payload);
    const event = this.map.controlEvent(meterSerial, action, this.clock.now(), correlationId);
    this.options.onEvent(event);
    return event;
  }
}
