import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import type { DeviceEffect } from '../../actors/device/state.js';
import {
  ForwardedReadings,
  plainLengthOfPackedReadings,
  unpackDeviceReply,
} from '../../actors/host/forwarded-readings.js';
import { jsonLength } from '../../actors/host/json-length.js';
import {
  type ActorAddress,
  InProcessPorts,
  measuredCall,
  type ServicePorts,
} from '../../actors/host/service-ports.js';
import { packValue, unpackValue } from '../../actors/hosting/compact-records.js';
import type { CollectedReading } from '../../adapters/field-data.js';
import { expectExactlyOnceInOutputs } from './output-check.js';
import { hourMs } from './support/driver-day.js';
import { smallDayOriginMs, startSmallDay } from './support/small-day.js';

/**
 * Issue 7 (session 16): a device's collected readings pass from its reply into the worker's
 * call in their packed form, never unpacked by the driver. The worker's call is the same bytes
 * as when the driver unpacked and packed them again (so what the worker persists and replays is
 * unchanged), the driver's plain budgets count the same lengths, and a day gives the same
 * states, CSV files and CIM messages.
 */

const wire = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;
const t0 = Date.UTC(2026, 2, 11);
const text = fc.oneof(fc.string({ maxLength: 8 }), fc.string({ unit: 'grapheme', maxLength: 8 }));

const reading: fc.Arbitrary<CollectedReading> = fc.record(
  {
    meterSerial: fc.oneof(fc.constantFrom('M1', 'M2', 'Zähler-"ü"', '~rl', ''), text),
    usagePoint: fc.oneof(fc.constantFrom('POD-1', 'POD-\n2'), text),
    kind: fc.constantFrom('register' as const, 'interval' as const, 'dailyClosure' as const),
    quantity: fc.oneof(
      fc.record({ source: fc.constant('obis' as const), code: fc.constantFrom('1.8.0', '32.7.0') }),
      fc.record({ source: fc.constant('knx' as const), dpt: fc.constant('13.010'), quantity: text }),
    ),
    value: fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer(), fc.constant(-0)),
    unit: fc.constantFrom('Wh', 'kWh', '°C'),
    timestampMs: fc.oneof(
      fc.integer({ min: 0, max: 96 }).map((i) => t0 + i * 900_000),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
    ),
    intervalSeconds: fc.constantFrom(900, 3600),
    qualities: fc.array(fc.constantFrom('1.0.0', '1.4.5'), { maxLength: 2 }),
  },
  { requiredKeys: ['meterSerial', 'kind', 'quantity', 'value', 'unit', 'timestampMs'] },
);

/** A meter's hourly profile: the common case, where runs form. */
const profile = fc
  .tuple(
    fc.constantFrom('SIM0001', 'SIM0002'),
    fc.array(fc.integer({ min: 0, max: 99_999 }), { maxLength: 30 }),
  )
  .map(([meterSerial, values]) =>
    values.map(
      (value, i): CollectedReading => ({
        meterSerial,
        usagePoint: `POD-${meterSerial}`,
        kind: 'interval',
        quantity: { source: 'obis', code: '1.8.0' },
        value: value / 10,
        unit: 'Wh',
        timestampMs: t0 + i * 3_600_000,
        intervalSeconds: 3600,
      }),
    ),
  );

/** Readings with, now and then, an element that is not a reading (packed among the list's others). */
const readingLists = fc.oneof(
  fc.array(reading, { minLength: 2, maxLength: 40 }),
  fc.array(profile, { maxLength: 4 }).map((lists) => lists.flat()),
  fc.tuple(fc.array(reading, { minLength: 2, maxLength: 10 }), fc.nat(9)).map(([list, at]) => {
    const out: unknown[] = [...list];
    out.splice(at % (list.length + 1), 0, { note: 'not a reading', value: 1.5 });
    return out as CollectedReading[];
  }),
);

function completedReply(readings: CollectedReading[]) {
  const effect: Extract<DeviceEffect, { type: 'completed' }> = {
    type: 'completed',
    job: {
      id: 'job-1',
      kind: 'LoadProfile',
      concentratorId: 'C1',
      meterSerials: [],
      params: { kind: 'loadProfile' },
      priority: 'normal',
      createdAtMs: t0,
      deadlineMs: t0 + hourMs,
    } as unknown as Extract<DeviceEffect, { type: 'completed' }>['job'],
    attempt: 1,
    readings,
    events: [],
    statusWords: [],
    controlResults: [],
    replayed: false,
  };
  return { effects: [{ id: 7, effects: [effect] }] };
}

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

describe('forwarded packed readings', () => {
  it("a packed list's plain JSON length, from its tables, equals JSON.stringify of the readings", () => {
    fc.assert(
      fc.property(readingLists, (list) => {
        const packed = wire(packValue(list)) as Record<string, unknown>;
        if (!Array.isArray(packed))
          expect(plainLengthOfPackedReadings(packed)).toBe(JSON.stringify(wire(list)).length);
      }),
      { numRuns: 1500 },
    );
  });

  it("the worker's call carrying forwarded readings is the same bytes, and sized the same, as with the readings unpacked", () => {
    fc.assert(
      fc.property(readingLists, (list) => {
        const packedReply = wire(packValue(completedReply(list)));
        const plain = unpackValue<ReturnType<typeof completedReply>>(wire(packedReply));
        const forwarded = unpackDeviceReply<ReturnType<typeof completedReply>>(wire(packedReply));
        const plainEffect = plain.effects[0]!.effects[0]!;
        const forwardedEffect = forwarded.effects[0]!.effects[0]!;
        const readings = forwardedEffect.readings as unknown;
        // A list of at least two readings arrives packed and stays so; the rest is as before.
        const packedList = !Array.isArray(
          (packedReply as { effects: { effects: { readings: unknown }[] }[] }).effects[0]!.effects[0]!
            .readings,
        );
        expect(readings instanceof ForwardedReadings).toBe(packedList);
        if (!packedList) return;
        expect({ ...forwardedEffect, readings: [] }).toStrictEqual({ ...plainEffect, readings: [] });
        expect((readings as ForwardedReadings).readings()).toStrictEqual(plainEffect.readings);
        const call = (result: unknown) => ({
          type: 'deliver' as const,
          deliveries: [{ from: 'wide/C1', seq: 700, commands: [{ type: 'deviceCompleted', result }] }],
        });
        expect(measuredCall(call(forwardedEffect), t0).json).toBe(measuredCall(call(plainEffect), t0).json);
        expect(jsonLength(call(forwardedEffect))).toBe(JSON.stringify(call(plainEffect)).length);
      }),
      { numRuns: 600 },
    );
  });

  it('a malformed packed list is not forwarded: it is unpacked, and refused, as before', () => {
    const packed = wire(packValue(completedReply(fc.sample(fc.array(reading, { minLength: 3 }), 1)[0]!))) as {
      effects: { effects: { readings: Record<string, unknown> }[] }[];
    };
    packed.effects[0]!.effects[0]!.readings.n = 999;
    expect(plainLengthOfPackedReadings(packed.effects[0]!.effects[0]!.readings)).toBeUndefined();
    expect(() => unpackDeviceReply(packed)).toThrow(/MF_COMPACT_INVALID|malformed/);
  });

  it('a day with the readings forwarded packed gives the same worker calls, states, CSV files and CIM messages as with them unpacked and packed again', {
    timeout: 300_000,
  }, async () => {
    const run = async (forwardPackedReadings: boolean) => {
      const services = new InProcessPorts({ forwardPackedReadings });
      const recorder = new WorkerCalls(services);
      const day = await startSmallDay({ ports: recorder, dirs, prefix: 'mf-forwarded-' });
      const endMs = smallDayOriginMs + 25 * hourMs;
      await day.runUntil(endMs);
      await day.driver.settle({ acks: 'all' });
      await day.consumer.flush();
      await expectExactlyOnceInOutputs(day.truth(endMs), day.outDir, 'IT');
      const states: Record<string, unknown> = {};
      for (const address of recorder.addresses.values())
        states[`${address.service}/${address.key}`] = await services.state(address);
      return {
        calls: recorder.calls,
        states,
        files: await filesOf(day.outDir),
        forwarded: recorder.forwarded,
      };
    };
    const forwarded = await run(true);
    const repacked = await run(false);
    expect(forwarded.forwarded).toBeGreaterThan(0);
    expect(repacked.forwarded).toBe(0);
    expect(forwarded.calls.size).toBeGreaterThan(0);
    expect(forwarded.calls).toStrictEqual(repacked.calls);
    expect(forwarded.states).toStrictEqual(repacked.states);
    expect(Object.keys(forwarded.files).length).toBeGreaterThan(0);
    expect(forwarded.files).toStrictEqual(repacked.files);
  });
});

/** Records every worker call as sent (the packed JSON the worker persists), by idempotency key. */
class WorkerCalls implements ServicePorts {
  readonly calls = new Map<string, string>();
  /** `deviceCompleted` commands whose readings went on packed. */
  forwarded = 0;
  readonly addresses = new Map<string, ActorAddress>();
  readonly plan: ServicePorts['plan'];

  constructor(private readonly inner: ServicePorts) {
    const plan = inner.plan;
    this.plan = plan && ((address, read) => plan.call(inner, address, read));
  }

  deliver: ServicePorts['deliver'] = (address, command, atMs, key) => {
    this.addresses.set(`${address.service}/${address.key}`, address);
    if (address.service === 'worker') {
      this.calls.set(key, measuredCall(command, atMs).json);
      for (const d of command.deliveries)
        for (const c of d.commands as { type: string; result?: { readings?: unknown } }[])
          if (c.type === 'deviceCompleted' && c.result?.readings instanceof ForwardedReadings)
            this.forwarded++;
    }
    return this.inner.deliver(address, command, atMs, key);
  };
  outbox: ServicePorts['outbox'] = (address) => this.inner.outbox(address);
  state: ServicePorts['state'] = (address) => this.inner.state(address);
}

/** Every output file's content, by its path under the output directory. */
async function filesOf(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true }))
    if (entry.isFile()) {
      const path = join(entry.parentPath, entry.name);
      out[path.slice(dir.length)] = await readFile(path, 'utf8');
    }
  return out;
}
