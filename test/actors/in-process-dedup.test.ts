import { describe, expect, it } from 'vitest';
import { type ActorAddress, InProcessPorts } from '../../actors/host/service-ports.js';
import { job, t0 } from './job-fixtures.js';

/**
 * InProcessPorts remembers a call the way the cluster's actors do (issue 7): the outbox
 * entry's id, not its effects, and a retry is answered from the current state, so in-process
 * tests exercise the `acknowledged` reply a driver gets on the cluster.
 */
describe('InProcessPorts dedup by reference', () => {
  const address: ActorAddress<'jobs-manager'> = { service: 'jobs-manager', key: 'jm' };
  const submit = {
    type: 'deliver' as const,
    deliveries: [{ commands: [{ type: 'submit' as const, job: job('a') }] }],
  };

  it('answers a retry with the entry while it is in the outbox, then with {effects: [], acknowledged: [id]}', async () => {
    const ports = new InProcessPorts();
    const first = await ports.deliverReply(address, submit, t0, 'k1');
    expect(first.acknowledged).toBeUndefined();
    expect(first.effects).toHaveLength(1);
    const entry = first.effects[0]!;
    expect(entry.effects).toEqual([expect.objectContaining({ type: 'dispatch', attempt: 1 })]);
    // Retried before the acknowledgement: the same entry, from the outbox.
    expect(await ports.deliverReply(address, submit, t0 + 1, 'k1')).toEqual({ effects: [entry] });
    await ports.deliver(address, { type: 'deliver', deliveries: [], ack: [entry.id] }, t0 + 2, 'k-ack');
    expect(await ports.outbox(address)).toEqual([]);
    const before = await ports.state(address);
    // Retried after it: told the entry was acknowledged, and nothing for a driver to route.
    expect(await ports.deliverReply(address, submit, t0 + 3, 'k1')).toEqual({
      effects: [],
      acknowledged: [entry.id],
    });
    expect(await ports.deliver(address, submit, t0 + 4, 'k1')).toEqual([]);
    // Nothing ran again: the state is as it was (one attempt, an empty outbox).
    expect(await ports.state(address)).toEqual(before);
    expect(before.inner.entries.a?.attempts).toBe(1);
  });

  it('answers a retried call that made no entry with no effects, and a new key runs as a new call', async () => {
    const ports = new InProcessPorts();
    await ports.deliver(address, submit, t0, 'k1');
    const tick = { type: 'deliver' as const, deliveries: [{ commands: [{ type: 'tick' as const }] }] };
    expect(await ports.deliverReply(address, tick, t0 + 1, 'k2')).toEqual({ effects: [] });
    expect(await ports.deliverReply(address, tick, t0 + 2, 'k2')).toEqual({ effects: [] });
    // The same job under a new key is a new call: the jobs manager reports the duplicate itself.
    const again = await ports.deliver(address, submit, t0 + 3, 'k3');
    expect(again.flatMap((e) => e.effects)).toEqual([{ type: 'duplicateIgnored', jobId: 'a' }]);
  });
});
