import { describe, expect, it } from 'vitest';
import { emptyResponse, type FieldResponse } from '../../actors/device/field.js';
import {
  advanceCursor,
  applyDeviceCommand,
  type DeviceEffect,
  type DeviceState,
  lastCollectedOf,
  newDevice,
} from '../../actors/device/state.js';
import type { CollectedReading } from '../../adapters/field-data.js';
import { intervalReading } from '../support/readings.js';
import { job, t0 } from './job-fixtures.js';

const hour = 3_600_000;

const interval = intervalReading;

function respond(
  state: DeviceState,
  requestId: string,
  response: Partial<FieldResponse>,
  nowMs = t0,
): DeviceEffect[] {
  return applyDeviceCommand(
    state,
    { type: 'fieldResponse', requestId, response: { ...emptyResponse(), ...response } },
    nowMs,
  ).effects;
}
const sends = (effects: DeviceEffect[]) => effects.flatMap((e) => (e.type === 'send' ? [e] : []));
const completed = (effects: DeviceEffect[]) => effects.flatMap((e) => (e.type === 'completed' ? [e] : []));
const events = (effects: DeviceEffect[]) => effects.flatMap((e) => (e.type === 'event' ? [e.event] : []));

describe('device: one request at a time', () => {
  it('queues a second request until the first is answered', () => {
    const d = newDevice('C1', ['M1']);
    const first = applyDeviceCommand(
      d,
      { type: 'request', job: job('a', { concentratorId: 'C1' }), attempt: 1 },
      t0,
    ).effects;
    expect(sends(first).map((s) => s.requestId)).toEqual(['a@1']);
    const second = applyDeviceCommand(
      d,
      { type: 'request', job: job('b', { concentratorId: 'C1' }), attempt: 1 },
      t0,
    ).effects;
    expect(sends(second)).toEqual([]);
    expect(sends(respond(d, 'a@1', {})).map((s) => s.requestId)).toEqual(['b@1']);
  });

  it('ignores a repeated request and an answer to a request that is not current', () => {
    const d = newDevice('C1', ['M1']);
    applyDeviceCommand(d, { type: 'request', job: job('a'), attempt: 1 }, t0);
    expect(applyDeviceCommand(d, { type: 'request', job: job('a'), attempt: 1 }, t0).effects).toEqual([]);
    expect(respond(d, 'zzz@1', { readings: [interval('M1', t0, 1)] })).toEqual([]);
    expect(d.cursors).toEqual({});
  });

  it('refuses requests beyond its bounded queue with MF_HEADEND_DEVICE_BUSY', () => {
    const d = newDevice('C1', ['M1'], { maxQueuedRequests: 1 });
    applyDeviceCommand(d, { type: 'request', job: job('a'), attempt: 1 }, t0);
    applyDeviceCommand(d, { type: 'request', job: job('b'), attempt: 1 }, t0);
    expect(() => applyDeviceCommand(d, { type: 'request', job: job('c'), attempt: 1 }, t0)).toThrow(
      expect.objectContaining({ code: 'MF_HEADEND_DEVICE_BUSY' }),
    );
  });
});

describe('device: last collected per meter and data kind', () => {
  it('asks each meter for data after its own last collected instant', () => {
    const d = newDevice('C1', ['M1', 'M2'], { initialLookbackMs: 2 * hour });
    const [send1] = sends(
      applyDeviceCommand(d, { type: 'request', job: job('lp1'), attempt: 1 }, t0 + 4 * hour).effects,
    );
    expect(send1?.request).toEqual({
      type: 'loadProfile',
      meters: [
        { serial: 'M1', afterMs: t0 + 2 * hour },
        { serial: 'M2', afterMs: t0 + 2 * hour },
      ],
      toMs: t0 + 4 * hour,
    });
    respond(
      d,
      'lp1@1',
      { readings: [interval('M1', t0 + 3 * hour, 5), interval('M1', t0 + 4 * hour, 6)] },
      t0 + 4 * hour,
    );
    const [send2] = sends(
      applyDeviceCommand(d, { type: 'request', job: job('lp2'), attempt: 1 }, t0 + 6 * hour).effects,
    );
    expect(send2?.request).toMatchObject({
      meters: [
        { serial: 'M1', afterMs: t0 + 4 * hour },
        { serial: 'M2', afterMs: t0 + 4 * hour },
      ],
    });
  });

  it('never hands on a value twice: values at or before the last collected instant are dropped', () => {
    const d = newDevice('C1', ['M1']);
    applyDeviceCommand(d, { type: 'request', job: job('a'), attempt: 1 }, t0);
    const [first] = completed(
      respond(d, 'a@1', { readings: [interval('M1', t0 + hour, 1), interval('M1', t0 + 2 * hour, 2)] }),
    );
    expect(first?.readings.map((r) => r.value)).toEqual([1, 2]);
    applyDeviceCommand(d, { type: 'request', job: job('b'), attempt: 1 }, t0);
    const [second] = completed(
      respond(d, 'b@1', { readings: [interval('M1', t0 + 2 * hour, 2), interval('M1', t0 + 3 * hour, 3)] }),
    );
    expect(second?.readings.map((r) => r.value)).toEqual([3]);
  });

  it('keeps every register of one daily closure (same timestamp) together', () => {
    const d = newDevice('C1', ['M1']);
    applyDeviceCommand(d, { type: 'request', job: job('dc', { kind: 'dailyClosure' }), attempt: 1 }, t0);
    const closure = ['1.8.0', '1.8.1', '1.8.2', '1.8.3', '1.8.4', '1.8.5', '1.8.6'].map(
      (code, i): CollectedReading => ({
        meterSerial: 'M1',
        kind: 'dailyClosure',
        quantity: { source: 'obis', code },
        value: i,
        unit: 'Wh',
        timestampMs: t0,
      }),
    );
    expect(completed(respond(d, 'dc@1', { readings: closure }))[0]?.readings).toHaveLength(7);
    expect(lastCollectedOf(d, 'M1', 'dailyClosure')).toBe(t0);
    expect(lastCollectedOf(d, 'M1', 'loadProfile')).toBeUndefined();
  });

  it('reports the oldest last-collected instant of a load profile job for gap detection', () => {
    const d = newDevice('C1', ['M1', 'M2']);
    applyDeviceCommand(d, { type: 'request', job: job('a'), attempt: 1 }, t0);
    const [done] = completed(
      respond(d, 'a@1', { readings: [interval('M1', t0 + 5 * hour, 1), interval('M2', t0 + 2 * hour, 1)] }),
    );
    expect(done?.oldestCollectedMs).toBe(t0 + 2 * hour);
  });

  it('uses an N2Pload recovery start earlier than the cursor when asked', () => {
    const d = newDevice('C1', ['M1']);
    advanceCursor(d, 'M1', 'loadProfile', t0 + 10 * hour);
    const effects = applyDeviceCommand(
      d,
      { type: 'request', job: job('r', { params: { kind: 'loadProfile', fromMs: t0 } }), attempt: 1 },
      t0 + 11 * hour,
    ).effects;
    expect(sends(effects)[0]?.request).toMatchObject({ meters: [{ serial: 'M1', afterMs: t0 }] });
  });
});

describe('device: reachability', () => {
  function failing(d: DeviceState, id: string, correlationId?: string): DeviceEffect[] {
    applyDeviceCommand(
      d,
      {
        type: 'request',
        job: job(id, {
          concentratorId: 'TD-105525',
          meterSerials: ['M1'],
          ...(correlationId ? { correlationId } : {}),
        }),
        attempt: 1,
      },
      t0,
    );
    return applyDeviceCommand(
      d,
      { type: 'fieldFailure', requestId: `${id}@1`, reason: 'Open socket error' },
      t0 + 1,
    ).effects;
  }

  it('raises "Concentrator is unreachable" after the configured failures in a row, once', () => {
    const d = newDevice('TD-105525', ['M1'], { unreachableAfterFailures: 2 });
    const first = failing(d, 'a');
    expect(events(first)).toEqual([]);
    expect(first.find((e) => e.type === 'failed')).toMatchObject({
      errorCode: 'MF_DEVICE_REQUEST_FAILED',
      retryable: true,
    });
    const second = failing(d, 'b');
    expect(events(second)).toEqual([
      expect.objectContaining({
        deviceId: 'TD-105525',
        deviceKind: 'concentrator',
        key: 'concentrator.unreachable',
        phase: 'raised',
        details: expect.objectContaining({ DESCRIPTION: 'Concentrator is unreachable [Open socket error]' }),
      }),
    ]);
    expect(second.find((e) => e.type === 'failed')).toMatchObject({ errorCode: 'MF_DEVICE_UNREACHABLE' });
    expect(events(failing(d, 'c'))).toEqual([]);
    expect(d.reachable).toBe(false);
  });

  it('gives an external request that cannot reach its meter the seed event: per meter, with CorrelationID', () => {
    const d = newDevice('TD-105525', ['M1'], { unreachableAfterFailures: 1 });
    const effects = failing(d, 'od', '03102019093557034-WSCONSULTASMT');
    expect(events(effects)).toContainEqual({
      deviceId: 'M1',
      deviceKind: 'meter',
      key: 'concentrator.unreachable',
      phase: 'occurred',
      timestampMs: t0 + 1,
      correlationId: '03102019093557034-WSCONSULTASMT',
      details: {
        CONCENTRATOR: 'TD-105525',
        DESCRIPTION: 'Concentrator is unreachable [Open socket error]',
        EXTERNALREQUEST: 'True',
      },
    });
  });

  it('clears unreachability on the next answer', () => {
    const d = newDevice('C1', ['M1'], { unreachableAfterFailures: 1 });
    failing(d, 'a');
    applyDeviceCommand(d, { type: 'request', job: job('b'), attempt: 1 }, t0);
    expect(events(respond(d, 'b@1', {}))).toEqual([
      expect.objectContaining({
        key: 'concentrator.unreachable',
        phase: 'cleared',
        deviceKind: 'concentrator',
      }),
    ]);
    expect(d.reachable).toBe(true);
    expect(d.consecutiveFailures).toBe(0);
  });
});

describe('device: controls', () => {
  const control = job('ctl:CORR-1:M1', {
    kind: 'deviceControl',
    priority: 'high',
    meterSerials: ['M1'],
    correlationId: 'CORR-1',
    params: { kind: 'deviceControl', action: 'disconnect' },
  });

  it('sends a control once; the same order again is answered from memory without reaching the field', () => {
    const d = newDevice('C1', ['M1']);
    const [send] = sends(applyDeviceCommand(d, { type: 'request', job: control, attempt: 1 }, t0).effects);
    expect(send?.request).toEqual({
      type: 'control',
      action: 'disconnect',
      meters: ['M1'],
      operationId: control.id,
    });
    const result = [{ meterSerial: 'M1', action: 'disconnect' as const, ok: true }];
    const [done] = completed(
      respond(d, send!.requestId, {
        controlResults: result,
        events: [
          {
            deviceId: 'M1',
            deviceKind: 'meter',
            key: 'meter.relayOpened',
            phase: 'occurred',
            timestampMs: t0,
          },
        ],
      }),
    );
    expect(done?.events[0]?.correlationId).toBe('CORR-1');
    const again = applyDeviceCommand(d, { type: 'request', job: control, attempt: 2 }, t0 + 5).effects;
    expect(sends(again)).toEqual([]);
    expect(completed(again)).toEqual([expect.objectContaining({ replayed: true, controlResults: result })]);
  });

  it('forgets the oldest remembered control beyond its bound', () => {
    const d = newDevice('C1', ['M1'], { maxRememberedControls: 1 });
    for (const id of ['x1', 'x2']) {
      applyDeviceCommand(d, { type: 'request', job: { ...control, id }, attempt: 1 }, t0);
      respond(d, `${id}@1`, { controlResults: [] });
    }
    expect(Object.keys(d.completedControls)).toEqual(['x2']);
  });
});

describe('device cursors of an older state', () => {
  it('converts the flat cursor table and resumes each meter after its own last collected instant', () => {
    const d = newDevice('C1', ['M|1', 'M2']);
    const legacy = JSON.parse(JSON.stringify(d)) as Omit<DeviceState, 'cursors'> & { cursors?: unknown };
    delete legacy.cursors;
    const old = {
      ...legacy,
      lastCollected: { 'M|1|loadProfile': t0 + 3 * hour, 'M2|dailyClosure': t0 },
    } as DeviceState;
    const effects = applyDeviceCommand(
      old,
      { type: 'request', job: job('a'), attempt: 1 },
      t0 + 5 * hour,
    ).effects;
    expect(sends(effects)[0]?.request).toMatchObject({
      meters: [
        { serial: 'M|1', afterMs: t0 + 3 * hour },
        { serial: 'M2', afterMs: t0 + 5 * hour - old.config.initialLookbackMs },
      ],
    });
    expect(old.lastCollected).toBeUndefined();
    expect(lastCollectedOf(old, 'M2', 'dailyClosure')).toBe(t0);
  });
});
