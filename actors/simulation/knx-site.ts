import type { DptValue } from '../../adapters/knx/dpt.js';
import { GatewaySimulator } from '../../adapters/knx/simulator/gateway-simulator.js';
import type { SentValue, SimulatedMeterConfig } from '../../adapters/knx/simulator/simulated-bus.js';
import type { Clock } from '../../core/clock.js';
import type { FieldLink, FieldRequest, FieldResponse } from '../device/field.js';
import { KnxFieldLink } from '../device/knx-field-link.js';
import type { Outage } from './concentrator.js';
import { unit } from './hash.js';
import { dailyShape, hourMs } from './meter-model.js';

/**
 * A KNX gateway site of the fleet: our KNXnet/IP gateway simulator on a free loopback UDP
 * port with a few metering devices on its bus (energy DPT 13.010, power DPT 14.056, phase
 * voltage DPT 14.027, a DPT 1.001 load-shedding relay), reached through KnxFieldLink over
 * real UDP tunnelling. Started on the first request, so building a fleet opens no socket.
 * The meters' values follow the fleet's (simulated) clock; every value a device sends is
 * recorded: the site's ground truth.
 */

export type KnxSiteOptions = {
  id: string;
  timeZone: string;
  meterSerials: string[];
  seed: number;
  clock: Clock;
  /** Longest wait for the answers to one poll (loopback UDP; generous for loaded machines). */
  pollSettleMs?: number;
  /** Windows in which the gateway cannot be reached (its devices go on measuring). */
  outages?: Outage[];
};

/** Group addresses of the n-th meter (0-based) on a site. */
export function knxAddressesOf(n: number) {
  const middle = n + 1;
  return {
    energy: `5/${middle}/20`,
    power: `5/${middle}/21`,
    relay: `5/${middle}/22`,
    voltage: `5/${middle}/23`,
  };
}

/** Phase voltage per hour, V, in 0.5 V steps (exact in DPT 14's float32). */
export function knxVoltageV(seed: number, serial: string, atMs: number): number {
  const hourStart = Math.floor(atMs / hourMs) * hourMs;
  return 230 + (Math.floor(unit(seed, serial, 'kv', hourStart) * 25) - 12) * 0.5;
}

/** Bound on the ground-truth record (a day of hourly samples is a few hundred values a site). */
const maxRecorded = 1_000_000;

/** Power drawn in the hour of `atMs`, whole W: the residential shape with hourly noise. */
export function knxPowerW(seed: number, serial: string, averageW: number, atMs: number): number {
  const hourStart = Math.floor(atMs / hourMs) * hourMs;
  const noise = 0.8 + 0.4 * unit(seed, serial, 'kpn', hourStart);
  return Math.round(averageW * (dailyShape[new Date(hourStart).getUTCHours()] ?? 1) * noise);
}

export type KnxSentValue = Omit<SentValue, 'value'> & { value: DptValue };

export class SimulatedKnxSite implements FieldLink {
  readonly id: string;
  readonly timeZone: string;
  readonly meterSerials: readonly string[];
  /** Every value the simulated devices sent, in order (the ground truth). */
  readonly sent: KnxSentValue[] = [];
  /** Values sent after the record was full (then the truth is incomplete: tests check it is 0). */
  unrecorded = 0;
  readonly simulator: GatewaySimulator;
  readonly outages: readonly Outage[];
  private link: KnxFieldLink | undefined;
  private starting: Promise<KnxFieldLink> | undefined;
  private stopped = false;

  constructor(private readonly options: KnxSiteOptions) {
    this.id = options.id;
    this.timeZone = options.timeZone;
    this.meterSerials = options.meterSerials;
    this.outages = options.outages ?? [];
    const meters: SimulatedMeterConfig[] = options.meterSerials.map((serial, n) => {
      const ga = knxAddressesOf(n);
      const averageW = 200 + Math.floor(unit(options.seed, serial, 'kpw') * 1800);
      return {
        serial,
        individualAddress: 0x1105 + n,
        energy: { groupAddress: ga.energy, dpt: '13.010' },
        power: { groupAddress: ga.power },
        relay: { groupAddress: ga.relay },
        voltage: { groupAddress: ga.voltage },
        powerW: averageW,
        powerAt: (atMs) => knxPowerW(options.seed, serial, averageW, atMs),
        initialEnergyWh: Math.floor(unit(options.seed, serial, 'kew') * 2_000_000),
        voltageAt: (atMs) => knxVoltageV(options.seed, serial, atMs),
      };
    });
    // The tunnelling server keeps real time (heartbeats, repeats); the meters follow the fleet.
    this.simulator = new GatewaySimulator({
      host: '127.0.0.1',
      port: 0,
      tunnels: 2,
      meters,
      busClock: options.clock,
      friendlyName: `meterfabric ${options.id}`,
    });
    this.simulator.bus.onValue = (value) => {
      if (this.sent.length >= maxRecorded) return void this.unrecorded++;
      this.sent.push(value);
    };
  }

  unreachableAt(ms: number): boolean {
    return this.outages.some((o) => ms >= o.fromMs && ms < o.toMs);
  }

  async execute(request: FieldRequest): Promise<FieldResponse> {
    if (this.unreachableAt(this.options.clock.now()))
      throw new Error(`KNX gateway ${this.id} is not reachable (no route to host)`);
    const link = await this.started();
    return link.execute(request);
  }

  private started(): Promise<KnxFieldLink> {
    if (this.stopped) return Promise.reject(new Error(`KNX site ${this.id} is stopped`));
    if (!this.starting) {
      this.starting = this.start().catch((err: unknown) => {
        this.starting = undefined; // the next request tries again
        throw err;
      });
    }
    return this.starting;
  }

  private async start(): Promise<KnxFieldLink> {
    const { port } = await this.simulator.start();
    const link = new KnxFieldLink({
      config: {
        gatewayId: this.id,
        gateway: `127.0.0.1:${port}`,
        // The head-end's requests sample the meters; no background polling on the host clock.
        pollIntervalMs: 86_400_000,
        datapoints: this.options.meterSerials.flatMap((meterSerial, n) => {
          const ga = knxAddressesOf(n);
          return [
            { groupAddress: ga.energy, dpt: '13.010', meterSerial, kind: 'register' as const },
            { groupAddress: ga.power, dpt: '14.056', meterSerial, kind: 'instantaneous' as const },
            {
              groupAddress: ga.voltage,
              dpt: '14.027',
              meterSerial,
              kind: 'instantaneous' as const,
              quantity: 'L1' as const,
            },
          ];
        }),
        controls: this.options.meterSerials.flatMap((meterSerial, n) => [
          { meterSerial, action: 'disconnect' as const, groupAddress: knxAddressesOf(n).relay, value: false },
          { meterSerial, action: 'connect' as const, groupAddress: knxAddressesOf(n).relay, value: true },
        ]),
      },
      pollSettleMs: this.options.pollSettleMs ?? 10_000,
      stampClock: this.options.clock,
      tunnel: { localAddress: '127.0.0.1' },
    });
    this.link = link;
    link.start();
    const deadline = Date.now() + 10_000;
    while (!link.connected) {
      if (this.stopped || Date.now() > deadline) {
        this.link = undefined;
        await link.stop();
        await this.simulator.stop();
        throw new Error(`KNX gateway ${this.id} is not reachable: no tunnel within 10 s`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return link;
  }

  /** Closes the tunnel and the simulator's socket (safe to call when never started). */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.starting?.catch(() => undefined);
    await this.link?.stop();
    this.link = undefined;
    await this.simulator.stop();
  }
}
