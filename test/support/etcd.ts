import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type EtcdHandle, startEtcd } from '../../cluster/etcd/launcher.js';
import { freePorts } from './ports.js';

export type TestEtcd = EtcdHandle & { dataDir: string; cleanup(): Promise<void> };

/** A fresh etcd on free loopback ports, in a temp dir; cleanup() stops it by PID and removes its data. */
export async function startTestEtcd(): Promise<TestEtcd> {
  const [clientPort, peerPort] = await freePorts(2);
  const base = mkdtempSync(join(tmpdir(), 'mf-etcd-'));
  const dataDir = join(base, 'etcd');
  const handle = await startEtcd({ dataDir, clientPort: clientPort!, peerPort: peerPort! });
  return {
    ...handle,
    dataDir,
    async cleanup() {
      await handle.stop();
      rmSync(base, { recursive: true, force: true });
    },
  };
}
