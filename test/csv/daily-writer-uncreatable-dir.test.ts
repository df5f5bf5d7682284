import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * A real caller of makeDirectory end to end: DailyCsvWriter.open on a directory that cannot be
 * created rejects with the typed error at once. With Node's `mkdir(dir, { recursive: true })`
 * it never settled (a loop at 100% CPU in the thread pool), so it runs in a child with a
 * timeout. Needs dist/ (npm test builds first).
 */
describe('DailyCsvWriter on a directory that cannot be created', () => {
  const child = join(import.meta.dirname, 'support', 'open-writer-child.mjs');

  it.runIf(existsSync('/proc/self'))(
    'open() rejects with MF_DIRECTORY_UNCREATABLE for a dir under /proc, within seconds',
    () => {
      const r = spawnSync(process.execPath, [child, '/proc/mf-nope/csv'], {
        encoding: 'utf8',
        timeout: 8_000,
        killSignal: 'SIGKILL',
      });
      expect(r.signal, `writer child killed by the timeout (open() hung); stderr: ${r.stderr}`).toBeNull();
      expect(r.status).toBe(0);
      const result = JSON.parse(r.stdout) as { ok: boolean; code?: string; message?: string };
      expect(result.code).toBe('MF_DIRECTORY_UNCREATABLE');
      expect(result.message).toContain('/proc/mf-nope/csv');
    },
  );
});
