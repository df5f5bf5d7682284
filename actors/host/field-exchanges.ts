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
    const link = this.fieldLink(concentratorId);
    const exchange: Promise<void> = (
      link
        ? link.execute(request).then(
            (response) => answer({ type: 'fieldResponse', requestId, response }),
            (err: unknown) =>
              answer({
                type: 'fieldFailure',
                requestId,
                reason: err instanceof Error ? err.message : String(err),
              }),
          )
        : Promise.resolve().then(() =>
            answer({ type: 'fieldFailure', requestId, reason: 'no field link configured' }),
          )
    ).finally(() => this.pending.delete(exchange));
    this.pending.add(exchange);
  }
}
