import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type EtcdHandle, startEtcdOnFreePorts } from '../../cluster/etcd/launcher.js';
import { isMeterfabricError, MeterfabricError } from '../../core/errors.js';
import { freePorts } from './ports.js';

export type TestEtcd = EtcdHandle & { dataDir: string; cleanup(): Promise<void> };

/**
 * A fresh etcd on free loopback ports (picked again if another process takes one first), in a
 * temp dir; cleanup() stops it by PID and removes its data.
 */
export async function startTestEtcd(): Promise<TestEtcd> {
  const base = mkdtempSync(join(tmpdir(), 'mf-etcd-'));
  const dataDir = join(base, 'etcd');
  try {
    const handle = await startEtcdOnFreePorts({ dataDir, freePorts });
    return {
      ...handle,
      dataDir,
      async cleanup() {
        await handle.stop();
        rmSync(base, { recursive: true, force: true });
      },
    };
  } catch (err) {
    let tail = '';
    try {
      tail = readFileSync(`${dataDir}.log`, 'utf8').trimEnd().split('\n').slice(-10).join('\n');
    } catch {
      // no log
    }
    rmSync(base, { recursive: true, force: true });
    if (!isMeterfabricError(err)) throw err;
    // The log goes with the temp dir: keep its tail in the error.
    throw new MeterfabricError(err.code, `${err.message}; its log ends:\n${tail}`);
  }
}
