import { readdirSync, readlinkSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { etcdHealthy } from '../../cluster/etcd/launcher.js';
import { startTestEtcd } from '../support/etcd.js';

/** This process's open descriptors that point at `path` (Linux /proc). */
function descriptorsOn(path: string): number {
  let count = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) === path) count++;
    } catch {
      // closed while listing (the listing's own descriptor)
    }
  }
  return count;
}

describe('startEtcd and its log file', () => {
  it('keeps no descriptor of the log open in the starting process: etcd has its own copy', {
    timeout: 60_000,
  }, async () => {
    const etcd = await startTestEtcd();
    try {
      expect(await etcdHealthy(etcd.endpoint)).toBe(true);
      expect(descriptorsOn(`${etcd.dataDir}.log`)).toBe(0);
    } finally {
      await etcd.cleanup();
    }
  });
});
