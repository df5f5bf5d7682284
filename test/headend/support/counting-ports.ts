import type { ServicePorts } from '../../../actors/host/service-ports.js';

/**
 * Ports that count the driver's calls per service over the real ones behind (here
 * InProcessPorts): each call classified by what it carries, so a test can show which calls
 * a change removed. `requests` counts the distinct device requests (job + attempt) asked for.
 */
export type CallKinds = {
  calls: number;
  /** Calls whose deliveries are all device field answers (fieldResponse / fieldFailure). */
  fieldAnswers: number;
  /** Calls carrying acknowledgements and nothing else (no delivery, no tick). */
  acksAlone: number;
  /** Calls carrying at least one acknowledgement. */
  withAcks: number;
};

export class CountingPorts implements ServicePorts {
  readonly byService = new Map<string, CallKinds>();
  private readonly requestIds = new Set<string>();

  constructor(private readonly inner: ServicePorts) {}

  get requests(): number {
    return this.requestIds.size;
  }

  of(service: string): CallKinds {
    return this.byService.get(service) ?? { calls: 0, fieldAnswers: 0, acksAlone: 0, withAcks: 0 };
  }

  get total(): number {
    let calls = 0;
    for (const kinds of this.byService.values()) calls += kinds.calls;
    return calls;
  }

  deliver: ServicePorts['deliver'] = async (address, command, atMs, key) => {
    const kinds = this.of(address.service);
    const commands = command.deliveries.flatMap((d) => d.commands as { type: string }[]);
    kinds.calls++;
    if (commands.length > 0 && commands.every((c) => c.type === 'fieldResponse' || c.type === 'fieldFailure'))
      kinds.fieldAnswers++;
    if ((command.ack?.length ?? 0) > 0) {
      kinds.withAcks++;
      if (commands.length === 0 && !command.tick) kinds.acksAlone++;
    }
    for (const c of commands as { type: string; job?: { id: string }; attempt?: number }[])
      if (c.type === 'request' && c.job) this.requestIds.add(`${c.job.id}@${c.attempt}`);
    this.byService.set(address.service, kinds);
    return this.inner.deliver(address, command, atMs, key);
  };
  outbox: ServicePorts['outbox'] = (address) => this.inner.outbox(address);
  state: ServicePorts['state'] = (address) => this.inner.state(address);
  /** Device `plan` reads (not calls: nothing is persisted). */
  plans = 0;
  plan: NonNullable<ServicePorts['plan']> = (address, read) => {
    this.plans++;
    return planOf(this.inner)(address, read);
  };
}

/** The inner ports' `plan` (the ports these tests wrap all have one). */
export function planOf(inner: ServicePorts): NonNullable<ServicePorts['plan']> {
  const plan = inner.plan;
  if (!plan) throw new Error('the wrapped ports have no plan read');
  return (address, read) => plan.call(inner, address, read);
}
