import type { FieldLink, FieldRequest } from '../device/field.js';
import type { DeviceCommand } from '../device/state.js';

/**
 * A head-end host's field exchanges under way (HeadendDriver's and LocalHeadend's): a device
 * request run on its concentrator's field link (the host holds the links: a connection belongs
 * to one process, and a device actor must not do I/O in its decision), its outcome turned into
 * the device command that answers it (`fieldResponse`, or `fieldFailure` with the reason),
 * handed to `answer`.
 */
export class FieldExchanges {
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly fieldLink: (concentratorId: string) => FieldLink | undefined) {}

  /** Exchanges under way (the driver's settle waits for them). */
  get underWay(): readonly Promise<void>[] {
    return [...this.pending];
  }

  get size(): number {
    return this.pending.size;
  }

  run(
    concentratorId: string,
    requestId: string,
    request: FieldRequest,
    answer: (command: DeviceCommand) => void,
  ): void {
    const exchange: Promise<void> = this.exchange(concentratorId, requestId, request).then(answer);
    const tracked = exchange.finally(() => this.pending.delete(tracked));
    this.pending.add(tracked);
  }

  /**
   * One exchange, resolved with the device command that answers it (never rejected: a failed
   * exchange is a `fieldFailure` with the reason). Not tracked here: the caller waits for it.
   */
  exchange(concentratorId: string, requestId: string, request: FieldRequest): Promise<DeviceCommand> {
    const link = this.fieldLink(concentratorId);
    if (!link)
      return Promise.resolve({ type: 'fieldFailure', requestId, reason: 'no field link configured' });
    return link.execute(request).then(
      (response): DeviceCommand => ({ type: 'fieldResponse', requestId, response }),
      (err: unknown): DeviceCommand => ({
        type: 'fieldFailure',
        requestId,
        reason: err instanceof Error ? err.message : String(err),
      }),
    );
  }
}
