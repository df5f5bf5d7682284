import type { CollectedReading, DeviceEvent } from '../../adapters/field-data.js';
import type { ControlAction, MeterInitResult } from '../domain/jobs.js';

/**
 * What a device actor asks of its concentrator and what comes back. Drivers (modem + IEC
 * 62056-21, KNX, battery, or the field simulation) implement FieldLink; the device logic
 * never does I/O itself.
 */

export type MeterCursor = {
  serial: string /** collect values strictly after this instant */;
  afterMs: number;
};

export type FieldRequest =
  | { type: 'loadProfile'; meters: MeterCursor[]; toMs: number }
  | { type: 'dailyClosure'; meters: MeterCursor[]; closureDate: string }
  | { type: 'register'; meters: string[] }
  | { type: 'initialize'; meters: string[] }
  | { type: 'control'; action: ControlAction; meters: string[]; limitW?: number; operationId: string };

export type StatusWordSample = {
  meterSerial: string /** 32-bit status word */;
  word: number;
  timestampMs: number;
};

export type ControlResult = { meterSerial: string; action: ControlAction; ok: boolean; detail?: string };

export type FieldResponse = {
  readings: CollectedReading[];
  events: DeviceEvent[];
  statusWords: StatusWordSample[];
  controlResults: ControlResult[];
  /**
   * Per meter, for an `initialize` request. A link that cannot tell meters apart leaves it out:
   * then the request succeeded (or failed) for all of them at once.
   */
  initResults?: MeterInitResult[];
};

export interface FieldLink {
  /** One request at a time per concentrator; rejects with a reason when the concentrator cannot be reached. */
  execute(request: FieldRequest): Promise<FieldResponse>;
}

export function emptyResponse(): FieldResponse {
  return { readings: [], events: [], statusWords: [], controlResults: [] };
}
