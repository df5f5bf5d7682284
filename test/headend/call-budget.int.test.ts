import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ActorLanes, maxCallBytes } from '../../actors/host/actor-lanes.js';
import {
  type ActorAddress,
  ActorProxyPorts,
  commandCall,
  maxPackedCallBytes,
} from '../../actors/host/service-ports.js';
import type { Delivery } from '../../actors/hosting/outbox.js';
import type { IntegrationState } from '../../actors/integration/checkpoint-stream.js';
import type { TLogRecord } from '../../actors/tlog/records.js';
import { newTLog, route } from '../../actors/tlog/router.js';
import { headendClusterPerFile } from './support/headend-cluster.js';

/**
 * The driver's call budget against real nodes (three node processes, needs
 * `npx tsc -p tsconfig.build.json`): the largest call the driver can send (packed just under
 * `maxPackedCallBytes`) is accepted and persisted by the hosted integration stream (node
 * payload bound 1 MiB, persisted-event bound 1 MiB), and a plain-budget batch that packs over
 * the cap is split by ActorLanes and every record appended exactly once. Readings of distinct
 * meters with random serials: packing cannot shrink them (the worst case).
 */
const headendCluster = headendClusterPerFile(60_000);

const t0 = Date.UTC(2026, 2, 11);

function noisyRouted(count: number): ReturnType<typeof route>['routed'] {
  return route(
    newTLog(),
    Array.from({ length: count }, (_, i): TLogRecord => {
      const meterSerial = randomBytes(256).toString('hex');
      return {
        type: 'reading',
        reading: {
          meterSerial,
          usagePoint: randomBytes(256).toString('hex'),
          kind: 'interval',
          quantity: { source: 'profile', quantity: 'activeImportInterval' },
          value: i,
          unit: 'Wh',
          timestampMs: t0 + i * 900_000,
          intervalSeconds: 900,
        },
        concentratorId: 'C1',
        collectedAtMs: t0 + 86_400_000,
      };
    }),
  ).routed;
}

const packedBytes = (deliveries: Delivery<unknown>[]) =>
  Buffer.byteLength(JSON.stringify(commandCall({ type: 'deliver', deliveries }, t0)));

describe('the driver’s call budget on a three-node cluster', () => {
  it('the largest call under the packed cap is accepted and persisted; a plain-budget batch over it is split and appended once', {
    timeout: 300_000,
  }, async () => {
    const ports = new ActorProxyPorts(headendCluster().proxy);
    const stream: ActorAddress = { service: 'integration', key: 'budget' };

    // Deliveries of ~32 KiB each (30 readings), as many as fit under the packed cap.
    const deliveries: Delivery<unknown>[] = [];
    for (let seq = 1; ; seq++) {
      const next = { from: 'tlog/x', seq, commands: [{ type: 'append', routed: noisyRouted(30) }] };
      if (packedBytes([...deliveries, next]) > maxPackedCallBytes) break;
      deliveries.push(next);
    }
    const biggest = packedBytes(deliveries);
    expect(biggest).toBeGreaterThan(0.9 * maxPackedCallBytes);
    const entries = await ports.deliver(stream, { type: 'deliver', deliveries } as never, t0, 'budget-1');
    expect(entries).toHaveLength(1);
    const appendedFirst = deliveries.length * 30;
    expect(((await ports.state(stream)).inner as IntegrationState).appended).toBe(appendedFirst);

    // A plain budget's worth (packing nothing away): over the cap, split by the lanes.
    const lanes = new ActorLanes({
      ports,
      now: () => t0 + 1,
      onEntry: () => undefined,
      onError: (err) => {
        throw err;
      },
    });
    let plain = 0;
    let posted = 0;
    const committed: number[] = [];
    lanes.post(stream, { from: 'tlog/y', seq: 1, commands: [{ type: 'append', routed: noisyRouted(1) }] });
    posted += 1;
    for (let seq = 2; plain < 0.9 * maxCallBytes; seq++) {
      plain += lanes.post(
        stream,
        { from: 'tlog/y', seq, commands: [{ type: 'append', routed: noisyRouted(30) }] },
        () => committed.push(seq),
      );
      posted += 30;
    }
    await lanes.idle();
    expect(lanes.splitCalls).toBeGreaterThan(0);
    expect(committed).toEqual(Array.from({ length: committed.length }, (_, i) => i + 2));
    expect(((await ports.state(stream)).inner as IntegrationState).appended).toBe(appendedFirst + posted);
    process.stdout.write(
      `largest packed call accepted ${biggest} bytes; ${plain} plain bytes split ${lanes.splitCalls} times into ${lanes.callCount} calls\n`,
    );
  });
});
