import type { ServicePorts } from '../../../actors/host/service-ports.js';
import type { DevicePlanRead } from '../../../actors/hosting/services.js';
import { planOf } from './counting-ports.js';

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

  plan: NonNullable<ServicePorts['plan']> = async (address, read) => {
    this.check();
    const plan = await planOf(this.inner)(address, read);
    if (this.dieAfterPlan && plan.type === 'send') {
      // Answered: the driver runs the exchange, and its write (every later call) fails.
      this.dieAfterPlan = false;
      this.dead = true;
      this.crashedPlan = { address, read };
    }
    return plan;
  };

  private dieAfterPlan = false;
  /** The plan read answered just before the driver died (`crashAfterPlan`). */
  crashedPlan: { address: Parameters<ServicePorts['deliver']>[0]; read: DevicePlanRead } | undefined;

  /** The next device plan answering `send` is the driver's last act: its exchange runs, its write is never made. */
  crashAfterPlan(): void {
    this.dieAfterPlan = true;
  }
}

/**
 * Ports whose every call waits a seeded random 0-3 ms first, so calls to different actors
 * complete out of order as they do on a cluster (the in-process services alone answer in
 * the order they were called).
 */
export class JitteryPorts implements ServicePorts {
  private state32: number;

  constructor(
    private readonly inner: ServicePorts,
    seed = 1,
  ) {
    this.state32 = seed >>> 0 || 1;
  }

  private delay(): Promise<void> {
    // xorshift32: reproducible orderings per seed.
    this.state32 ^= this.state32 << 13;
    this.state32 ^= this.state32 >>> 17;
    this.state32 ^= this.state32 << 5;
    const ms = (this.state32 >>> 0) % 4;
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  deliver: ServicePorts['deliver'] = async (address, command, atMs, key) => {
    await this.delay();
    return this.inner.deliver(address, command, atMs, key);
  };

  outbox: ServicePorts['outbox'] = async (address) => {
    await this.delay();
    return this.inner.outbox(address);
  };

  state: ServicePorts['state'] = async (address) => {
    await this.delay();
    return this.inner.state(address);
  };

  plan: NonNullable<ServicePorts['plan']> = async (address, read) => {
    await this.delay();
    return planOf(this.inner)(address, read);
  };
}
