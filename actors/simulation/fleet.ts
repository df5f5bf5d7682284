import type { Clock } from '../../core/clock.js';
import type { RegistryCommand } from '../registry/commands.js';
import { type Outage, SimulatedConcentrator } from './concentrator.js';
import { unit } from './hash.js';
import { hourMs, MeterModel } from './meter-model.js';

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
};

export type FleetMeter = { meter: MeterModel; concentratorId: string; pod: string };

export class SimulatedFleet {
  readonly concentrators: SimulatedConcentrator[] = [];
  readonly meters = new Map<string, FleetMeter>();
  readonly byConcentrator = new Map<string, SimulatedConcentrator>();

  constructor(readonly options: FleetOptions) {
    const zones = options.timeZones ?? ['Europe/Rome'];
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
        models.push(model);
        this.meters.set(serial, { meter: model, concentratorId: id, pod: String(1_200_000 + n) });
      }
      const outages: Outage[] = [];
      if (
        options.outageChance !== undefined &&
        options.outageFromMs !== undefined &&
        options.outageToMs !== undefined &&
        unit(options.seed, id, 'outage') < options.outageChance
      ) {
        const durationMs = hourMs + Math.floor(unit(options.seed, id, 'outlen') * 2 * hourMs);
        const span = Math.max(0, options.outageToMs - options.outageFromMs - durationMs);
        const fromMs = options.outageFromMs + Math.floor(unit(options.seed, id, 'outat') * span);
        outages.push({ fromMs, toMs: fromMs + durationMs });
      }
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

  concentrator(id: string): SimulatedConcentrator | undefined {
    return this.byConcentrator.get(id);
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
    for (const [serial, m] of this.meters) {
      commands.push(
        { type: 'upsertMeter', serial, manufacturer: 'MFS', model: 'MF-SIM6T', firmwareVersion: '1.0' },
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
    return this.concentrators.flatMap((c) => c.outages.map((o) => ({ concentratorId: c.id, ...o })));
  }
}
