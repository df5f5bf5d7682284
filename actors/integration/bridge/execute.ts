import { CimInvalidError, encodeResponseMessage } from '../../../adapters/cim/message.js';
import {
  METER_READINGS_NS,
  meterReadingsContent,
  meterReadingsFromCollected,
} from '../../../adapters/cim/meter-readings.js';
import type { MessageHeader, Reply, ReplyError } from '../../../adapters/cim/model.js';
import { isoUtc } from '../../../adapters/cim/xml-build.js';
import type { CollectedReading } from '../../../adapters/field-data.js';
import type { Clock } from '../../../core/clock.js';
import { isMeterfabricError } from '../../../core/errors.js';
import type { ControlAction, Job, JobOutcome } from '../../domain/jobs.js';
import { controlJob, onDemandReadJob } from '../../domain/work-orders.js';
import type { RegistryCommand, RegistryEffect } from '../../registry/commands.js';
import { applyRegistryCommand } from '../../registry/commands.js';
import { usagePointAt } from '../../registry/queries.js';
import type { RegistryState } from '../../registry/types.js';
import { type InboundRequest, readInboundRequest } from './read-request.js';

/**
 * Executes inbound CIM requests against the head-end and builds the CIM reply. Provisioning
 * is all-or-nothing: every registry command of a request is first applied to a copy, and only
 * if all succeed to the real registry. OnDemandMeterReadings waits for its job within a
 * deadline; EndDeviceControl is accepted at once and completes as a high-priority event.
 */

export interface HeadendApi {
  readonly registry: RegistryState;
  applyRegistry(command: RegistryCommand): RegistryEffect[];
  submitJob(job: Job): Promise<JobOutcome>;
  readingsOf(jobId: string): CollectedReading[];
}

export type BridgeOptions = {
  clock: Clock;
  source: string;
  onDemandTimeoutMs: number;
  controlTimeoutMs: number;
  /** Host-time timer for the synchronous deadline (tests with a manual clock inject their own). */
  waitMs?: (ms: number) => Promise<void>;
};

export type BridgeOutcome = { reply: Reply; xml: string; operation?: InboundRequest['operation'] };

const controlActions: Record<string, ControlAction> = {
  connect: 'connect',
  disconnect: 'disconnect',
  powerReductionOn: 'powerReduction',
};

function failed(errors: ReplyError[]): Reply {
  return { result: 'FAILED', errors };
}

function errorOf(err: unknown, xpath?: string): ReplyError {
  if (err instanceof CimInvalidError)
    return err.problems[0] ?? { code: err.code, level: 'FATAL', reason: err.message };
  if (isMeterfabricError(err))
    return xpath === undefined
      ? { code: err.code, level: 'FATAL', reason: err.message }
      : { code: err.code, level: 'FATAL', reason: err.message, xpath };
  throw err;
}

/** Reads, executes and answers one request; never throws for bad input. */
export async function handleCimRequest(
  api: HeadendApi,
  xml: string,
  options: BridgeOptions,
  /** When the transport names the operation (a gRPC method), a request of another is refused unexecuted. */
  expected?: InboundRequest['operation'],
): Promise<BridgeOutcome> {
  let request: InboundRequest;
  try {
    request = readInboundRequest(xml);
  } catch (err) {
    const errors = err instanceof CimInvalidError ? err.problems : [errorOf(err)];
    const reply = failed(errors);
    return { reply, xml: encode(reply, undefined, options) };
  }
  if (expected !== undefined && request.operation !== expected) {
    const reply = failed([
      {
        code: 'MF_CIM_NOUN',
        level: 'FATAL',
        reason: `this call takes a ${expected} request, not ${request.operation}; nothing was changed`,
      },
    ]);
    return { reply, xml: encode(reply, request.header, options), operation: request.operation };
  }
  const { reply, payload } = await execute(api, request, options);
  return { reply, xml: encode(reply, request.header, options, payload), operation: request.operation };
}

type Payload = { name: string; ns: string; content: ReturnType<typeof meterReadingsContent> };

function encode(
  reply: Reply,
  header: MessageHeader | undefined,
  options: BridgeOptions,
  payload?: Payload,
): string {
  return encodeResponseMessage(reply, {
    ...(header ? { request: header } : { noun: 'Unknown' }),
    timestamp: isoUtc(options.clock.now()),
    source: options.source,
    ...(payload ? { payload } : {}),
  });
}

async function execute(
  api: HeadendApi,
  request: InboundRequest,
  options: BridgeOptions,
): Promise<{ reply: Reply; payload?: Payload }> {
  switch (request.operation) {
    case 'MeterConfig':
      return applyAll(
        api,
        request.meters.flatMap((m): RegistryCommand[] => [
          {
            type: 'upsertMeter',
            serial: m.serial,
            manufacturer: m.manufacturer,
            model: m.model,
            firmwareVersion: m.firmwareVersion,
          },
          ...(m.concentratorId
            ? [{ type: 'installMeter' as const, serial: m.serial, concentratorId: m.concentratorId }]
            : []),
          ...(m.commission ? [{ type: 'commissionMeter' as const, serial: m.serial }] : []),
        ]),
        options,
      );
    case 'UsagePointLocationConfig':
      return applyAll(
        api,
        request.usagePoints.map((u) => ({
          type: 'upsertUsagePoint',
          pod: u.pod,
          ...(u.address ? { address: u.address } : {}),
        })),
        options,
      );
    case 'MasterDataLinkageConfig': {
      const commands: RegistryCommand[] = [
        request.link === 'create'
          ? {
              type: 'linkMeter',
              meterSerial: request.meterSerial,
              pod: request.pod,
              effectiveFromMs: request.effectiveMs,
            }
          : {
              type: 'unlinkMeter',
              meterSerial: request.meterSerial,
              pod: request.pod,
              effectiveToMs: request.effectiveMs,
            },
      ];
      if (request.contractProfile ?? request.contractState ?? request.tariffProfile)
        commands.push({
          type: 'setContract',
          pod: request.pod,
          ...(request.contractProfile ? { contractProfile: request.contractProfile } : {}),
          ...(request.contractState ? { contractState: request.contractState } : {}),
          ...(request.tariffProfile ? { tariffProfile: request.tariffProfile } : {}),
        });
      return applyAll(api, commands, options);
    }
    case 'OnDemandMeterReadings':
      return onDemand(api, request, options);
    case 'EndDeviceControl':
      return control(api, request, options);
  }
}

function applyAll(api: HeadendApi, commands: RegistryCommand[], options: BridgeOptions): { reply: Reply } {
  // Dry run on a copy: a request whose third command fails must not leave the first two applied.
  const trial = structuredClone(api.registry);
  for (const [i, command] of commands.entries()) {
    try {
      applyRegistryCommand(trial, command, options.clock.now());
    } catch (err) {
      return {
        reply: failed([
          {
            ...errorOf(err),
            details: `command ${i + 1} of ${commands.length} (${command.type}); nothing was changed`,
          },
        ]),
      };
    }
  }
  for (const command of commands) api.applyRegistry(command);
  return { reply: { result: 'OK', errors: [] } };
}

/** Meter serial -> its concentrator, or a reply error naming what is wrong. */
function locate(api: HeadendApi, serial: string): { concentratorId: string } | ReplyError {
  const meter = api.registry.meters[serial];
  if (!meter)
    return {
      code: 'MF_HEADEND_UNKNOWN_METER',
      level: 'FATAL',
      reason: `meter "${serial}" is not registered: provision it with MeterConfig first`,
    };
  if (!meter.concentratorId || meter.state !== 'commissioned')
    return {
      code: 'MF_HEADEND_INVALID_TRANSITION',
      level: 'FATAL',
      reason: `meter "${serial}" is ${meter.state}: only commissioned meters can be read or operated`,
    };
  return { concentratorId: meter.concentratorId };
}

function correlationOf(header: MessageHeader, now: number): string {
  return header.correlationId ?? header.messageId ?? `req-${now}`;
}

async function onDemand(
  api: HeadendApi,
  request: Extract<InboundRequest, { operation: 'OnDemandMeterReadings' }>,
  options: BridgeOptions,
): Promise<{ reply: Reply; payload?: Payload }> {
  const now = options.clock.now();
  const serials = [...request.meterSerials];
  for (const pod of request.pods) {
    const serial = Object.keys(api.registry.links).find((s) => usagePointAt(api.registry, s, now) === pod);
    if (!serial)
      return {
        reply: failed([
          {
            code: 'MF_HEADEND_UNKNOWN_USAGE_POINT',
            level: 'FATAL',
            reason: `no meter is linked to usage point "${pod}" now`,
          },
        ]),
      };
    serials.push(serial);
  }
  const jobs: Job[] = [];
  for (const serial of serials) {
    const located = locate(api, serial);
    if ('code' in located) return { reply: failed([located]) };
    jobs.push(
      onDemandReadJob({
        meterSerial: serial,
        concentratorId: located.concentratorId,
        correlationId: correlationOf(request.header, now),
        nowMs: now,
        timeoutMs: options.onDemandTimeoutMs,
      }),
    );
  }
  const wait = options.waitMs ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref()));
  const results = await Promise.race([
    Promise.all(jobs.map((j) => api.submitJob(j))),
    wait(options.onDemandTimeoutMs).then(() => null),
  ]);
  if (results === null)
    return {
      reply: failed([
        {
          code: 'MF_JOB_DEADLINE',
          level: 'FATAL',
          reason: `OnDemandMeterReadings timed out: no answer from the meter within ${options.onDemandTimeoutMs} ms`,
        },
      ]),
    };
  const failures = results.filter((o) => o.status === 'failed');
  if (failures.length > 0)
    return {
      reply: failed(
        failures.map((o) => ({
          code: o.errorCode ?? 'MF_JOB_FAILED',
          level: 'FATAL',
          reason: o.errorMessage ?? 'the reading failed',
        })),
      ),
    };
  const readings = jobs.flatMap((j) =>
    api.readingsOf(j.id).map((r) => {
      const pod = usagePointAt(api.registry, r.meterSerial, r.timestampMs);
      return pod ? { ...r, usagePoint: pod } : r;
    }),
  );
  return {
    reply: { result: 'OK', errors: [] },
    payload: {
      name: 'MeterReadings',
      ns: METER_READINGS_NS,
      content: meterReadingsContent(meterReadingsFromCollected(readings)),
    },
  };
}

function control(
  api: HeadendApi,
  request: Extract<InboundRequest, { operation: 'EndDeviceControl' }>,
  options: BridgeOptions,
): { reply: Reply } {
  const now = options.clock.now();
  const jobs: Job[] = [];
  for (const c of request.controls) {
    const action = controlActions[c.kind];
    if (!action)
      return {
        reply: failed([
          {
            code: 'MF_CIM_UNSUPPORTED',
            level: 'FATAL',
            reason: `control ${c.kind} is not supported by the simulated meters yet`,
          },
        ]),
      };
    for (const serial of c.meterSerials) {
      const located = locate(api, serial);
      if ('code' in located) return { reply: failed([located]) };
      jobs.push(
        controlJob({
          meterSerial: serial,
          concentratorId: located.concentratorId,
          correlationId: correlationOf(request.header, now),
          action,
          nowMs: now,
          timeoutMs: options.controlTimeoutMs,
          ...(c.limitW !== undefined ? { limitW: c.limitW } : {}),
        }),
      );
    }
  }
  // Asynchronous: accepted now; completion is a high-priority event with the CorrelationID.
  for (const job of jobs) void api.submitJob(job);
  return { reply: { result: 'OK', errors: [] } };
}
