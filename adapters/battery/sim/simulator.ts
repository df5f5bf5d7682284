import { createServer, type Server, type Socket } from 'node:net';
import { ManualClock } from '../../../core/clock.js';
import { type Logger, silentLogger } from '../../../core/logger.js';
import { Gtx2500Pack } from '../bms/pack.js';
import { Gtx2500Stack, type StackStatus } from '../bms/stack.js';
import type { CanFrame } from '../can/frame.js';
import { BatteryConfigError } from '../errors.js';
import type { Rs485Frame } from '../rs485/frame.js';
import { StreamTransport } from '../transport/tcp.js';
import { canetWireFormat, rs485WireFormat } from '../transport/wire-formats.js';
import { pylonFramesOf, type SimulatedVariant, sofarFramesOf } from './can-frames.js';
import { answerRequest } from './rs485-replies.js';
import {
  type ScenarioName,
  type ScenarioSettings,
  scenarioSettingsAt,
  scenarios,
  stepsBetween,
} from './scenarios.js';

export type SimulatorOptions = {
  host?: string;
  /** 0 (default) lets the OS choose. */
  canPort?: number;
  /** Also serve the RS485 ASCII protocol on its own port (a transparent serial server). */
  rs485?: boolean;
  rs485Port?: number;
  packCount?: number;
  initialSocPct?: number;
  scenario?: ScenarioName;
  variant?: SimulatedVariant;
  /** Real milliseconds between broadcasts (a real pack: 1000). */
  cycleMs?: number;
  /** Simulated milliseconds per real millisecond (60 = a minute per second). */
  timeScale?: number;
  /** When set, the pack falls silent if no inverter 0x305 arrived for this many real ms. */
  requireHeartbeatMs?: number;
  /** Simulated start time (ms since epoch); default now. */
  startMs?: number;
  maxClients?: number;
  /**
   * Driven from outside: no broadcast timer; the owner calls advanceTo(simMs) and each call
   * broadcasts once (a fleet on a simulated clock, deterministic per seed).
   */
  driven?: boolean;
  /** Settings by simulated instant, used instead of the named scenario (a fleet's daily profile). */
  settingsAt?: (simMs: number) => ScenarioSettings;
  logger?: Logger;
};

/**
 * A battery site: 1–4 GTX2500 packs behind a TCP "gateway". The CAN port speaks 13-byte CANET
 * frames and broadcasts the master's frames every cycle; the optional RS485 port answers
 * Pylontech ASCII requests. A scenario drives demand and temperature in simulated time.
 */
export class BatterySiteSimulator {
  readonly clock: ManualClock;
  readonly stack: Gtx2500Stack;
  private readonly options: Required<
    Omit<
      SimulatorOptions,
      'requireHeartbeatMs' | 'logger' | 'rs485Port' | 'startMs' | 'driven' | 'settingsAt'
    >
  > & {
    requireHeartbeatMs: number | undefined;
    driven: boolean;
    settingsAt: ((simMs: number) => ScenarioSettings) | undefined;
  };
  private readonly startMs: number;
  private readonly logger: Logger;
  private readonly canClients = new Set<StreamTransport<CanFrame>>();
  private readonly rs485Clients = new Set<StreamTransport<Rs485Frame>>();
  private servers: Server[] = [];
  private timer: NodeJS.Timeout | undefined;
  private lastElapsedMs = -1;
  private lastHeartbeatRealMs = Date.now();
  private manualSilent = false;
  private silentNow = false;
  private status: StackStatus;
  canAddress: { host: string; port: number } = { host: '', port: 0 };
  rs485Address: { host: string; port: number } | undefined;
  framesSent = 0;
  heartbeatsSeen = 0;

  private constructor(options: SimulatorOptions) {
    const packCount = options.packCount ?? 1;
    if (!Number.isInteger(packCount) || packCount < 1 || packCount > 4) {
      throw new BatteryConfigError(`the simulator runs 1 to 4 packs, not ${packCount}`);
    }
    this.options = {
      host: options.host ?? '127.0.0.1',
      canPort: options.canPort ?? 0,
      rs485: options.rs485 ?? false,
      packCount,
      initialSocPct: options.initialSocPct ?? 60,
      scenario: options.scenario ?? 'idle',
      variant: options.variant ?? 'pylon-v1.2',
      cycleMs: options.cycleMs ?? 1000,
      timeScale: options.timeScale ?? 1,
      maxClients: options.maxClients ?? 8,
      requireHeartbeatMs: options.requireHeartbeatMs,
      driven: options.driven ?? false,
      settingsAt: options.settingsAt,
    };
    this.logger = options.logger ?? silentLogger;
    this.startMs = options.startMs ?? Date.now();
    this.clock = new ManualClock(this.startMs);
    const packs = Array.from(
      { length: packCount },
      () => new Gtx2500Pack({ clock: this.clock, socPct: this.options.initialSocPct }),
    );
    this.stack = new Gtx2500Stack(packs, this.clock);
    this.status = this.stack.step();
  }

  static async start(options: SimulatorOptions = {}): Promise<BatterySiteSimulator> {
    const rs485Port = options.rs485Port ?? 0;
    const sim = new BatterySiteSimulator(options);
    const can = await sim.listen(sim.options.canPort, (socket) => sim.acceptCan(socket));
    sim.canAddress = can;
    if (sim.options.rs485)
      sim.rs485Address = await sim.listen(rs485Port, (socket) => sim.acceptRs485(socket));
    sim.tick();
    if (!sim.options.driven) sim.timer = setInterval(() => sim.tick(), sim.options.cycleMs);
    return sim;
  }

  private listen(port: number, onSocket: (socket: Socket) => void): Promise<{ host: string; port: number }> {
    const server = createServer((socket) => {
      if (this.canClients.size + this.rs485Clients.size >= this.options.maxClients) {
        socket.destroy();
        return;
      }
      onSocket(socket);
    });
    this.servers.push(server);
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, this.options.host, () => {
        const address = server.address();
        resolve({
          host: this.options.host,
          port: typeof address === 'object' && address ? address.port : port,
        });
      });
    });
  }

  private acceptCan(socket: Socket): void {
    const transport = new StreamTransport(
      socket,
      canetWireFormat,
      `sim canet ${socket.remoteAddress}:${socket.remotePort}`,
    );
    this.canClients.add(transport);
    transport.subscribe((event) => {
      if (event.type === 'message' && event.message.id === 0x305 && !event.message.extended) {
        this.heartbeatsSeen++;
        this.lastHeartbeatRealMs = Date.now();
      } else if (event.type === 'closed') this.canClients.delete(transport);
    });
  }

  private acceptRs485(socket: Socket): void {
    const transport = new StreamTransport(
      socket,
      rs485WireFormat,
      `sim rs485 ${socket.remoteAddress}:${socket.remotePort}`,
    );
    this.rs485Clients.add(transport);
    transport.subscribe((event) => {
      if (event.type === 'message' && !this.silentNow) {
        transport.send(answerRequest(event.message, this.status)).catch(() => undefined);
      } else if (event.type === 'error') {
        this.logger.debug({ err: event.error.toJSON() }, 'simulator: bad RS485 request ignored');
      } else if (event.type === 'closed') this.rs485Clients.delete(transport);
    });
  }

  /** One cycle: advance simulated time, apply the scenario, step the BMS, broadcast. */
  tick(): StackStatus {
    if (this.lastElapsedMs >= 0) this.clock.advance(this.options.cycleMs * this.options.timeScale);
    return this.cycle();
  }

  /** Driven mode: simulated time jumps to `simMs` (never back), then one cycle runs. */
  advanceTo(simMs: number): StackStatus {
    if (simMs > this.clock.now()) this.clock.set(simMs);
    return this.cycle();
  }

  private cycle(): StackStatus {
    const elapsedMs = this.clock.now() - this.startMs;
    const scenario = scenarios[this.options.scenario];
    const settingsAt = this.options.settingsAt;
    if (!settingsAt) {
      for (const step of stepsBetween(scenario, this.lastElapsedMs, elapsedMs)) {
        if (step.socPct !== undefined) for (const pack of this.stack.packs) pack.setSocPct(step.socPct);
      }
    }
    this.lastElapsedMs = elapsedMs;
    const settings = settingsAt ? settingsAt(this.clock.now()) : scenarioSettingsAt(scenario, elapsedMs);
    if (settings.demandA !== undefined) this.stack.setDemandCurrentA(settings.demandA);
    if (settings.temperatureC !== undefined) this.stack.setTemperatureC(settings.temperatureC);
    if (settings.fault !== undefined) for (const pack of this.stack.packs) pack.setFault(settings.fault);
    this.status = this.stack.step();
    const heartbeatMissing =
      this.options.requireHeartbeatMs !== undefined &&
      Date.now() - this.lastHeartbeatRealMs > this.options.requireHeartbeatMs;
    this.silentNow = this.manualSilent || Boolean(settings.silent) || heartbeatMissing;
    if (!this.silentNow) {
      const frames =
        this.options.variant === 'sofar-extended' ? sofarFramesOf(this.status) : pylonFramesOf(this.status);
      for (const client of this.canClients) {
        for (const frame of frames) client.send(frame).catch(() => undefined);
      }
      this.framesSent += frames.length * this.canClients.size;
    }
    return this.status;
  }

  /** Test and demo hook: silence the pack regardless of the scenario. */
  setSilent(silent: boolean): void {
    this.manualSilent = silent;
  }

  get isSilent(): boolean {
    return this.silentNow;
  }

  lastStatus(): StackStatus {
    return this.status;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await Promise.all([...this.canClients, ...this.rs485Clients].map((c) => c.close()));
    await Promise.all(this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    this.servers = [];
  }
}
