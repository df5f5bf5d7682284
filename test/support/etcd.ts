import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type EtcdHandle, startEtcd } from '../../cluster/etcd/launcher.js';
import { isMeterfabricError, MeterfabricError } from '../../core/errors.js';
import { freePorts } from './ports.js';

export type TestEtcd = EtcdHandle & { dataDir: string; cleanup(): Promise<void> };

/**
 * Fresh attempts when etcd lost the race for its ports: etcd cannot bind port 0 and report
 * it, so its two ports are picked here, and another process may take one first.
 */
const maxStartAttempts = 3;

/** A fresh etcd on free loopback ports, in a temp dir; cleanup() stops it by PID and removes its data. */
export async function startTestEtcd(): Promise<TestEtcd> {
  for (let attempt = 1; ; attempt++) {
    const [clientPort, peerPort] = await freePorts(2);
    const base = mkdtempSync(join(tmpdir(), 'mf-etcd-'));
    const dataDir = join(base, 'etcd');
    try {
      const handle = await startEtcd({ dataDir, clientPort: clientPort!, peerPort: peerPort! });
      return {
        ...handle,
        dataDir,
        async cleanup() {
          await handle.stop();
          rmSync(base, { recursive: true, force: true });
        },
      };
    } catch (err) {
      const log = existsSync(`${dataDir}.log`) ? readFileSync(`${dataDir}.log`, 'utf8') : '';
      rmSync(base, { recursive: true, force: true });
      const portTaken =
        isMeterfabricError(err) &&
        (err.code === 'MF_ETCD_PORT_TAKEN' ||
          (err.code === 'MF_ETCD_START' && /address already in use/.test(log)));
      if (portTaken && attempt < maxStartAttempts) continue;
      if (!isMeterfabricError(err)) throw err;
      // The log goes with the temp dir: keep its tail in the error.
      const tail = log.trimEnd().split('\n').slice(-10).join('\n');
      throw new MeterfabricError(err.code, `${err.message} (attempt ${attempt}); its log ends:\n${tail}`);
    }
  }
}
