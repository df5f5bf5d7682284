import { z } from 'zod';
import type { ControlKind } from '../cim/event-type-map.js';
import { readingTypeFor } from '../cim/reading-type-map.js';
import type { CollectedReading, DeviceEvent, ReadingKind } from '../field-data.js';
import { formatGroupAddress, parseGroupAddress } from './address.js';
import { type GroupPayload, groupPayload, groupService, type LDataFrame } from './cemi.js';
import { type DptValue, decodeDpt, dptInfo, encodeDpt } from './dpt.js';
import { isKnxError, KnxError } from './errors.js';

/**
 * The head-end mapping of one KNX gateway (a concentrator with one Device actor): which group
 * addresses carry which meter's quantities, which to poll, and which group writes execute
 * EndDeviceControl actions. Pure: config in, readings/events/writes out. CIM codes are not
 * here: readings carry `{source:'knx', dpt}` and adapters/cim/reading-type-map.ts maps them
 * (the config is checked against that table at load, so a DPT without a ReadingType is a
 * configuration error, not a silent drop at run time).
 */

const MAX_DATAPOINTS = 4096;
const MAX_CONTROLS = 1024;

const groupAddressText = z.string().refine(
  (text) => {
    try {
      parseGroupAddress(text);
      return true;
    } catch {
      return false;
    }
  },
  { message: 'not a group address (e.g. 5/1/20)' },
);

const datapointSchema = z.object({
  groupAddress: groupAddressText,
  dpt: z.string(),
  meterSerial: z.string().min(1).max(64),
  usagePoint: z.string().min(1).max(64).optional(),
  kind: z.enum(['register', 'instantaneous']).default('register'),
  /** Direction or phase for the CIM map: import/export, L1/L2/L3. */
  quantity: z.enum(['import', 'export', 'L1', 'L2', 'L3']).optional(),
  poll: z.boolean().default(true),
});

const controlSchema = z.object({
  meterSerial: z.string().min(1).max(64),
  action: z.enum(['connect', 'disconnect', 'powerReductionOn', 'powerReductionOff']),
  groupAddress: groupAddressText,
  dpt: z.string().default('1.001'),
  value: z.union([z.boolean(), z.number(), z.string()]),
});

export const knxSiteConfigSchema = z.object({
  gatewayId: z.string().min(1).max(64),
  /** host or host:port of the KNXnet/IP tunnelling server. */
  gateway: z.string().min(1),
  routeBack: z.boolean().default(false),
  pollIntervalMs: z.number().int().min(1_000).max(86_400_000).default(900_000),
  datapoints: z.array(datapointSchema).max(MAX_DATAPOINTS),
  controls: z.array(controlSchema).max(MAX_CONTROLS).default([]),
});

export type KnxSiteConfig = z.infer<typeof knxSiteConfigSchema>;
export type KnxSiteConfigInput = z.input<typeof knxSiteConfigSchema>;
export type KnxDatapoint = z.infer<typeof datapointSchema>;

export type MappedWrite = { groupAddress: number; payload: GroupPayload };

/** A telegram that could not become a reading, with why (logged by the driver, never thrown). */
export type Unmapped = { reason: string; groupAddress: string };

export class KnxSiteMap {
  private readonly byAddress = new Map<number, KnxDatapoint>();
  readonly config: KnxSiteConfig;

  constructor(input: KnxSiteConfigInput) {
    const parsed = knxSiteConfigSchema.safeParse(input);
    if (!parsed.success) {
      throw new KnxError(
        'MF_KNX_CONFIG',
        `invalid KNX site configuration: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
      );
    }
    this.config = parsed.data;
    const problems: string[] = [];
    for (const [i, dp] of this.config.datapoints.entries()) {
      const where = `datapoints.${i} (${dp.groupAddress})`;
      try {
        dptInfo(dp.dpt);
        readingTypeFor(
          { source: 'knx', dpt: dp.dpt, ...(dp.quantity ? { quantity: dp.quantity } : {}) },
          dp.kind,
        );
      } catch (err) {
        problems.push(`${where}: ${(err as Error).message}`);
        continue;
      }
      const raw = parseGroupAddress(dp.groupAddress);
      if (this.byAddress.has(raw)) problems.push(`${where}: group address used twice`);
      this.byAddress.set(raw, dp);
    }
    for (const [i, c] of this.config.controls.entries()) {
      try {
        encodeDpt(c.dpt, c.value);
      } catch (err) {
        problems.push(`controls.${i} (${c.meterSerial} ${c.action}): ${(err as Error).message}`);
      }
    }
    if (problems.length > 0) {
      throw new KnxError('MF_KNX_CONFIG', `invalid KNX site configuration: ${problems.join('; ')}`, {
        problems,
      });
    }
  }

  get pollAddresses(): number[] {
    return [...this.byAddress].filter(([, dp]) => dp.poll).map(([ga]) => ga);
  }

  /** A group telegram (Write or Response) to a mapped address becomes a reading. */
  readingFor(telegram: LDataFrame, nowMs: number): CollectedReading | Unmapped | undefined {
    const service = groupService(telegram.tpdu);
    if (!telegram.groupDestination || (service !== 'GroupValue_Write' && service !== 'GroupValue_Response')) {
      return undefined;
    }
    const dp = this.byAddress.get(telegram.destination);
    if (!dp) return undefined;
    const groupAddress = formatGroupAddress(telegram.destination);
    let value: DptValue;
    try {
      value = decodeDpt(dp.dpt, groupPayload(telegram.tpdu)!);
    } catch (err) {
      return { groupAddress, reason: isKnxError(err) ? err.message : String(err) };
    }
    if (value === null)
      return { groupAddress, reason: `DPT ${dp.dpt} invalid-data marker (device reports no value)` };
    if (typeof value !== 'number') return { groupAddress, reason: `DPT ${dp.dpt} value is not numeric` };
    const kind: ReadingKind = dp.kind;
    return {
      meterSerial: dp.meterSerial,
      ...(dp.usagePoint ? { usagePoint: dp.usagePoint } : {}),
      kind,
      quantity: { source: 'knx', dpt: dp.dpt, ...(dp.quantity ? { quantity: dp.quantity } : {}) },
      value,
      unit: dptInfo(dp.dpt).unit,
      timestampMs: nowMs,
    };
  }

  /** The group write that executes `action` on `meterSerial`. */
  controlFor(meterSerial: string, action: ControlKind): MappedWrite {
    const c = this.config.controls.find((x) => x.meterSerial === meterSerial && x.action === action);
    if (!c) {
      throw new KnxError(
        'MF_KNX_CONFIG',
        `no KNX control configured for meter ${meterSerial} action ${action} on gateway ${this.config.gatewayId}`,
        { meterSerial, action },
      );
    }
    return { groupAddress: parseGroupAddress(c.groupAddress), payload: encodeDpt(c.dpt, c.value) };
  }

  reachabilityEvent(reachable: boolean, nowMs: number, details: Record<string, string> = {}): DeviceEvent {
    return {
      deviceId: this.config.gatewayId,
      deviceKind: 'knx-gateway',
      key: 'knx.gatewayUnreachable',
      phase: reachable ? 'cleared' : 'raised',
      timestampMs: nowMs,
      details: { gateway: this.config.gateway, ...details },
    };
  }

  controlEvent(meterSerial: string, action: ControlKind, nowMs: number, correlationId?: string): DeviceEvent {
    const key =
      action === 'disconnect'
        ? 'meter.relayOpened'
        : action === 'connect'
          ? 'meter.relayClosed'
          : 'meter.powerReduced';
    return {
      deviceId: meterSerial,
      deviceKind: 'meter',
      key,
      phase:
        action === 'powerReductionOff' ? 'cleared' : action === 'powerReductionOn' ? 'raised' : 'occurred',
      timestampMs: nowMs,
      details: { gateway: this.config.gatewayId, action },
      ...(correlationId ? { correlationId } : {}),
    };
  }
}

export function isReading(x: CollectedReading | Unmapped | undefined): x is CollectedReading {
  return x !== undefined && 'meterSerial' in x;
}
