import type { Clock } from '../../core/clock.js';
import { ConfigError } from '../../core/errors.js';
import type { RegistryCommand } from '../registry/commands.js';
import { BatteryProfile } from './battery-profile.js';
import { SimulatedBatterySite } from './battery-site.js';
import { type Outage, SimulatedConcentrator } from './concentrator.js';
import { unit } from './hash.js';
import { SimulatedKnxSite } from './knx-site.js';
import { hourMs, MeterModel } from './meter-model.js';
import { PrepaymentAccount } from './prepayment.js';

/**
 * A fleet of simulated concentrators with meters behind them, the usage points they supply,
 * and the registry provisioning that describes them. Identifiers look like the seed's
 * (concentrator `TD-105525`, meter `UAAEEDN17204606196`, numeric POD).
 */

export type FleetOptions = {
  concentrators: number;
  metersPerConcentrator: number;
  seed: number;
  /** Hour-aligned start of measurement for every meter. */
  originMs: number;
  clock: Clock;
  /** Zones assigned round-robin; closures follow each concentrator's local midnight. */
  timeZones?: string[];
  /** Chance that a concentrator has one outage (1-3 h) inside [outageFromMs, outageToMs). */
  outageChance?: number;
  outageFromMs?: number;
  outageToMs?: number;
  /** Every n-th concentrator reads on-demand registers through IEC 62056-21 (0: none). */
  iec62056Every?: number;
  voltageVariationPerHour?: number;
  alarmPerHour?: number;
  /**
   * Share of the meters that are prepayment meters (payment-metering credit registers read
   * with each daily closure; PP_ files). Chosen per meter by a seeded draw; default 0.1.
   */
  prepaymentShare?: number;
  /** KNX gateway sites (KNXnet/IP simulator on loopback UDP, reached by real tunnelling). */
  knxSites?: number;
  /** KNX meters behind each gateway (default 2). */
  knxMetersPerSite?: number;
  /** Battery sites (GTX2500 simulator behind a CANET gateway on loopback TCP). */
  batterySites?: number;
  /** Chance that a battery site's room overheats for one hour in the alarm window (default 1: each site once). */
  batteryOverTemperatureChance?: number;
  /** Window for those hours; default the outage window, else origin + 2 h .. origin + 22 h. */
  batteryAlarmFromMs?: number;
  batteryAlarmToMs?: number;
};

export type FleetMeter = { meter: MeterModel; concentratorId: string; pod: string };

/** A meter of a KNX or battery site: its serial, site and usage point. */
export type SiteMeter = { serial: string; concentratorId: string; pod: string; kind: 'knx' | 'battery' };

/** Anything the head-end's Device actor can talk to as a concentrator. */
export type FleetSite = SimulatedConcentrator | SimulatedKnxSite | SimulatedBatterySite;

export class SimulatedFleet {
  readonly concentrators: SimulatedConcentrator[] = [];
  readonly meters = new Map<string, FleetMeter>();
  readonly byConcentrator = new Map<string, SimulatedConcentrator>();
  readonly knxSites: SimulatedKnxSite[] = [];
  readonly batterySites: SimulatedBatterySite[] = [];
  /** Meters of the KNX and battery sites, by serial. */
  readonly siteMeters = new Map<string, SiteMeter>();
  private readonly bySite = new Map<string, SimulatedKnxSite | SimulatedBatterySite>();

  constructor(readonly options: FleetOptions) {
    checkSiteOptions(options);
    const zones = options.timeZones ?? ['Europe/Rome'];
    this.addMeterConcentrators(zones);
    this.addKnxSites(zones);
    this.addBatterySites(zones);
  }

  private addMeterConcentrators(zones: string[]): void {
    const options = this.options;
    for (let c = 0; c < options.concentrators; c++) {
      const id = `TD-${100_000 + c}`;
      const models: MeterModel[] = [];
      for (let m = 0; m < options.metersPerConcentrator; m++) {
        const n = c * options.metersPerConcentrator + m;
        const serial = `UAAEEDN${String(17_204_600_000 + n).padStart(11, '0')}`;
        const model = new MeterModel({
          serial,
          seed: options.seed,
          originMs: options.originMs,
          ...(options.voltageVariationPerHour !== undefined
            ? { voltageVariationPerHour: options.voltageVariationPerHour }
            : {}),
          ...(options.alarmPerHour !== undefined ? { alarmPerHour: options.alarmPerHour } : {}),
        });
        if (unit(options.seed, serial, 'prepay') < (options.prepaymentShare ?? defaultPrepaymentShare))
          model.prepayment = new PrepaymentAccount(model, options.seed);
        models.push(model);
        this.meters.set(serial, { meter: model, concentratorId: id, pod: String(1_200_000 + n) });
      }
      const outages = this.outagesFor(id);
      const every = options.iec62056Every ?? 0;
      const concentrator = new SimulatedConcentrator({
        id,
        timeZone: zones[c % zones.length] ?? 'UTC',
        meters: models,
        clock: options.clock,
        outages,
        iec62056Registers: every > 0 && c % every === 0,
      });
      this.concentrators.push(concentrator);
      this.byConcentrator.set(id, concentrator);
    }
  }

  /** One outage (1-3 h) inside the outage window with outageChance, seeded by the concentrator id. */
  private outagesFor(id: string): Outage[] {
    const { seed, outageChance, outageFromMs, outageToMs } = this.options;
    if (outageChance === undefined || outageFromMs === undefined || outageToMs === undefined) return [];
    if (unit(seed, id, 'outage') >= outageChance) return [];
    const durationMs = hourMs + Math.floor(unit(seed, id, 'outlen') * 2 * hourMs);
    const span = Math.max(0, outageToMs - outageFromMs - durationMs);
    const fromMs = outageFromMs + Math.floor(unit(seed, id, 'outat') * span);
    return [{ fromMs, toMs: fromMs + durationMs }];
  }

  private addKnxSites(zones: string[]): void {
    const { knxSites = 0, knxMetersPerSite = 2, seed, clock } = this.options;
    for (let k = 0; k < knxSites; k++) {
      const id = `KG-${200_000 + k}`;
      const meterSerials = Array.from({ length: knxMetersPerSite }, (_, m) => {
        const n = k * knxMetersPerSite + m;
        const serial = `KNXEM${String(30_000_000 + n)}`;
        this.siteMeters.set(serial, { serial, concentratorId: id, pod: String(1_300_000 + n), kind: 'knx' });
        return serial;
      });
      const zone = zones[(this.options.concentrators + k) % zones.length] ?? 'UTC';
      const site = new SimulatedKnxSite({
        id,
        timeZone: zone,
        meterSerials,
        seed,
        clock,
        outages: this.outagesFor(id),
      });
      this.knxSites.push(site);
      this.bySite.set(id, site);
    }
  }

  private addBatterySites(zones: string[]): void {
    const { batterySites = 0, seed, clock, originMs } = this.options;
    const fromMs = this.options.batteryAlarmFromMs ?? this.options.outageFromMs ?? originMs + 2 * hourMs;
    const toMs = this.options.batteryAlarmToMs ?? this.options.outageToMs ?? originMs + 22 * hourMs;
    const chance = this.options.batteryOverTemperatureChance ?? 1;
    for (let b = 0; b < batterySites; b++) {
      const id = `BS-${300_000 + b}`;
      const deviceId = `GTX2500-${String(b).padStart(6, '0')}`;
      this.siteMeters.set(deviceId, {
        serial: deviceId,
        concentratorId: id,
        pod: String(1_400_000 + b),
        kind: 'battery',
      });
      const hours = Math.max(1, Math.floor((toMs - fromMs) / hourMs));
      const overheats = unit(seed, id, 'overheat') < chance;
      const profile = new BatteryProfile({
        seed,
        siteId: id,
        ...(overheats
          ? {
              overTemperatureFromMs:
                Math.ceil(fromMs / hourMs) * hourMs +
                Math.floor(unit(seed, id, 'overheatAt') * hours) * hourMs,
            }
          : {}),
      });
      const zone =
        zones[(this.options.concentrators + (this.options.knxSites ?? 0) + b) % zones.length] ?? 'UTC';
      const site = new SimulatedBatterySite({
        id,
        deviceId,
        timeZone: zone,
        profile,
        clock,
        outages: this.outagesFor(id),
      });
      this.batterySites.push(site);
      this.bySite.set(id, site);
    }
  }

  /** The field link of a concentrator, KNX gateway or battery site. */
  concentrator(id: string): FleetSite | undefined {
    return this.byConcentrator.get(id) ?? this.bySite.get(id);
  }

  /** Closes every KNX and battery site's sockets (meter concentrators hold none). */
  async stop(): Promise<void> {
    await Promise.all([...this.knxSites, ...this.batterySites].map((site) => site.stop()));
  }

  /** The registry commands that describe the fleet (what MeterConfig etc. would carry). */
  provisioning(): RegistryCommand[] {
    const commands: RegistryCommand[] = [];
    for (const [index, c] of this.concentrators.entries()) {
      commands.push({
        type: 'upsertConcentrator',
        id: c.id,
        concentratorType: 'DC-SIM',
        serial: `DC${String(index).padStart(8, '0')}`,
        substation: `SUB-${Math.floor(index / 10)}`,
        transformer: `TR-${index}`,
        timeZone: c.timeZone,
        communicationType: 'gprs',
        address: `sim://${c.id}`,
      });
    }
    const sites = [...this.knxSites, ...this.batterySites];
    for (const [index, site] of sites.entries()) {
      const knx = site instanceof SimulatedKnxSite;
      commands.push({
        type: 'upsertConcentrator',
        id: site.id,
        concentratorType: knx ? 'KNX-IP-SIM' : 'GTX2500-SIM',
        serial: `${knx ? 'KG' : 'BS'}${String(index).padStart(8, '0')}`,
        substation: `SUB-${Math.floor(index / 10)}`,
        transformer: `TR-S${index}`,
        timeZone: site.timeZone,
        communicationType: knx ? 'knx' : 'can-tcp',
        address: `sim://${site.id}`,
      });
    }
    type Provisioned = {
      serial: string;
      concentratorId: string;
      pod: string;
      manufacturer: string;
      model: string;
    };
    const allMeters: Provisioned[] = [
      ...[...this.meters].map(([serial, m]) => ({
        serial,
        concentratorId: m.concentratorId,
        pod: m.pod,
        manufacturer: 'MFS',
        model: 'MF-SIM6T',
      })),
      ...[...this.siteMeters.values()].map((m) => ({
        serial: m.serial,
        concentratorId: m.concentratorId,
        pod: m.pod,
        manufacturer: m.kind === 'knx' ? 'MFS' : 'SOFAR',
        model: m.kind === 'knx' ? 'KNX-EM-SIM' : 'AMASS GTX2500',
      })),
    ];
    for (const { serial, ...m } of allMeters) {
      commands.push(
        { type: 'upsertMeter', serial, manufacturer: m.manufacturer, model: m.model, firmwareVersion: '1.0' },
        { type: 'upsertUsagePoint', pod: m.pod },
        { type: 'installMeter', serial, concentratorId: m.concentratorId },
        { type: 'commissionMeter', serial },
        { type: 'linkMeter', meterSerial: serial, pod: m.pod, effectiveFromMs: this.options.originMs },
      );
    }
    return commands;
  }

  /** Outage windows per concentrator (for the closing summary and tests). */
  outages(): { concentratorId: string; fromMs: number; toMs: number }[] {
    return [...this.concentrators, ...this.knxSites, ...this.batterySites].flatMap((c) =>
      c.outages.map((o) => ({ concentratorId: c.id, ...o })),
    );
  }
}

export const defaultPrepaymentShare = 0.1;

/** Each site holds a few loopback sockets; bounded so a typo cannot open thousands. */
const maxSites = 64;
const maxKnxMetersPerSite = 64;

function checkSiteOptions(options: FleetOptions): void {
  const problems: string[] = [];
  const count = (name: string, value: number | undefined, min: number, max: number) => {
    if (value !== undefined && !(Number.isInteger(value) && value >= min && value <= max))
      problems.push(`${name} must be an integer from ${min} to ${max}, not ${value}`);
  };
  count('knxSites', options.knxSites, 0, maxSites);
  count('batterySites', options.batterySites, 0, maxSites);
  count('knxMetersPerSite', options.knxMetersPerSite, 1, maxKnxMetersPerSite);
  const chance = options.batteryOverTemperatureChance;
  if (chance !== undefined && !(chance >= 0 && chance <= 1))
    problems.push(`batteryOverTemperatureChance must be from 0 to 1, not ${chance}`);
  const share = options.prepaymentShare;
  if (share !== undefined && !(share >= 0 && share <= 1))
    problems.push(`prepaymentShare must be from 0 to 1, not ${share}`);
  if (problems.length > 0) throw new ConfigError(problems);
}
