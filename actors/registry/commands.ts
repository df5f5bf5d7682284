import { HeadendError, invalidInput } from '../domain/errors.js';
import { optionalText, requireId, requireInstant, requireText, requireTimeZone } from '../domain/validate.js';
import {
  addToIndex,
  type CommunicationType,
  ensureRegistryIndexes,
  type MeterLink,
  type MeterState,
  type RegistryState,
  removeFromIndex,
} from './types.js';

/**
 * The registry as a pure state machine. Each command is validated completely before the
 * state is touched, so a rejected command (a HeadendError) leaves the state exactly as it
 * was; an accepted one mutates the given state and returns it with its effects. Repeating an
 * accepted command is a no-op without effects, which is what a retried CIM request needs.
 */

export type RegistryCommand =
  | { type: 'upsertMeter'; serial: string; manufacturer: string; model: string; firmwareVersion: string }
  | {
      type: 'upsertUsagePoint';
      pod: string;
      address?: string;
    }
  | {
      type: 'setContract';
      pod: string;
      contractProfile?: string;
      contractState?: string;
      tariffProfile?: string;
    }
  | { type: 'linkMeter'; meterSerial: string; pod: string; effectiveFromMs: number }
  | { type: 'unlinkMeter'; meterSerial: string; pod: string; effectiveToMs: number }
  | {
      type: 'upsertConcentrator';
      id: string;
      concentratorType: string;
      serial: string;
      substation: string;
      transformer: string;
      timeZone: string;
      communicationType: CommunicationType;
      address: string;
      modemImei?: string;
    }
  | {
      type: 'upsertModem';
      imei: string;
      sim?: string;
      signalDbm?: number;
      assignedPort?: number;
      organization?: string;
    }
  | { type: 'installMeter'; serial: string; concentratorId: string }
  | { type: 'commissionMeter'; serial: string }
  | { type: 'decommissionMeter'; serial: string }
  | { type: 'returnMeterToStock'; serial: string };

export type RegistryEffect =
  | { type: 'meterCommissioned'; meterSerial: string; concentratorId: string; atMs: number }
  | { type: 'meterDecommissioned'; meterSerial: string; concentratorId: string; atMs: number }
  | { type: 'concentratorChanged'; concentratorId: string };

export type RegistryResult = { state: RegistryState; effects: RegistryEffect[] };

const communicationTypes: readonly CommunicationType[] = [
  'gprs',
  'ethernet',
  'plc',
  'knx',
  'can-tcp',
  'rs485-tcp',
];

/** Allowed lifecycle moves; staying in the same state is always an idempotent no-op. */
const transitions: Record<MeterState, readonly MeterState[]> = {
  inStock: ['installed'],
  installed: ['commissioned', 'inStock'],
  commissioned: ['decommissioned'],
  decommissioned: ['inStock'],
};

export function applyRegistryCommand(
  state: RegistryState,
  command: RegistryCommand,
  nowMs: number,
): RegistryResult {
  ensureRegistryIndexes(state);
  switch (command.type) {
    case 'upsertMeter': {
      const serial = requireId(command.serial, 'meter serial');
      const manufacturer = requireText(command.manufacturer, 'manufacturer');
      const model = requireText(command.model, 'model');
      const firmwareVersion = requireText(command.firmwareVersion, 'firmwareVersion');
      const existing = state.meters[serial];
      if (existing) {
        existing.manufacturer = manufacturer;
        existing.model = model;
        existing.firmwareVersion = firmwareVersion;
        existing.lastUpdateMs = nowMs;
      } else {
        state.meters[serial] = {
          serial,
          manufacturer,
          model,
          firmwareVersion,
          state: 'inStock',
          insertedAtMs: nowMs,
          stateChangedAtMs: nowMs,
          lastUpdateMs: nowMs,
        };
      }
      return { state, effects: [] };
    }
    case 'upsertUsagePoint': {
      const pod = requireId(command.pod, 'usage point (POD)');
      const address = optionalText(command.address, 'address');
      const existing = state.usagePoints[pod];
      if (existing) {
        if (address !== undefined) existing.address = address;
        existing.lastUpdateMs = nowMs;
      } else {
        state.usagePoints[pod] = { pod, insertedAtMs: nowMs, lastUpdateMs: nowMs };
        if (address !== undefined) state.usagePoints[pod].address = address;
      }
      return { state, effects: [] };
    }
    case 'setContract': {
      const pod = requireId(command.pod, 'usage point (POD)');
      const contractProfile = optionalText(command.contractProfile, 'contractProfile');
      const contractState = optionalText(command.contractState, 'contractState');
      const tariffProfile = optionalText(command.tariffProfile, 'tariffProfile');
      if (contractProfile === undefined && contractState === undefined && tariffProfile === undefined)
        throw invalidInput('setContract needs at least one of contractProfile, contractState, tariffProfile');
      const usagePoint = state.usagePoints[pod];
      if (!usagePoint) throw unknownUsagePoint(pod);
      if (contractProfile !== undefined) usagePoint.contractProfile = contractProfile;
      if (contractState !== undefined) usagePoint.contractState = contractState;
      if (tariffProfile !== undefined) usagePoint.tariffProfile = tariffProfile;
      usagePoint.lastUpdateMs = nowMs;
      return { state, effects: [] };
    }
    case 'linkMeter':
      return linkMeter(state, command);
    case 'unlinkMeter':
      return unlinkMeter(state, command);
    case 'upsertConcentrator': {
      const id = requireId(command.id, 'concentrator id');
      if (!communicationTypes.includes(command.communicationType))
        throw invalidInput(`communicationType must be one of ${communicationTypes.join(', ')}`, {
          value: command.communicationType,
        });
      const record = {
        id,
        type: requireText(command.concentratorType, 'concentrator type'),
        serial: requireId(command.serial, 'concentrator serial'),
        substation: requireText(command.substation, 'substation'),
        transformer: requireText(command.transformer, 'transformer'),
        timeZone: requireTimeZone(command.timeZone, 'timeZone'),
        communicationType: command.communicationType,
        address: requireText(command.address, 'address'),
        ...(command.modemImei !== undefined ? { modemImei: requireId(command.modemImei, 'modem IMEI') } : {}),
        insertedAtMs: state.concentrators[id]?.insertedAtMs ?? nowMs,
        lastUpdateMs: nowMs,
      };
      state.concentrators[id] = record;
      return { state, effects: [{ type: 'concentratorChanged', concentratorId: id }] };
    }
    case 'upsertModem': {
      const imei = requireId(command.imei, 'modem IMEI');
      if (!/^\d{15}$/.test(imei)) throw invalidInput(`modem IMEI "${imei}" must be 15 digits`, { imei });
      if (command.signalDbm !== undefined && !(command.signalDbm >= -130 && command.signalDbm <= 0))
        throw invalidInput('signalDbm must be between -130 and 0 dBm', { value: command.signalDbm });
      if (
        command.assignedPort !== undefined &&
        !(Number.isInteger(command.assignedPort) && command.assignedPort > 0 && command.assignedPort < 65536)
      )
        throw invalidInput('assignedPort must be a TCP port 1..65535', { value: command.assignedPort });
      const sim = optionalText(command.sim, 'sim');
      const organization = optionalText(command.organization, 'organization');
      state.modems[imei] = {
        ...state.modems[imei],
        imei,
        ...(sim !== undefined ? { sim } : {}),
        ...(command.signalDbm !== undefined ? { signalDbm: command.signalDbm } : {}),
        ...(command.assignedPort !== undefined ? { assignedPort: command.assignedPort } : {}),
        ...(organization !== undefined ? { organization } : {}),
        lastUpdateMs: nowMs,
      };
      return { state, effects: [] };
    }
    case 'installMeter': {
      const serial = requireId(command.serial, 'meter serial');
      const concentratorId = requireId(command.concentratorId, 'concentrator id');
      const meter = state.meters[serial];
      if (!meter) throw unknownMeter(serial);
      if (!state.concentrators[concentratorId])
        throw new HeadendError(
          'MF_HEADEND_UNKNOWN_CONCENTRATOR',
          `concentrator "${concentratorId}" is not registered: provision it before installing meters under it`,
          { concentratorId },
        );
      if (meter.state === 'installed' && meter.concentratorId === concentratorId)
        return { state, effects: [] };
      requireTransition(serial, meter.state, 'installed');
      meter.state = 'installed';
      if (meter.concentratorId !== undefined)
        removeFromIndex(state.metersByConcentrator, meter.concentratorId, serial);
      meter.concentratorId = concentratorId;
      addToIndex(state.metersByConcentrator, concentratorId, serial);
      meter.stateChangedAtMs = nowMs;
      meter.lastUpdateMs = nowMs;
      return { state, effects: [] };
    }
    case 'commissionMeter':
    case 'decommissionMeter':
    case 'returnMeterToStock': {
      const serial = requireId(command.serial, 'meter serial');
      const meter = state.meters[serial];
      if (!meter) throw unknownMeter(serial);
      const target: MeterState =
        command.type === 'commissionMeter'
          ? 'commissioned'
          : command.type === 'decommissionMeter'
            ? 'decommissioned'
            : 'inStock';
      if (meter.state === target) return { state, effects: [] };
      requireTransition(serial, meter.state, target);
      const concentratorId = meter.concentratorId ?? '';
      meter.state = target;
      meter.stateChangedAtMs = nowMs;
      meter.lastUpdateMs = nowMs;
      if (target === 'inStock' && meter.concentratorId !== undefined) {
        removeFromIndex(state.metersByConcentrator, meter.concentratorId, serial);
        delete meter.concentratorId;
      }
      const effects: RegistryEffect[] =
        target === 'commissioned'
          ? [{ type: 'meterCommissioned', meterSerial: serial, concentratorId, atMs: nowMs }]
          : target === 'decommissioned'
            ? [{ type: 'meterDecommissioned', meterSerial: serial, concentratorId, atMs: nowMs }]
            : [];
      return { state, effects };
    }
  }
}

function linkMeter(
  state: RegistryState,
  command: Extract<RegistryCommand, { type: 'linkMeter' }>,
): RegistryResult {
  const meterSerial = requireId(command.meterSerial, 'meter serial');
  const pod = requireId(command.pod, 'usage point (POD)');
  const effectiveFromMs = requireInstant(command.effectiveFromMs, 'effectiveFromMs');
  if (!state.meters[meterSerial]) throw unknownMeter(meterSerial);
  if (!state.usagePoints[pod]) throw unknownUsagePoint(pod);
  const meterLinks = state.links[meterSerial] ?? [];
  if (meterLinks.some((l) => l.pod === pod && l.effectiveFromMs === effectiveFromMs))
    return { state, effects: [] };
  const candidate: MeterLink = { meterSerial, pod, effectiveFromMs };
  for (const existing of meterLinks) {
    if (overlaps(existing, candidate))
      throw linkConflict(
        `meter "${meterSerial}" is already linked to usage point "${existing.pod}"`,
        existing,
      );
  }
  for (const other of state.metersByPod[pod] ?? []) {
    for (const existing of state.links[other] ?? []) {
      if (existing.pod === pod && overlaps(existing, candidate))
        throw linkConflict(
          `usage point "${pod}" already has meter "${existing.meterSerial}" linked`,
          existing,
        );
    }
  }
  state.links[meterSerial] = [...meterLinks, candidate].sort((a, b) => a.effectiveFromMs - b.effectiveFromMs);
  addToIndex(state.metersByPod, pod, meterSerial);
  return { state, effects: [] };
}

function unlinkMeter(
  state: RegistryState,
  command: Extract<RegistryCommand, { type: 'unlinkMeter' }>,
): RegistryResult {
  const meterSerial = requireId(command.meterSerial, 'meter serial');
  const pod = requireId(command.pod, 'usage point (POD)');
  const effectiveToMs = requireInstant(command.effectiveToMs, 'effectiveToMs');
  if (!state.meters[meterSerial]) throw unknownMeter(meterSerial);
  const links = state.links[meterSerial] ?? [];
  const closed = links.find((l) => l.pod === pod && l.effectiveToMs === effectiveToMs);
  if (closed) return { state, effects: [] };
  const open = links.find((l) => l.pod === pod && l.effectiveToMs === undefined);
  if (!open)
    throw new HeadendError(
      'MF_HEADEND_LINK_CONFLICT',
      `meter "${meterSerial}" has no open link to usage point "${pod}" to close`,
      { meterSerial, pod },
    );
  if (effectiveToMs <= open.effectiveFromMs)
    throw invalidInput('effectiveToMs must be after the link became effective', {
      effectiveFromMs: open.effectiveFromMs,
      effectiveToMs,
    });
  open.effectiveToMs = effectiveToMs;
  return { state, effects: [] };
}

function overlaps(a: MeterLink, b: MeterLink): boolean {
  const aEnd = a.effectiveToMs ?? Number.POSITIVE_INFINITY;
  const bEnd = b.effectiveToMs ?? Number.POSITIVE_INFINITY;
  return a.effectiveFromMs < bEnd && b.effectiveFromMs < aEnd;
}

function requireTransition(serial: string, from: MeterState, to: MeterState): void {
  if (!transitions[from].includes(to))
    throw new HeadendError(
      'MF_HEADEND_INVALID_TRANSITION',
      `meter "${serial}" is ${from}; it cannot become ${to} (allowed: ${transitions[from].join(', ')})`,
      { serial, from, to },
    );
}

function unknownMeter(serial: string): HeadendError {
  return new HeadendError(
    'MF_HEADEND_UNKNOWN_METER',
    `meter "${serial}" is not registered: provision it with MeterConfig first`,
    { serial },
  );
}

function unknownUsagePoint(pod: string): HeadendError {
  return new HeadendError(
    'MF_HEADEND_UNKNOWN_USAGE_POINT',
    `usage point "${pod}" is not registered: provision it with UsagePointLocationConfig first`,
    { pod },
  );
}

function linkConflict(message: string, existing: MeterLink): HeadendError {
  return new HeadendError('MF_HEADEND_LINK_CONFLICT', `${message} over that period: close that link first`, {
    existing,
  });
}
