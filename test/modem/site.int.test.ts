import { describe, expect, it } from 'vitest';
import { readMeter } from '../../adapters/modem/iec62056/reader.js';
import { startModemSite } from '../../adapters/modem/site.js';
import { systemClock } from '../../core/clock.js';
import { silentLogger } from '../../core/logger.js';
import { waitFor } from '../support/wait.js';
import { dial, freePortRange, tempDir } from './support.js';

describe('startModemSite (the npm start demo piece)', () => {
  it('starts a collector with a simulated fleet that dials in, and stops everything it started', async () => {
    const dir = tempDir();
    const site = await startModemSite({
      nodeId: 'demo',
      dataDir: dir.path,
      modemListen: { host: '127.0.0.1', port: 0 },
      bridgeHost: '127.0.0.1',
      portRange: await freePortRange(5),
      simulatedModems: 3,
      clock: systemClock,
      logger: silentLogger,
    });
    try {
      await waitFor(() => site.collector.sessionCount === 3, 'three modems online', 10_000);
      const record = await site.collector.store.get(site.fleet.modems[1]!.imei);
      const poller = await dial(record!.port);
      const readout = await readMeter(poller, { stepTimeoutMs: 3000 });
      poller.destroy();
      expect(readout.meterSerial).toBe(site.fleet.modems[1]!.meter.serial);
    } finally {
      await site.stop();
      dir.remove();
    }
    expect(site.collector.sessionCount).toBe(0);
  });
});
