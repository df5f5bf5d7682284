import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import { ModemCollector } from './collector/collector.js';
import type { NotificationChannel } from './notifications/channels.js';
import { ModemNotifier } from './notifications/notifier.js';
import { LevelModemStore } from './registry/level-store.js';
import type { PortRange } from './registry/types.js';
import { ModemFleet } from './simulator/fleet.js';

export type ModemSiteOptions = {
  nodeId: string;
  dataDir: string;
  modemListen: { host: string; port: number };
  bridgeHost: string;
  portRange: PortRange;
  simulatedModems: number;
  clock: Clock;
  logger: Logger;
  channels?: NotificationChannel[];
};

/**
 * A single-node collector with a simulated modem fleet dialling it: what `meterfabric up`
 * (npm start) can run for the demo. Returns a stop function that closes everything it started.
 */
export async function startModemSite(options: ModemSiteOptions): Promise<{
  collector: ModemCollector;
  fleet: ModemFleet;
  stop(): Promise<void>;
}> {
  const store = await LevelModemStore.open(options.dataDir);
  const collector = new ModemCollector({
    config: {
      nodeId: options.nodeId,
      modemListen: options.modemListen,
      bridgeHost: options.bridgeHost,
      portRange: options.portRange,
    },
    store,
    clock: options.clock,
    logger: options.logger,
  });
  await collector.start();
  const notifier = options.channels?.length
    ? new ModemNotifier({
        collector,
        channels: options.channels,
        clock: options.clock,
        logger: options.logger,
      })
    : null;
  const fleet = new ModemFleet({
    count: options.simulatedModems,
    servers: [{ host: options.modemListen.host, port: collector.modemPort }],
    clock: options.clock,
  });
  fleet.start();
  return {
    collector,
    fleet,
    async stop() {
      notifier?.stop();
      await fleet.stop();
      await collector.stop();
      await store.close();
    },
  };
}
