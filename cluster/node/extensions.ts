import { MeterfabricError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { distPath } from '../../core/paths.js';
import type { ActorProxy } from '../actors/actor-proxy.js';
import type { ExtensionSpec } from '../config/manifest.js';
import type { NodeConfig } from '../config/node-config.js';
import type { PartitionId } from '../replicator/contract.js';

/**
 * Node extensions: code the head-end (or any service) runs inside every node next to its
 * actors — a public API, a bridge, a stream consumer — declared in a manifest's
 * `extensions` and started after the node joined. They reach actors through `proxy`.
 */
export type ExtensionContext = {
  nodeId: string;
  config: NodeConfig;
  proxy: ActorProxy;
  logger: Logger;
  /** True while this node is the primary of `partition` (e.g. run a singleton's side job only there). */
  isPrimary(partition: PartitionId): boolean;
};

export type NodeExtension = { stop(): Promise<void> };
export type ExtensionStart = (ctx: ExtensionContext) => Promise<NodeExtension>;
/** A started extension and its manifest name (the node's stop log names a stop that hung). */
export type StartedExtension = { name: string; extension: NodeExtension };

export async function startExtensions(
  specs: readonly ExtensionSpec[],
  ctx: Omit<ExtensionContext, 'logger'> & { logger: Logger },
): Promise<StartedExtension[]> {
  const started: StartedExtension[] = [];
  for (const spec of specs) {
    const module = (await import(distPath(spec.module))) as Record<string, unknown>;
    const start = module[spec.export];
    if (typeof start !== 'function') {
      throw new MeterfabricError(
        'MF_CONFIG_INVALID',
        `extension ${spec.name}: ${spec.module} exports no function "${spec.export}"`,
      );
    }
    const extension = await (start as ExtensionStart)({
      ...ctx,
      logger: ctx.logger.child({ extension: spec.name }),
    });
    started.push({ name: spec.name, extension });
    ctx.logger.info({ extension: spec.name }, 'extension started');
  }
  return started;
}
