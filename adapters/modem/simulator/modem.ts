import { connect, type Socket } from 'node:net';
import type { Clock } from '../../../core/clock.js';
import { encodeFieldsIdentification, type ModemIdentification } from '../identification.js';
import { type MeterFault, SimulatedMeter } from '../iec62056/meter-model.js';

export type SimulatedModemOptions = {
  imei: string;
  /** Collector endpoints in order of preference: the organization's main server, then its backup. */
  servers: ReadonlyArray<{ host: string; port: number }>;
  clock: Clock;
  meterSerial: string;
  seed: number;
  iccid?: string;
  signalCsq?: number;
  firmware?: string;
  gpiCount?: number;
  /** Source address to dial from (several 127.0.0.x let one host open more than 64k connections). */
  localAddress?: string;
  /** Delay before redialling after a drop; doubles up to maxRedialMs. */
  redialMs?: number;
  maxRedialMs?: number;
  meterFault?: MeterFault;
  /** `fields` sends the IMEI=...;... line; `digits` sends the bare 15-digit IMEI + CR LF. */
  identForm?: 'fields' | 'digits';
};

/**
 * A GPRS modem in client mode with an IEC 62056-21 meter on its serial port: it dials the
 * collector, identifies, then passes bytes between the line and the meter; it redials after a
 * drop (main server first, then the backup) and reports GPI changes on a status connection.
 */
export class SimulatedModem {
  readonly meter: SimulatedMeter;
  gpi: boolean[];
  private socket: Socket | null = null;
  private running = false;
  private redialTimer: NodeJS.Timeout | null = null;
  private redialMs: number;
  private serverIndex = 0;
  connects = 0;
  private onlineWaiters: Array<() => void> = [];

  constructor(readonly options: SimulatedModemOptions) {
    this.meter = new SimulatedMeter({
      serial: options.meterSerial,
      seed: options.seed,
      clock: options.clock,
      fault: options.meterFault ?? 'none',
    });
    this.gpi = Array.from({ length: options.gpiCount ?? 2 }, () => false);
    this.redialMs = options.redialMs ?? 200;
  }

  get imei(): string {
    return this.options.imei;
  }

  get connected(): boolean {
    return this.socket !== null && !this.socket.destroyed && this.socket.readyState === 'open';
  }

  identification(type: 'data' | 'status'): ModemIdentification {
    const id: ModemIdentification = { imei: this.imei, type, gpi: this.gpi };
    if (this.options.iccid) id.iccid = this.options.iccid;
    if (this.options.signalCsq !== undefined) id.signalCsq = this.options.signalCsq;
    if (this.options.firmware) id.firmware = this.options.firmware;
    return id;
  }

  start(): void {
    this.running = true;
    this.dial();
  }

  /** Resolves once the modem has sent its identification on a live connection. */
  waitOnline(): Promise<void> {
    if (this.connected) return Promise.resolve();
    return new Promise((resolve) => this.onlineWaiters.push(resolve));
  }

  /** Simulates a dropped GPRS link: the socket dies and the modem redials. */
  drop(): void {
    this.socket?.destroy();
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.redialTimer) clearTimeout(this.redialTimer);
    const s = this.socket;
    this.socket = null;
    if (s && !s.destroyed) await new Promise<void>((r) => s.once('close', () => r()).destroy());
  }

  /** Changes a GPI input and reports it the way the modem reports state: a status connection. */
  setGpi(index: number, value: boolean): Promise<void> {
    this.gpi = this.gpi.map((v, i) => (i === index ? value : v));
    const server = this.options.servers[this.serverIndex]!;
    return new Promise((resolve, reject) => {
      const s = connect({ host: server.host, port: server.port, localAddress: this.options.localAddress });
      s.once('connect', () => s.write(encodeFieldsIdentification(this.identification('status'))));
      s.on('data', () => undefined);
      s.once('close', () => resolve());
      s.once('error', reject);
    });
  }

  private dial(): void {
    if (!this.running) return;
    const server = this.options.servers[this.serverIndex]!;
    const socket = connect({
      host: server.host,
      port: server.port,
      localAddress: this.options.localAddress,
      noDelay: true,
    });
    this.socket = socket;
    socket.once('connect', () => {
      this.redialMs = this.options.redialMs ?? 200;
      this.connects++;
      socket.setKeepAlive(true, 30_000);
      const form = this.options.identForm ?? 'fields';
      socket.write(
        form === 'digits' ? `${this.imei}\r\n` : encodeFieldsIdentification(this.identification('data')),
        () => {
          for (const w of this.onlineWaiters.splice(0)) w();
        },
      );
    });
    socket.on('data', (chunk: Buffer) => {
      for (const out of this.meter.receive(chunk)) socket.write(out);
    });
    socket.once('error', () => {
      // Main server unreachable: try the backup next time (iRZ's reserve server).
      if (this.options.servers.length > 1)
        this.serverIndex = (this.serverIndex + 1) % this.options.servers.length;
    });
    socket.once('close', () => {
      if (this.socket === socket) this.socket = null;
      if (!this.running) return;
      this.redialTimer = setTimeout(() => this.dial(), this.redialMs);
      this.redialMs = Math.min(this.redialMs * 2, this.options.maxRedialMs ?? 5000);
    });
  }
}
