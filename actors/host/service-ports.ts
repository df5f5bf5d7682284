import type { ActorProxy } from '../../cluster/actors/actor-proxy.js';
import { MeterfabricError } from '../../core/errors.js';
import { packValue, unpackValue } from '../hosting/compact-records.js';
import type { HostedCommand, HostedReply, HostedState, OutboxEntry } from '../hosting/outbox.js';
import {
  type DevicePlan,
  type DevicePlanRead,
  type HeadendServiceName,
  type HostedMachines,
  hostedMachines,
} from '../hosting/services.js';
import { unpackDeviceReply } from './forwarded-readings.js';

/**
 * Where the head-end's services run, one port for all of them: each actor is named by
 * service and key (workers by lower-case job kind, devices and TLog managers by concentrator
 * id, the singletons by the head-end's name), and takes the hosted outbox commands of
 * actors/hosting/outbox.ts. Two implementations: in this process (the same machines in a
 * map: tests, benches) and on the cluster (ActorProxy, each call with the driver's
 * deterministic idempotency key, so a call retried across a failover, or re-sent by a
 * restarted driver, is answered from the actor's dedup table).
 */

type CommandOf<N extends HeadendServiceName> = HostedMachines[N] extends {
  apply(state: never, command: HostedCommand<infer C>, nowMs: number): unknown;
}
  ? C
  : never;
type EffectOf<N extends HeadendServiceName> = HostedMachines[N] extends {
  apply(state: never, command: never, nowMs: number): { effects: OutboxEntry<infer E>[] };
}
  ? E
  : never;
type InnerOf<N extends HeadendServiceName> = HostedMachines[N] extends {
  initialState(key: string): HostedState<infer S, unknown>;
}
  ? S
  : never;

export type ServiceCommand<N extends HeadendServiceName> = CommandOf<N>;
export type ServiceEffect<N extends HeadendServiceName> = EffectOf<N>;
export type ServiceState<N extends HeadendServiceName> = InnerOf<N>;

export type ActorAddress<N extends HeadendServiceName = HeadendServiceName> = { service: N; key: string };

export interface ServicePorts {
  /** One change: returns the outbox entry it created (none when nothing came of it). */
  deliver<N extends HeadendServiceName>(
    address: ActorAddress<N>,
    command: Extract<HostedCommand<ServiceCommand<N>>, { type: 'deliver' }>,
    atMs: number,
    idempotencyKey: string,
  ): Promise<OutboxEntry<ServiceEffect<N>>[]>;
  /** The actor's unacknowledged outbox entries (a read: nothing is persisted). */
  outbox<N extends HeadendServiceName>(address: ActorAddress<N>): Promise<OutboxEntry<ServiceEffect<N>>[]>;
  /** The actor's whole hosted state (a read). */
  state<N extends HeadendServiceName>(
    address: ActorAddress<N>,
  ): Promise<HostedState<ServiceState<N>, ServiceEffect<N>>>;
  /**
   * A device's `plan` read (services.ts `planDevice`: what a request would send now; nothing is
   * persisted). Ports without it leave every device request on the two-call path.
   */
  plan?(address: ActorAddress<'device'>, read: DevicePlanRead): Promise<DevicePlan>;
}

/**
 * The argument of a call as it crosses to the actor: the command packed
 * (actors/hosting/compact-records.ts), which the actor persists as it arrives, so the node's
 * record, the replication traffic and replay all carry the compact form. The actor answers a
 * packed call with `{c: packed reply}`.
 */
export function commandCall(command: HostedCommand<unknown>, atMs: number): { c: unknown; atMs: number } {
  return { c: packValue(command), atMs };
}

/**
 * Hard cap on a delivering call's argument as it is sent and persisted (packed JSON, UTF-8
 * bytes): half the node's 1 MiB payload bound (`maxPayloadBytes`) and 1 MiB persisted-event
 * bound (the event is this argument plus a small stored reference), so no call the driver
 * builds can be refused by the node or fail its persist mid-day. The driver budgets its calls
 * on plain JSON (`maxCallBytes`, which also bounds the plain outbox entry a call makes); a call
 * over this cap is refused here, before it is sent, and ActorLanes splits it.
 */
export const maxPackedCallBytes = 512 * 1024;

/**
 * `commandCall` with its JSON, measured: a `deliver` over `maxPackedCallBytes` throws
 * MF_PAYLOAD_TOO_LARGE (nothing was sent). Returns the JSON too (in-process ports parse it back).
 */
export function measuredCall(
  command: HostedCommand<unknown>,
  atMs: number,
): { call: { c: unknown; atMs: number }; json: string } {
  const call = commandCall(command, atMs);
  const json = JSON.stringify(call);
  if (command.type === 'deliver') {
    const bytes = Buffer.byteLength(json);
    if (bytes > maxPackedCallBytes)
      throw new MeterfabricError(
        'MF_PAYLOAD_TOO_LARGE',
        `a call of ${bytes} packed bytes is over the ${maxPackedCallBytes}-byte cap`,
      );
  }
  return { call, json };
}

/**
 * A reply from the actor: packed (a packed call's), or plain (records written before). A
 * device's `deliver` reply keeps its collected readings packed (`forwardReadings`:
 * forwarded-readings.ts), since the driver passes them on to the worker as they are.
 */
export function replyOf<T>(reply: unknown, forwardReadings = false): T {
  return (
    typeof reply === 'object' && reply !== null && 'c' in reply && !('effects' in reply)
      ? (forwardReadings ? unpackDeviceReply : unpackValue)<T>((reply as { c: unknown }).c)
      : reply
  ) as T;
}

/** Ports options shared by both implementations. */
export type PortsOptions = {
  /**
   * A device's collected readings stay packed from its reply into the worker's call
   * (forwarded-readings.ts; default true). False: unpacked and packed again, as before.
   */
  forwardPackedReadings?: boolean;
};

/**
 * What crosses an actor boundary in this process: packed, copied and unpacked, as the
 * cluster's JSON encoding would (so in-process tests run the same codec).
 */
function crossBoundary<T>(value: T, forwardReadings = false): T {
  const packed = structuredClone(packValue(value));
  return forwardReadings ? unpackDeviceReply<T>(packed) : unpackValue<T>(packed);
}

type AnyHosted = {
  initialState(key: string): HostedState<unknown, unknown>;
  apply(
    state: HostedState<unknown, unknown>,
    command: HostedCommand<unknown>,
    nowMs: number,
  ): { effects: OutboxEntry<unknown>[] };
  read?(state: HostedState<unknown, unknown>, command: HostedCommand<unknown>): unknown;
  storeEffects?(effects: OutboxEntry<unknown>[]): unknown;
  replyFrom?(state: HostedState<unknown, unknown>, stored: unknown): unknown;
};

/**
 * The reply to a retried call from what was stored for it: the same rule as the cluster's
 * actor turn (cluster/actors/actor-turn.ts `dedupReply`, which works on actor behaviours, not
 * on the hosted machines this class runs, so it is not reused here): a machine that stores a
 * reference (`storeEffects`) rebuilds the reply with `replyFrom`; otherwise the reply itself
 * was stored.
 */
function replyFromStored(
  machine: AnyHosted,
  state: HostedState<unknown, unknown>,
  stored: unknown,
): HostedReply<unknown> {
  return (
    machine.storeEffects && machine.replyFrom ? machine.replyFrom(state, stored) : stored
  ) as HostedReply<unknown>;
}

/**
 * The services in this process: the hosted machines' states in a map, a call applied at once
 * (a refused call changes nothing, as on the cluster). Calls may be retried with the same
 * key: the last results per actor are remembered like the actors' dedup table, and the same
 * way: what the machine stores (`storeEffects`: the outbox entry's id, not its effects), the
 * reply to a retry rebuilt from the current state (`replyFrom`), so a retry after the entry
 * was acknowledged gets `{effects: [], acknowledged: [id]}` here as on the cluster.
 */
export class InProcessPorts implements ServicePorts {
  private readonly states = new Map<string, HostedState<unknown, unknown>>();
  private readonly recent = new Map<string, Map<string, unknown>>();

  constructor(private readonly options: PortsOptions = {}) {}

  private forwards(address: ActorAddress): boolean {
    return address.service === 'device' && this.options.forwardPackedReadings !== false;
  }

  private machine(service: HeadendServiceName): AnyHosted {
    return hostedMachines[service] as unknown as AnyHosted;
  }

  private stateOf(address: ActorAddress): HostedState<unknown, unknown> {
    const id = `${address.service}/${address.key}`;
    let state = this.states.get(id);
    if (!state) {
      state = this.machine(address.service).initialState(address.key);
      this.states.set(id, state);
    }
    return state;
  }

  async deliver<N extends HeadendServiceName>(
    address: ActorAddress<N>,
    command: Extract<HostedCommand<ServiceCommand<N>>, { type: 'deliver' }>,
    atMs: number,
    idempotencyKey: string,
  ): Promise<OutboxEntry<ServiceEffect<N>>[]> {
    return (await this.deliverReply(address, command, atMs, idempotencyKey)).effects;
  }

  /** `deliver` with the whole reply, `acknowledged` included (what the cluster's actor answers). */
  async deliverReply<N extends HeadendServiceName>(
    address: ActorAddress<N>,
    command: Extract<HostedCommand<ServiceCommand<N>>, { type: 'deliver' }>,
    atMs: number,
    idempotencyKey: string,
  ): Promise<HostedReply<ServiceEffect<N>>> {
    const id = `${address.service}/${address.key}`;
    const recent = this.recent.get(id) ?? new Map<string, unknown>();
    this.recent.set(id, recent);
    const machine = this.machine(address.service);
    const state = this.stateOf(address);
    if (recent.has(idempotencyKey))
      return crossBoundary(
        replyFromStored(machine, state, recent.get(idempotencyKey)),
        this.forwards(address),
      ) as HostedReply<ServiceEffect<N>>;
    // Commands cross an actor boundary: packed and copied, as on the cluster. The machines
    // validate before they change anything, so no copy of the state is needed.
    // Measured as the cluster's ports measure it (a call over the packed cap is refused).
    const { json } = measuredCall(command, atMs);
    const crossed = unpackValue<HostedCommand<unknown>>((JSON.parse(json) as { c: unknown }).c);
    const { effects } = machine.apply(state, crossed, atMs);
    recent.set(
      idempotencyKey,
      machine.storeEffects && machine.replyFrom ? machine.storeEffects(effects) : { effects },
    );
    if (recent.size > 256) recent.delete(recent.keys().next().value as string);
    return crossBoundary({ effects }, this.forwards(address)) as HostedReply<ServiceEffect<N>>;
  }

  async outbox<N extends HeadendServiceName>(
    address: ActorAddress<N>,
  ): Promise<OutboxEntry<ServiceEffect<N>>[]> {
    return crossBoundary(this.stateOf(address).outbox) as OutboxEntry<ServiceEffect<N>>[];
  }

  async state<N extends HeadendServiceName>(
    address: ActorAddress<N>,
  ): Promise<HostedState<ServiceState<N>, ServiceEffect<N>>> {
    return crossBoundary(this.stateOf(address)) as HostedState<ServiceState<N>, ServiceEffect<N>>;
  }

  async plan(address: ActorAddress<'device'>, read: DevicePlanRead): Promise<DevicePlan> {
    const machine = this.machine('device');
    const state = this.stateOf(address);
    return crossBoundary(machine.read?.(state, crossBoundary(read) as never)) as DevicePlan;
  }
}

/** The services on the cluster: each call through ActorProxy (routing, retries, dedup by key). */
export class ActorProxyPorts implements ServicePorts {
  constructor(
    private readonly proxy: ActorProxy,
    private readonly options: { deadlineMs?: number } & PortsOptions = {},
  ) {}

  private async call<T>(address: ActorAddress, command: HostedCommand<unknown>, atMs: number, key?: string) {
    // The JSON measured against the packed cap is what is sent (not stringified again).
    const { call, json } = measuredCall(command, atMs);
    const reply = await this.proxy.call<unknown>(address.service, address.key, 'command', call, {
      payloadJson: json,
      ...(key !== undefined ? { idempotencyKey: key } : {}),
      ...(this.options.deadlineMs !== undefined ? { deadlineMs: this.options.deadlineMs } : {}),
    });
    return replyOf<T>(
      reply,
      command.type === 'deliver' &&
        address.service === 'device' &&
        this.options.forwardPackedReadings !== false,
    );
  }

  async deliver<N extends HeadendServiceName>(
    address: ActorAddress<N>,
    command: Extract<HostedCommand<ServiceCommand<N>>, { type: 'deliver' }>,
    atMs: number,
    idempotencyKey: string,
  ): Promise<OutboxEntry<ServiceEffect<N>>[]> {
    const reply = await this.call<{ effects: OutboxEntry<ServiceEffect<N>>[] }>(
      address,
      command,
      atMs,
      idempotencyKey,
    );
    return reply.effects;
  }

  outbox<N extends HeadendServiceName>(address: ActorAddress<N>): Promise<OutboxEntry<ServiceEffect<N>>[]> {
    return this.call(address, { type: 'outbox' }, 0);
  }

  state<N extends HeadendServiceName>(
    address: ActorAddress<N>,
  ): Promise<HostedState<ServiceState<N>, ServiceEffect<N>>> {
    return this.call(address, { type: 'state' }, 0);
  }

  plan(address: ActorAddress<'device'>, read: DevicePlanRead): Promise<DevicePlan> {
    // A read: answered by the device's primary without a commit (command-actor.ts `isRead`).
    return this.call(address, read as unknown as HostedCommand<unknown>, 0);
  }
}
