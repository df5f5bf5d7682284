import type { ServicePorts } from '../../../actors/host/service-ports.js';

/**
 * Ports that let a test kill a driver mid-flight: once armed, the n-th call is committed by
 * the services but its reply is lost, and every later call of that driver fails, as if its
 * process had died there. The services behind keep their state for the next driver.
 */
export class CrashingPorts implements ServicePorts {
  private countdown = Number.POSITIVE_INFINITY;
  private predicate: ((service: string, command: unknown, entries: unknown[]) => boolean) | undefined;
  private dead = false;

  constructor(private readonly inner: ServicePorts) {}

  /** The `calls`-th call from now commits and then the driver is dead. */
  crashAfter(calls: number): void {
    this.countdown = calls;
  }

  /** The first call (with the entries it created) matching `predicate` from now commits and then the driver is dead. */
  crashWhen(predicate: (service: string, command: unknown, entries: unknown[]) => boolean): void {
    this.predicate = predicate;
  }

  get crashed(): boolean {
    return this.dead;
  }

  private check(): void {
    if (this.dead) throw new Error('driver process is dead');
  }

  deliver: ServicePorts['deliver'] = async (address, command, atMs, key) => {
    this.check();
    const entries = await this.inner.deliver(address, command, atMs, key);
    if (--this.countdown <= 0 || this.predicate?.(address.service, command, entries)) this.dead = true;
    this.check();
    return entries;
  };

  outbox: ServicePorts['outbox'] = async (address) => {
    this.check();
    return this.inner.outbox(address);
  };

  state: ServicePorts['state'] = async (address) => {
    this.check();
    return this.inner.state(address);
  };
}
