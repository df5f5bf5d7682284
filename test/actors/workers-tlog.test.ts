import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DeviceEffect } from '../../actors/device/state.js';
import { applyRegistryCommand } from '../../actors/registry/commands.js';
import { emptyRegistry } from '../../actors/registry/types.js';
import {
  applyToReporting,
  concentratorInFieldRows,
  meterAggregatedInfoRows,
  meterDcInfoRows,
  newReporting,
} from '../../actors/reporting/store.js';
import type { TLogRecord } from '../../actors/tlog/records.js';
import { classify, newTLog, route } from '../../actors/tlog/router.js';
import { applyWorkerCommand, newWorker } from '../../actors/workers/state.js';
import type { CollectedReading, DeviceEvent } from '../../adapters/field-data.js';
import { job, t0 } from './job-fixtures.js';

const reading = (overrides: Partial<CollectedReading> = {}): CollectedReading => ({
  meterSerial: 'M1',
  kind: 'interval',
  quantity: { source: 'profile', quantity: 'activeImportInterval' },
  value: 430,
  unit: 'Wh',
  timestampMs: t0,
  intervalSeconds: 3600,
  ...overrides,
});
const event = (overrides: Partial<DeviceEvent> = {}): DeviceEvent => ({
  deviceId: 'M1',
  deviceKind: 'meter',
  key: 'meter.statusWordAlarm',
  phase: 'raised',
  timestampMs: t0,
  ...overrides,
});
function done(
  overrides: Partial<Extract<DeviceEffect, { type: 'completed' }>>,
): Extract<DeviceEffect, { type: 'completed' }> {
  return {
    type: 'completed',
    job: job('j'),
    attempt: 1,
    readings: [],
    events: [],
    statusWords: [],
    controlResults: [],
    replayed: false,
    ...overrides,
  };
}

describe('workers', () => {
  it('refuses a job of another kind', () => {
    const w = newWorker('dailyClosure');
    expect(() => applyWorkerCommand(w, { type: 'assign', job: job('a'), attempt: 1 }, t0)).toThrow(
      expect.objectContaining({ code: 'MF_HEADEND_INVALID_INPUT' }),
    );
  });

  it('holds queued and executing jobs in its state and starts at most maxExecuting', () => {
    const w = newWorker('loadProfile', 1);
    const first = applyWorkerCommand(w, { type: 'assign', job: job('a'), attempt: 1 }, t0).effects;
    expect(first).toEqual([{ type: 'deviceRequest', concentratorId: 'C-a', job: job('a'), attempt: 1 }]);
    expect(applyWorkerCommand(w, { type: 'assign', job: job('b'), attempt: 1 }, t0).effects).toEqual([]);
    expect(w.queued.map((q) => q.job.id)).toEqual(['b']);
    expect(Object.keys(w.executing)).toEqual(['a@1']);
    const after = applyWorkerCommand(
      w,
      { type: 'deviceCompleted', result: done({ job: job('a'), readings: [reading()] }) },
      t0 + 1,
    ).effects;
    expect(after.map((e) => e.type)).toEqual(['tlog', 'attemptResult', 'deviceRequest']);
    expect(after[1]).toEqual({ type: 'attemptResult', jobId: 'a', attempt: 1, result: { ok: true } });
  });

  it('turns a disconnect into a high-priority work-order result carrying the CorrelationID', () => {
    const control = job('ctl', {
      kind: 'deviceControl',
      correlationId: 'CORR-9',
      params: { kind: 'deviceControl', action: 'disconnect' },
    });
    const w = newWorker('deviceControl');
    applyWorkerCommand(w, { type: 'assign', job: control, attempt: 1 }, t0);
    const effects = applyWorkerCommand(
      w,
      {
        type: 'deviceCompleted',
        result: done({
          job: control,
          controlResults: [{ meterSerial: 'M1', action: 'disconnect', ok: true }],
        }),
      },
      t0,
    ).effects;
    const tlog = effects.find((e) => e.type === 'tlog');
    const records = tlog?.type === 'tlog' ? tlog.records : [];
    expect(records).toEqual([
      expect.objectContaining({
        type: 'workOrderResult',
        correlationId: 'CORR-9',
        meterSerial: 'M1',
        action: 'disconnect',
        ok: true,
      }),
    ]);
    expect(classify(records[0]!).stream).toBe('high');
  });

  it('reports a refused control as a non-retryable failure', () => {
    const control = job('ctl', {
      kind: 'deviceControl',
      params: { kind: 'deviceControl', action: 'connect' },
    });
    const w = newWorker('deviceControl');
    applyWorkerCommand(w, { type: 'assign', job: control, attempt: 1 }, t0);
    const effects = applyWorkerCommand(
      w,
      {
        type: 'deviceCompleted',
        result: done({
          job: control,
          controlResults: [{ meterSerial: 'M1', action: 'connect', ok: false, detail: 'relay jammed' }],
        }),
      },
      t0,
    ).effects;
    expect(effects).toContainEqual({
      type: 'attemptResult',
      jobId: 'ctl',
      attempt: 1,
      result: {
        ok: false,
        retryable: false,
        errorCode: 'MF_DEVICE_CONTROL_FAILED',
        errorMessage: 'M1: relay jammed',
      },
    });
  });

  it('passes a device failure on as the attempt result', () => {
    const w = newWorker('loadProfile');
    applyWorkerCommand(w, { type: 'assign', job: job('a'), attempt: 2 }, t0);
    const effects = applyWorkerCommand(
      w,
      {
        type: 'deviceFailed',
        result: {
          type: 'failed',
          job: job('a'),
          attempt: 2,
          errorCode: 'MF_DEVICE_UNREACHABLE',
          errorMessage: 'x',
          retryable: true,
        },
      },
      t0,
    ).effects;
    expect(effects).toEqual([
      {
        type: 'attemptResult',
        jobId: 'a',
        attempt: 2,
        result: { ok: false, retryable: true, errorCode: 'MF_DEVICE_UNREACHABLE', errorMessage: 'x' },
      },
    ]);
  });
});

describe('tlog routing', () => {
  const base = { concentratorId: 'C1', collectedAtMs: t0 };
  it.each([
    ['a load profile interval', { type: 'reading', reading: reading(), ...base }, 'normal', 'loadprofiles'],
    [
      'a daily closure register',
      {
        type: 'reading',
        reading: reading({ kind: 'dailyClosure', quantity: { source: 'obis', code: '1.8.1' } }),
        ...base,
      },
      'normal',
      'readings',
    ],
    [
      'an on-demand register',
      {
        type: 'reading',
        reading: reading({ kind: 'register', quantity: { source: 'obis', code: '1.8.0' } }),
        ...base,
      },
      'normal',
      'readings',
    ],
    [
      'a status word',
      { type: 'statusWord', meterSerial: 'M1', word: 0x80, timestampMs: t0, ...base },
      'normal',
      'statuswords',
    ],
    ['a status-word alarm event', { type: 'event', event: event(), ...base }, 'normal', 'events'],
    [
      'a commissioning event',
      { type: 'event', event: event({ key: 'meter.commissioned', phase: 'occurred' }), ...base },
      'normal',
      'events',
    ],
    [
      'a relay opened by a work order',
      { type: 'event', event: event({ key: 'meter.relayOpened', correlationId: 'C' }), ...base },
      'high',
      null,
    ],
    [
      'a work-order result',
      { type: 'workOrderResult', jobId: 'j', meterSerial: 'M1', action: 'disconnect', ok: true, ...base },
      'high',
      null,
    ],
  ] as [string, TLogRecord, string, string | null][])(
    'routes %s to %s/%s',
    (_name, record, stream, typed) => {
      expect(classify(record)).toEqual({ stream, typed });
    },
  );

  it('drops a reading routed twice and keeps distinct quantities at the same instant', () => {
    const t = newTLog();
    const r1: TLogRecord = {
      type: 'reading',
      reading: reading({ kind: 'dailyClosure', quantity: { source: 'obis', code: '1.8.1' } }),
      ...base,
    };
    const r2: TLogRecord = {
      type: 'reading',
      reading: reading({ kind: 'dailyClosure', quantity: { source: 'obis', code: '1.8.2' } }),
      ...base,
    };
    expect(route(t, [r1, r2]).routed).toHaveLength(2);
    expect(route(t, [r1, r2]).routed).toHaveLength(0);
    expect(t.duplicatesDropped).toBe(2);
  });

  it('property: any replay of any prefix of a record sequence routes each record exactly once', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({ meter: fc.integer({ min: 0, max: 3 }), hour: fc.integer({ min: 0, max: 23 }) }),
          { maxLength: 60 },
        ),
        fc.array(fc.nat(), { maxLength: 10 }),
        (items, replays) => {
          // Readings reach the TLog in time order per meter (the device guarantees it).
          const sorted = [...items].sort((a, b) => a.hour - b.hour);
          const records: TLogRecord[] = sorted.map((i) => ({
            type: 'reading',
            reading: reading({ meterSerial: `M${i.meter}`, timestampMs: t0 + i.hour * 3_600_000 }),
            ...base,
          }));
          const t = newTLog();
          const out: string[] = [];
          let position = 0;
          for (const replay of replays) {
            const end = Math.min(records.length, position + (replay % 7));
            const from = Math.max(0, position - (replay % 3));
            out.push(...route(t, records.slice(from, end)).routed.map((r) => r.id));
            position = end;
          }
          out.push(...route(t, records).routed.map((r) => r.id));
          const unique = new Set(
            records.map((r) =>
              r.type === 'reading' ? `${r.reading.meterSerial}|${r.reading.timestampMs}` : '',
            ),
          );
          expect(out).toHaveLength(unique.size);
          expect(new Set(out).size).toBe(out.length);
        },
      ),
    );
  });

  it('forgets the oldest event ids beyond its bound', () => {
    const t = newTLog(2);
    for (let i = 0; i < 3; i++) route(t, [{ type: 'event', event: event({ timestampMs: t0 + i }), ...base }]);
    expect(t.recentIds).toHaveLength(2);
    expect(route(t, [{ type: 'event', event: event({ timestampMs: t0 + 2 }), ...base }]).routed).toHaveLength(
      0,
    );
  });
});

describe('reporting store', () => {
  it('fills the extraction report rows from routed records and the registry', () => {
    const registry = emptyRegistry();
    applyRegistryCommand(
      registry,
      {
        type: 'upsertConcentrator',
        id: 'C1',
        concentratorType: 'DC',
        serial: 'S1',
        substation: 'SUB',
        transformer: 'TR',
        timeZone: 'UTC',
        communicationType: 'gprs',
        address: 'h:1',
      },
      t0,
    );
    applyRegistryCommand(
      registry,
      { type: 'upsertMeter', serial: 'M1', manufacturer: 'A', model: 'B', firmwareVersion: '3' },
      t0,
    );
    applyRegistryCommand(registry, { type: 'installMeter', serial: 'M1', concentratorId: 'C1' }, t0);
    const report = newReporting();
    const base = { concentratorId: 'C1', collectedAtMs: t0 + 10 };
    const records: TLogRecord[] = [
      { type: 'reading', reading: reading({ timestampMs: t0 + 3_600_000 }), ...base },
      {
        type: 'reading',
        reading: reading({
          kind: 'dailyClosure',
          quantity: { source: 'obis', code: '1.8.0' },
          timestampMs: t0,
        }),
        ...base,
      },
      {
        type: 'event',
        event: event({
          deviceId: 'C1',
          deviceKind: 'concentrator',
          key: 'concentrator.unreachable',
          timestampMs: t0 + 20,
        }),
        ...base,
      },
    ];
    applyToReporting(report, route(newTLog(), records).routed);
    expect(meterAggregatedInfoRows(report, registry)[0]).toMatchObject({
      concentrator: 'C1',
      concentratorsn: 'S1',
      conc_nrn: '1',
      metersn: 'M1',
      state: 'installed',
      lastdc_active: t0,
      lastlp_active: t0 + 3_600_000,
    });
    expect(
      meterDcInfoRows(report, registry).map((r) => [r.tabletype, r.lastclosuredatelocal, r.isunreachable]),
    ).toEqual([
      ['active', t0, '1'],
      ['reactive', undefined, '1'],
      ['activeExport', undefined, '1'],
    ]);
    expect(concentratorInFieldRows(report, registry)[0]).toMatchObject({
      name: 'C1',
      isreachable: '0',
      timezone: 'UTC',
    });
  });
});
