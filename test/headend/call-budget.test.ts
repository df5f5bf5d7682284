import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ActorLanes, maxCallBytes } from '../../actors/host/actor-lanes.js';
import {
  type ActorAddress,
  commandCall,
  InProcessPorts,
  maxPackedCallBytes,
  measuredCall,
  type ServicePorts,
} from '../../actors/host/service-ports.js';
import type { Delivery } from '../../actors/hosting/outbox.js';
import type { TLogRecord } from '../../actors/tlog/records.js';
import { newTLog, route } from '../../actors/tlog/router.js';

/**
 * The driver's call budget (issue 7, session 13): calls are budgeted on plain JSON
 * (`maxCallBytes`, 1 MiB) but sent and persisted packed, and the packed call is what is
 * checked against the node's limits: over `maxPackedCallBytes` (512 KiB, half the node's 1 MiB
 * payload and persisted-event bounds) it is refused before it is sent, and ActorLanes splits
 * it in halves instead of failing. Incompressible commands (random strings) make a plain-budget
 * call pack to about its plain size, i.e. over the cap: the worst case the split must handle.
 */

const stream: ActorAddress = { service: 'integration', key: 'h' };

/** A delivery of about `bytes` of JSON that packing cannot shrink. */
function noisyDelivery(from: string, seq: number, bytes: number): Delivery<unknown> {
  return { from, seq, commands: [{ type: 'noise', text: randomBytes(bytes / 2).toString('hex') }] };
}

const packedBytes = (deliveries: Delivery<unknown>[]) =>
  Buffer.byteLength(JSON.stringify(commandCall({ type: 'deliver', deliveries }, 0)));

/** Ports that check each call as the cluster's ports do (the real `measuredCall`) and record what passed. */
class CheckingPorts implements ServicePorts {
  readonly calls: { seqs: number[]; ack: number[]; packedBytes: number }[] = [];
  refused = 0;
  deliver: ServicePorts['deliver'] = async (_address, command, atMs) => {
    try {
      const { json } = measuredCall(command, atMs);
      this.calls.push({
        seqs: command.deliveries.map((d) => d.seq ?? -1),
        ack: command.ack ?? [],
        packedBytes: Buffer.byteLength(json),
      });
    } catch (err) {
      this.refused++;
      throw err;
    }
    return [];
  };
  outbox: ServicePorts['outbox'] = async () => [];
  state: ServicePorts['state'] = async () => {
    throw new Error('not used');
  };
}

describe('the driver’s call budget on packed bytes', () => {
  it('the packed cap is under the node’s 1 MiB payload and persisted-event bounds, and the plain budget is above it', () => {
    expect(maxPackedCallBytes).toBeLessThanOrEqual(512 * 1024);
    expect(maxCallBytes).toBeGreaterThan(maxPackedCallBytes);
  });

  it('a call whose packed form is over the cap is refused before it is sent, and the actor’s state is unchanged', async () => {
    const ports = new InProcessPorts();
    const before = await ports.state(stream);
    const deliveries = [0, 1, 2, 3, 4, 5].map((i) => noisyDelivery('tlog/x', i + 1, 96 * 1024));
    expect(packedBytes(deliveries)).toBeGreaterThan(maxPackedCallBytes);
    await expect(
      ports.deliver(stream, { type: 'deliver', deliveries } as never, 0, 'k1'),
    ).rejects.toMatchObject({
      code: 'MF_PAYLOAD_TOO_LARGE',
    });
    expect(await ports.state(stream)).toEqual(before);
  });

  it('a full plain budget of incompressible deliveries is split into calls under the cap, each delivery sent once, in order, with its tail acknowledgement', async () => {
    const ports = new CheckingPorts();
    const errors: unknown[] = [];
    const lanes = new ActorLanes({
      ports,
      now: () => 0,
      onEntry: () => undefined,
      onError: (err) => errors.push(err),
    });
    // Ten deliveries of ~96 KiB: the first call takes them all (under the plain budget), packs
    // to ~960 KiB and is refused; the halves go, and the second waits for the lane's next call.
    const count = 10;
    const committed: number[] = [];
    // Keep the lane busy with a first small call so the ten queue together.
    lanes.post(stream, noisyDelivery('tlog/a', 1, 64));
    for (let i = 0; i < count; i++) {
      const seq = i + 2;
      lanes.post(
        stream,
        noisyDelivery('tlog/a', seq, 96 * 1024),
        () => committed.push(seq),
        i === count - 1 ? () => 77 : undefined,
      );
    }
    await lanes.idle();
    expect(errors).toEqual([]);
    expect(ports.refused).toBeGreaterThan(0);
    expect(lanes.splitCalls).toBe(ports.refused);
    const seqs = ports.calls.flatMap((c) => c.seqs);
    expect(seqs).toEqual(Array.from({ length: count + 1 }, (_, i) => i + 1));
    expect(committed).toEqual(Array.from({ length: count }, (_, i) => i + 2));
    for (const call of ports.calls) expect(call.packedBytes).toBeLessThanOrEqual(maxPackedCallBytes);
    // The tail acknowledgement went with the call that carried its delivery (the last one).
    const withAck = ports.calls.filter((c) => c.ack.includes(77));
    expect(withAck).toHaveLength(1);
    expect(withAck[0]!.seqs).toContain(count + 1);
  });

  it('compressible head-end deliveries fill the plain budget in one call far under the cap', async () => {
    const ports = new CheckingPorts();
    const lanes = new ActorLanes({ ports, now: () => 0, onEntry: () => undefined, onError: () => undefined });
    // A day of two meters' 15-minute load profile, routed by the real TLog router (what a TLog
    // bucket sends the stream), per delivery: about 96 KiB of plain JSON, the driver's part size.
    const t0 = Date.UTC(2026, 2, 11);
    const routed = (part: number) =>
      route(
        newTLog(),
        Array.from({ length: 2 * 96 }, (_, i): TLogRecord => {
          const meterSerial = `M${String(part * 2 + Math.floor(i / 96)).padStart(8, '0')}`;
          return {
            type: 'reading',
            reading: {
              meterSerial,
              usagePoint: `POD-${meterSerial}`,
              kind: 'interval',
              quantity: { source: 'profile', quantity: 'activeImportInterval' },
              value: ((part * 7919 + i * 104_729) % 100_000) / 10,
              unit: 'Wh',
              timestampMs: t0 + (i % 96) * 900_000,
              intervalSeconds: 900,
              qualities: [],
            },
            concentratorId: `C${part}`,
            correlationId: `job-${part}`,
            collectedAtMs: t0 + 86_400_000,
          };
        }),
      ).routed;
    lanes.post(stream, noisyDelivery('tlog/b', 1, 64));
    let plain = 0;
    for (let i = 0; i < 12; i++)
      plain += lanes.post(stream, {
        from: 'tlog/b',
        seq: i + 2,
        commands: [{ type: 'append', routed: routed(i) }],
      });
    await lanes.idle();
    expect(lanes.splitCalls).toBe(0);
    expect(plain).toBeGreaterThan(2 * 256 * 1024);
    const biggest = Math.max(...ports.calls.map((c) => c.packedBytes));
    expect(biggest).toBeLessThan(maxPackedCallBytes / 4);
    process.stdout.write(
      `plain ${plain} bytes in ${ports.calls.length} calls; biggest packed call ${biggest} bytes\n`,
    );
    // More than the old 256 KiB plain budget went in one call.
    expect(Math.max(...ports.calls.map((c) => c.seqs.length))).toBeGreaterThan(4);
  });
});
