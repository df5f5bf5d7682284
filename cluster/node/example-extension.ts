import type { ExtensionContext, NodeExtension } from './extensions.js';

/**
 * The smallest node extension, as an example and for the runtime's tests: on start it
 * increments `counter/<nodeId>` through the node's ActorProxy (once per node start thanks to
 * its idempotency key) and on stop it logs. Enable it with a manifest entry
 * `{"extensions":[{"name":"example","module":"cluster/node/example-extension.js","export":"start"}]}`.
 */
export async function start(ctx: ExtensionContext): Promise<NodeExtension> {
  const startedAt = Date.now();
  await ctx.proxy.call(
    'counter',
    `extension-${ctx.nodeId}`,
    'increment',
    { by: 1 },
    {
      idempotencyKey: `example-extension-${ctx.nodeId}-${startedAt}`,
    },
  );
  return {
    async stop() {
      ctx.logger.info('example extension stopped');
    },
  };
}
