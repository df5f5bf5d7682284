import type { CollectedReading, DeviceEvent, InternalQuantity } from '../../adapters/field-data.js';
import type { ControlAction } from '../domain/jobs.js';
import type { RegistryEffect } from '../registry/commands.js';

/**
 * What workers hand to the TLogManager. Every record has a stable id derived from its content
 * (meter, quantity, instant), so a record sent twice (a retried job, a replayed actor turn)
 * is recognised downstream and written once.
 */
export type TLogRecord =
  | {
      type: 'reading';
      reading: CollectedReading;
      concentratorId: string;
      correlationId?: string;
      collectedAtMs: number;
    }
  | { type: 'event'; event: DeviceEvent; concentratorId: string; collectedAtMs: number }
  | {
      type: 'statusWord';
      meterSerial: string;
      concentratorId: string;
      word: number;
      timestampMs: number;
      collectedAtMs: number;
    }
  | {
      type: 'workOrderResult';
      jobId: string;
      correlationId?: string;
      concentratorId: string;
      meterSerial: string;
      action: ControlAction | 'meterReading';
      ok: boolean;
      detail?: string;
      collectedAtMs: number;
    };

export function quantityKey(quantity: InternalQuantity): string {
  switch (quantity.source) {
    case 'obis':
      return `obis:${quantity.code}`;
    case 'knx':
      return `knx:${quantity.dpt}:${quantity.quantity ?? ''}`;
    case 'battery':
      return `battery:${quantity.quantity}`;
    case 'profile':
      return `profile:${quantity.quantity}`;
  }
}

export function recordId(record: TLogRecord): string {
  switch (record.type) {
    case 'reading': {
      const r = record.reading;
      return `r|${r.meterSerial}|${r.kind}|${quantityKey(r.quantity)}|${r.timestampMs}`;
    }
    case 'event': {
      const e = record.event;
      return `e|${e.deviceId}|${e.key}|${e.phase}|${e.timestampMs}|${e.correlationId ?? ''}`;
    }
    case 'statusWord':
      return `s|${record.meterSerial}|${record.timestampMs}`;
    case 'workOrderResult':
      return `w|${record.jobId}|${record.meterSerial}`;
  }
}

/** A meter's commissioning or decommissioning as a normal-priority TLog event (seed §2.4). */
export function lifecycleRecord(
  effect: Extract<RegistryEffect, { type: 'meterCommissioned' | 'meterDecommissioned' }>,
  key: 'meter.commissioned' | 'meter.decommissioned',
): TLogRecord {
  return {
    type: 'event',
    concentratorId: effect.concentratorId,
    collectedAtMs: effect.atMs,
    event: {
      deviceId: effect.meterSerial,
      deviceKind: 'meter',
      key,
      phase: 'occurred',
      timestampMs: effect.atMs,
    },
  };
}
