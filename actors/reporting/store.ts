import type { RegistryState } from '../registry/types.js';
import type { RoutedRecord } from '../tlog/router.js';

/**
 * The reporting store (the seed's "directly to an SQL database for reporting"): per meter
 * and concentrator, the latest collection facts the extraction reports need. Fed with routed
 * TLog records; pure. Report rows use the seed's column names, one object per CSV row.
 */

export type EnergyTable = 'active' | 'reactive' | 'activeExport';

export type MeterFacts = {
  concentratorId: string;
  lastDcMs: Partial<Record<EnergyTable, number>>;
  lastLpActiveMs?: number;
  lastReadingMs?: number;
  lastStatusWord?: { word: number; timestampMs: number };
  lastUpdateMs: number;
};

export type ConcentratorFacts = { reachable: boolean; lastSeenMs: number; stateChangeMs: number };

export type ReportingState = {
  meters: Record<string, MeterFacts>;
  concentrators: Record<string, ConcentratorFacts>;
};

export function newReporting(): ReportingState {
  return { meters: {}, concentrators: {} };
}

function energyTableOf(obisCode: string): EnergyTable | undefined {
  if (obisCode.startsWith('1.8.')) return 'active';
  if (obisCode.startsWith('2.8.')) return 'activeExport';
  if (obisCode.startsWith('3.8.')) return 'reactive';
  return undefined;
}

export function applyToReporting(state: ReportingState, routed: readonly RoutedRecord[]): ReportingState {
  for (const { record } of routed) {
    const at = record.collectedAtMs;
    let concentrator = state.concentrators[record.concentratorId];
    if (!concentrator) {
      concentrator = { reachable: true, lastSeenMs: at, stateChangeMs: at };
      state.concentrators[record.concentratorId] = concentrator;
    }
    if (record.type === 'event') {
      const { key, deviceKind } = record.event;
      if (deviceKind === 'concentrator' && key === 'concentrator.unreachable') {
        // The condition is raised when the concentrator stops answering and cleared when it answers again.
        const reachable = record.event.phase === 'cleared';
        if (reachable !== concentrator.reachable) {
          concentrator.reachable = reachable;
          concentrator.stateChangeMs = record.event.timestampMs;
        }
      }
      continue;
    }
    concentrator.lastSeenMs = Math.max(concentrator.lastSeenMs, at);
    const serial = record.type === 'reading' ? record.reading.meterSerial : record.meterSerial;
    let meter = state.meters[serial];
    if (!meter) {
      meter = { concentratorId: record.concentratorId, lastDcMs: {}, lastUpdateMs: at };
      state.meters[serial] = meter;
    }
    meter.concentratorId = record.concentratorId;
    meter.lastUpdateMs = at;
    if (record.type === 'statusWord') {
      meter.lastStatusWord = { word: record.word, timestampMs: record.timestampMs };
    } else if (record.type === 'reading') {
      const r = record.reading;
      if (r.kind === 'interval') meter.lastLpActiveMs = Math.max(meter.lastLpActiveMs ?? 0, r.timestampMs);
      else if (r.kind === 'dailyClosure' && r.quantity.source === 'obis') {
        const table = energyTableOf(r.quantity.code);
        if (table) meter.lastDcMs[table] = Math.max(meter.lastDcMs[table] ?? 0, r.timestampMs);
      } else meter.lastReadingMs = Math.max(meter.lastReadingMs ?? 0, r.timestampMs);
    }
  }
  return state;
}

/** A report row: time columns hold instants in ms (the CSV codec formats them), absent when unknown. */
export type ReportRow = Record<string, string | number | undefined>;

const iso = (ms: number | undefined): number | undefined => ms;

export function meterAggregatedInfoRows(report: ReportingState, registry: RegistryState): ReportRow[] {
  return Object.values(registry.meters).map((meter) => {
    const facts = report.meters[meter.serial];
    const concentrator = meter.concentratorId ? registry.concentrators[meter.concentratorId] : undefined;
    return {
      concentrator: meter.concentratorId ?? '',
      concentratorsn: concentrator?.serial ?? '',
      conc_nrn: concentrator && report.concentrators[concentrator.id]?.reachable === false ? '1' : '0',
      macaddress: '',
      metersn: meter.serial,
      row: '',
      versionapp1: meter.firmwareVersion,
      state: meter.state,
      nrn: '',
      lastdc_active: iso(facts?.lastDcMs.active),
      lastdc_reactive: iso(facts?.lastDcMs.reactive),
      lastdc_activeexport: iso(facts?.lastDcMs.activeExport),
      lastlp_active: iso(facts?.lastLpActiveMs),
      lastreadingdatelocal: iso(facts?.lastReadingMs),
      lastcedatarunlocal: iso(facts?.lastUpdateMs),
    };
  });
}

export function meterDcInfoRows(report: ReportingState, registry: RegistryState): ReportRow[] {
  const rows: ReportRow[] = [];
  for (const meter of Object.values(registry.meters)) {
    const facts = report.meters[meter.serial];
    const unreachable = meter.concentratorId
      ? report.concentrators[meter.concentratorId]?.reachable === false
      : false;
    for (const table of ['active', 'reactive', 'activeExport'] as const) {
      rows.push({
        concentrator: meter.concentratorId ?? '',
        macaddress: '',
        serialnumber: meter.serial,
        versionapp1: meter.firmwareVersion,
        tabletype: table,
        description: {
          active: 'Active Energy Import',
          reactive: 'Reactive Energy',
          activeExport: 'Active Energy Export',
        }[table],
        lastclosuredatelocal: iso(facts?.lastDcMs[table]),
        errordesc: '',
        isunreachable: unreachable ? '1' : '0',
        iserror: '0',
        lastupdateutc: iso(facts?.lastUpdateMs),
      });
    }
  }
  return rows;
}

export function meterReportRows(registry: RegistryState): ReportRow[] {
  return Object.values(registry.meters).map((meter) => ({
    mertytype: meter.model,
    serialnumber: meter.serial,
    serialnumberboard: '',
    macaddress: '',
    firmwareid: meter.firmwareVersion,
    hardwareid: meter.manufacturer,
    insertdateutc: iso(meter.insertedAtMs),
    lastupdateutc: iso(meter.lastUpdateMs),
  }));
}

export function concentratorInFieldRows(report: ReportingState, registry: RegistryState): ReportRow[] {
  return Object.values(registry.concentrators).map((c) => {
    const facts = report.concentrators[c.id];
    return {
      name: c.id,
      concentratorype: c.type,
      concentrator_serialnumber: c.serial,
      substation: c.substation,
      transformer: c.transformer,
      timezone: c.timeZone,
      communicationtype: c.communicationType,
      module_serialnumber: c.modemImei ?? '',
      ipaddress: c.address,
      state: 'installed',
      insertdateutc: iso(c.insertedAtMs),
      statechangedateutc: iso(facts?.stateChangeMs),
      nrn: facts?.reachable === false ? '1' : '0',
      isreachable: facts?.reachable === false ? '0' : '1',
    };
  });
}
