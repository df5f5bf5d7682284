import { describe, expect, it } from 'vitest';
import { commandCall, InProcessPorts, replyOf } from '../../actors/host/service-ports.js';
import type { CommandEvent } from '../../actors/hosting/command-actor.js';
import type { HostedCommand, HostedReply, HostedState } from '../../actors/hosting/outbox.js';
import { hostedTlogActor, integrationActor, type TLogCommand } from '../../actors/hosting/services.js';
import type { TLogRecord } from '../../actors/tlog/records.js';
import type { RoutedRecord, TLogState } from '../../actors/tlog/router.js';
import type { CollectedReading } from '../../adapters/field-data.js';
import { t0 } from './job-fixtures.js';

/**
 * Head-end actor calls carry reading lists packed (actors/hosting/compact-records.ts): the
 * event the node persists is the packed command as it arrived, replay unpacks it, the reply
 * is packed, and events persisted before (the plain command) still replay.
 */

const wire = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;

function records(meters: number, hours: number, fromHour = 0): TLogRecord[] {
  const out: TLogRecord[] = [];
  for (let m = 0; m < meters; m++)
    for (let h = fromHour; h < fromHour + hours; h++) {
      const reading: CollectedReading = {
        meterSerial: `TD-${100_000 + m}`,
        usagePoint: `IT001E${100_000 + m}`,
        kind: 'interval',
        quantity: { source: 'profile', quantity: 'activeImportInterval' },
        value: 400 + ((m * 31 + h * 7) % 97) / 4,
        unit: 'Wh',
        timestampMs: t0 + (h + 1) * 3_600_000,
        intervalSeconds: 3600,
      };
      out.push({ type: 'reading', reading, concentratorId: 'C1', collectedAtMs: t0 + 86_400_000 });
    }
  out.push({
    type: 'statusWord',
    meterSerial: 'TD-100000',
    concentratorId: 'C1',
    word: 0x10,
    timestampMs: t0,
    collectedAtMs: t0,
  });
  return out;
}

type Tlog = Extract<HostedCommand<TLogCommand>, { type: 'deliver' }>;
const route = (rs: TLogRecord[], from: string, seq: number): Tlog => ({
  type: 'deliver',
  deliveries: [{ from, seq, commands: [{ type: 'route', records: rs }] }],
});

const ctx = { key: 'it/C1', nowMs: t0 };

describe('packed head-end calls', () => {
  it('persist the packed command (a fraction of the plain bytes) and replay it to the same state', () => {
    const actor = hostedTlogActor;
    const primary = actor.initialState('it/C1');
    const plain = actor.initialState('it/C1');
    const log: string[] = [];
    const commands = [route(records(20, 24), 'w', 1), route(records(20, 24, 24), 'w', 2)];
    for (const [i, command] of commands.entries()) {
      const call = wire(commandCall(command, t0 + i));
      const decision = actor.handle(primary, 'command', call, ctx);
      const event = decision.event as CommandEvent<Tlog>;
      expect(event).toEqual({ c: call.c, nowMs: t0 + i });
      log.push(JSON.stringify(event));
      // The same command sent plain: the same reply once unpacked, and a few times the bytes.
      const plainDecision = actor.handle(plain, 'command', { command, atMs: t0 + i }, ctx);
      expect(replyOf(wire(decision.result))).toEqual(wire(plainDecision.result));
      const plainBytes = JSON.stringify(plainDecision.event).length;
      expect(log[i]!.length).toBeLessThan(plainBytes / 8);
      expect(JSON.stringify(decision.result).length).toBeLessThan(
        JSON.stringify(plainDecision.result).length / 8,
      );
    }
    // A new primary replays the persisted (JSON) events.
    let replica = actor.initialState('it/C1');
    for (const line of log) replica = actor.apply(replica, JSON.parse(line));
    expect(replica).toEqual(primary);
    // The second batch's status word repeats the first's: the router drops it.
    expect(replica.inner.routed.normal).toBe(20 * 48 + 1);
    expect(replica.outbox).toHaveLength(2);
  });

  it('replays a log of plain events written before the packed form, followed by packed ones', () => {
    const actor = integrationActor;
    const tlog = hostedTlogActor;
    const routedOf = (rs: TLogRecord[], seq: number) => {
      const reply = tlog.handle(tlog.initialState('it/C1'), 'command', { command: route(rs, 'w', seq) }, ctx)
        .result as HostedReply<RoutedRecord>;
      return reply.effects[0]!.effects;
    };
    const append = (
      routed: RoutedRecord[],
      seq: number,
    ): HostedCommand<{ type: 'append'; routed: RoutedRecord[] }> => ({
      type: 'deliver',
      deliveries: [{ from: 'tlog', seq, commands: [{ type: 'append', routed }] }],
    });
    // An event as the node persisted it before this change: the plain command.
    const old = wire({ command: append(routedOf(records(5, 24), 1), 1), nowMs: t0 });
    const newer = wire({
      c: commandCall(append(routedOf(records(5, 24, 24), 2), 2), t0 + 1).c,
      nowMs: t0 + 1,
    });
    let replica = actor.initialState('it');
    for (const event of [old, newer]) replica = actor.apply(replica, event as never);
    let plain = actor.initialState('it');
    plain = actor.apply(plain, old as never);
    plain = actor.apply(
      plain,
      wire({ command: append(routedOf(records(5, 24, 24), 2), 2), nowMs: t0 + 1 }) as never,
    );
    expect(replica).toEqual(plain);
    expect(replica.inner.appended).toBe(2 * (5 * 24 + 1));
    expect(replica.outbox.map((e) => e.id)).toEqual([1, 2]);
  });

  it('answers a retried packed call packed, and a retried call recorded before in its old form', () => {
    const actor = hostedTlogActor;
    const state = actor.initialState('it/C1');
    const decision = actor.handle(state, 'command', wire(commandCall(route(records(3, 4), 'w', 1), t0)), ctx);
    const stored = wire(decision.storedResult);
    expect(JSON.stringify(stored).length).toBeLessThan(40);
    const retried = replyOf<HostedReply<RoutedRecord>>(wire(actor.replyFrom!(state, stored)));
    expect(retried).toEqual(replyOf(wire(decision.result)));
    // A record of the old form: the plain entry reference, answered plain.
    expect(actor.replyFrom!(state, { entries: [1] })).toEqual(replyOf(wire(decision.result)));
  });

  it('refuses a malformed packed command with MF_COMPACT_INVALID: no event, the state unchanged', () => {
    const actor = hostedTlogActor;
    const state = actor.initialState('it/C1');
    actor.handle(state, 'command', wire(commandCall(route(records(3, 4), 'w', 1), t0)), ctx);
    const before = structuredClone(state);
    const call = wire(commandCall(route(records(3, 4, 4), 'w', 2), t0 + 1)) as {
      c: { deliveries: { commands: { records: { r: number[] } }[] }[] };
    };
    call.c.deliveries[0]!.commands[0]!.records.r[0] = 99;
    expect(() => actor.handle(state, 'command', call, ctx)).toThrow(
      expect.objectContaining({ code: 'MF_COMPACT_INVALID' }),
    );
    expect(state).toEqual(before);
    expect((state as HostedState<TLogState, RoutedRecord>).nextId).toBe(2);
  });

  it('InProcessPorts runs the same codec: the driver-facing results are the plain ones', async () => {
    const ports = new InProcessPorts();
    const address = { service: 'tlog-manager' as const, key: 'it/C1' };
    const rs = records(4, 6);
    const [entry] = await ports.deliver(address, route(rs, 'w', 1), t0, 'k1');
    expect(entry!.effects.map((r) => r.record)).toEqual(rs);
    expect(await ports.outbox(address)).toEqual([entry]);
    expect(await ports.deliver(address, route(rs, 'w', 1), t0, 'k1')).toEqual([entry]);
  });
});
