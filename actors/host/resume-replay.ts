import { jobKinds } from '../domain/jobs.js';
import type { OutboxEntry } from '../hosting/outbox.js';
import type { IntegrationState } from '../integration/checkpoint-stream.js';
import type { RegistryState } from '../registry/types.js';
import { type Addressing, deviceOf, singleton, tlogOf, workerOf } from './effect-routes.js';
import type { ActorAddress, ServicePorts } from './service-ports.js';

/**
 * What a driver taking over (HeadendDriver.resume) reads back from the actors: the registry,
 * the integration stream's state (its last completed step) and every actor's unacknowledged
 * outbox entries, in the order they are to be delivered again (their receivers drop what had
 * arrived already). Reads only: nothing is persisted.
 */
export type Replay = {
  registry: RegistryState;
  integration: IntegrationState;
  entries: { address: ActorAddress; entries: OutboxEntry<unknown>[] }[];
};

export async function readReplay(
  ports: ServicePorts,
  addressing: Addressing,
  options: { followWorkManager: boolean },
): Promise<Replay> {
  const registry = (await ports.state(singleton(addressing, 'registry'))).inner;
  const integration = await ports.state(singleton(addressing, 'integration'));
  const concentrators = Object.keys(registry.concentrators);
  const addresses: ActorAddress[] = [
    singleton(addressing, 'registry'),
    // A following driver takes the work manager's entries in `follow`, each at its instant.
    ...(options.followWorkManager ? [] : [singleton(addressing, 'work-manager')]),
    singleton(addressing, 'jobs-manager'),
    ...jobKinds.map((k) => workerOf(k)),
    ...[...new Set(concentrators.map((c) => tlogOf(addressing, c).key))].map((key) => ({
      service: 'tlog-manager' as const,
      key,
    })),
  ];
  // Everything is read before anything is routed: a replayed delivery makes new entries,
  // and an outbox read after one of them would hold entries older than what was already
  // routed from that actor (the stream would then be written out of order).
  const entries: Replay['entries'] = [];
  for (const address of addresses) entries.push({ address, entries: await ports.outbox(address) });
  for (const c of concentrators) {
    const address = deviceOf(addressing, c);
    const device = await ports.state(address);
    const current = device.inner.current?.requestId;
    entries.push({
      address,
      entries: device.outbox.map((entry) => ({
        ...entry,
        // A request no longer current was answered already: executing it again could
        // operate a relay twice.
        effects: entry.effects.filter((e) => e.type !== 'send' || e.requestId === current),
      })),
    });
  }
  entries.push({ address: singleton(addressing, 'integration'), entries: integration.outbox });
  return { registry, integration: integration.inner, entries };
}
