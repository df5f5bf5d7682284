import type { EventEmitter } from 'node:events';
import type { Logger } from '../../core/logger.js';
import { advertisedFormat, clusterWriteFormat, persistedFormats } from '../format/persisted-format.js';
import type { NodeRecord } from './membership.js';

/**
 * The cluster's persisted write format as this node sees it: the lowest format every live
 * registered node reads, recomputed on each membership change ('nodes'). It starts at format 1
 * (before the first membership read nothing is known, and format 1 every build reads). A node
 * whose lease expires drops out of the registrations, so once the last old node is gone the
 * new form switches on; an old node joining switches it back off for the writes after it.
 */
export class WriteFormatWatch {
  private format: number = persistedFormats.plain;
  private readonly onNodes = (nodes: ReadonlyMap<string, NodeRecord>): void => this.update(nodes);

  constructor(
    private readonly membership: EventEmitter,
    private readonly logger: Logger,
  ) {
    membership.on('nodes', this.onNodes);
  }

  get current(): number {
    return this.format;
  }

  private update(nodes: ReadonlyMap<string, NodeRecord>): void {
    const next = clusterWriteFormat(nodes.values());
    if (next === this.format) return;
    // The nodes holding the format where it is (all of them once every node reads the new one).
    const lowest = [...nodes.values()].filter((n) => advertisedFormat(n) === next).map((n) => n.id);
    this.logger.info(
      { from: this.format, to: next, lowestNodes: lowest },
      'cluster persisted write format changed',
    );
    this.format = next;
  }

  close(): void {
    this.membership.off('nodes', this.onNodes);
  }
}
