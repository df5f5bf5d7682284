import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../core/paths.js';
import { waitFor } from '../support/wait.js';
import { meterfabricBin, startUp } from './support/up-process.js';

/**
 * The README's main job (`npm start` = `meterfabric up`): etcd + three nodes + the head-end
 * demo, with every head-end service running as the cluster's replicated actors (the `up`
 * process only drives the field and writes the files), one simulated day, CSV and CIM under
 * the output directory. A small fleet keeps it quick; the day itself runs
 * at 1440x, about a minute. Needs dist/ (npm test builds first).
 */
const validate = join(packageRoot, '..', 'shared', 'cim-xsd', 'validate.sh');

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));
}

describe('npm start (meterfabric up with the head-end demo)', () => {
  it('runs a simulated day on a three-node cluster, writes CSV and schema-valid CIM, and Ctrl-C stops everything', {
    timeout: 420_000,
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mf-npm-start-'));
    const outDir = join(dir, 'out');
    const up = await startUp(dir, [], {
      MF_DEMO_OUT: outDir,
      MF_DEMO_CONCENTRATORS: '4',
      MF_DEMO_METERS: '3',
    });
    const out = up.output;
    const etcdPort = up.etcdPort;
    try {
      await waitFor(
        () => out().includes('demo finished') || out().includes('demo failed'),
        'the demo day',
        360_000,
        500,
      );
      expect(out()).not.toContain('demo failed');
      expect(out()).toMatch(/jobs: +\d+ succeeded, 0 failed/);

      const files = filesUnder(outDir);
      const loadProfiles = files.filter((f) => /[/]pload[/]S_\d{4}-\d{2}-\d{2}_n1\.csv$/.test(f));
      expect(loadProfiles.length).toBeGreaterThan(0);
      const rows = loadProfiles.flatMap((f) => readFileSync(f, 'utf8').trim().split('\n').slice(1));
      // 4 concentrators x 3 meters x 24 hourly values.
      expect(rows.length).toBe(4 * 3 * 24);
      expect(readFileSync(loadProfiles[0]!, 'utf8').split('\n')[0]).toBe(
        'serialnumber;pod;value;state;cimcode;sampledate',
      );
      expect(files.some((f) => /[/]reading[/]DC_/.test(f))).toBe(true);

      const messages = files.filter((f) => f.endsWith('.xml'));
      expect(messages.some((f) => f.includes('MeterReadings'))).toBe(true);
      for (const message of messages.slice(0, 5)) {
        const result = spawnSync('bash', [validate, message], { encoding: 'utf8' });
        expect(result.status, `${message}: ${result.stdout}${result.stderr}`).toBe(0);
      }

      // Every head-end service wrote its state through the cluster's replication.
      const status = spawnSync(
        process.execPath,
        [meterfabricBin, 'status', '--json', '--etcd', `127.0.0.1:${etcdPort}`],
        { encoding: 'utf8', timeout: 60_000 },
      );
      const report = JSON.parse(status.stdout) as {
        partitions: {
          partition: string;
          primary: string | null;
          progress: Record<string, { committedLsn: number }>;
        }[];
      };
      const committed = (prefix: string) =>
        report.partitions
          .filter((p) => p.partition.startsWith(prefix))
          .reduce((sum, p) => sum + (p.primary ? (p.progress[p.primary]?.committedLsn ?? 0) : 0), 0);
      for (const service of [
        'registry/',
        'work-manager/',
        'jobs-manager/',
        'worker/',
        'device/',
        'tlog-manager/',
        'integration/',
      ])
        expect(committed(service), service).toBeGreaterThan(0);

      const pids = up.pids();
      expect(pids).toHaveLength(4); // etcd + three nodes
      up.child.kill('SIGINT');
      expect(await up.exited).toBe(0);
      for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
    } finally {
      up.killAll();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
