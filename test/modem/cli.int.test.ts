import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fleetImei } from '../../adapters/modem/simulator/fleet.js';
import { SimulatedModem } from '../../adapters/modem/simulator/modem.js';
import { systemClock } from '../../core/clock.js';
import { packageRoot } from '../../core/paths.js';
import { freePort } from '../support/ports.js';
import { dialIn, startLoopbackCollector, type TestCollector, tempDir } from './support.js';

const run = promisify(execFile);
const bin = join(packageRoot, 'bin', 'meterfabric.js');

/** Runs the built CLI (npm test builds dist/ first); resolves with exit code and output. */
async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [bin, ...args], {
      env: { ...process.env, MF_LOG_LEVEL: 'warn' },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('meterfabric modems / iec62056 CLI', () => {
  const dir = tempDir();
  const data = join(dir.path, 'registry');

  it('imports a CSV, lists and shows modems as JSON, exports CSV, and refuses a bad file with exit 1', async () => {
    const csv = join(dir.path, 'modems.csv');
    writeFileSync(csv, `imei;organization;port\n${fleetImei(1)};water;41001\n${fleetImei(2)};gas;\n`);
    const imported = await cli('modems', 'import', csv, '--data', data, '--ports', '41000-41010');
    expect(imported).toMatchObject({ code: 0 });
    expect(imported.stdout).toMatch(/^imported 2 modems/);

    const list = await cli('modems', 'list', '--json', '--data', data);
    expect(JSON.parse(list.stdout).map((m: { imei: string; port: number }) => [m.imei, m.port])).toEqual([
      [fleetImei(1), 41001],
      [fleetImei(2), 41000],
    ]);
    const show = await cli('modems', 'show', fleetImei(2), '--json', '--data', data);
    expect(JSON.parse(show.stdout)).toMatchObject({ imei: fleetImei(2), organization: 'gas', online: false });
    const missing = await cli('modems', 'show', fleetImei(3), '--data', data);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no modem with IMEI/);

    const exported = await cli('modems', 'export', '--data', data);
    expect(exported.stdout.split('\n')[2]).toMatch(new RegExp(`^${fleetImei(2)};gas;41000;no;`));

    const bad = join(dir.path, 'bad.csv');
    writeFileSync(bad, `imei;organization\n${fleetImei(4)};x\n123;x\n`);
    const refused = await cli('modems', 'import', bad, '--data', data, '--ports', '41000-41010');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/line 3: IMEI "123" must be 15 digits \[MF_MODEM_IMPORT_INVALID\]/);
    const after = await cli('modems', 'list', '--json', '--data', data);
    expect(JSON.parse(after.stdout)).toHaveLength(2);
  });

  it('creates an organization with client ranges and servers, and refuses a malformed range with exit 2 (a configuration error), nothing stored', async () => {
    const saved = await cli(
      'modems',
      'org',
      'water',
      '--allow',
      '10.0.0.0/8,192.0.2.1',
      '--main',
      '203.0.113.5:7700',
      '--backup',
      '203.0.113.6:7700',
      '--data',
      data,
    );
    expect(saved).toMatchObject({ code: 0, stdout: 'organization water saved\n' });
    const orgs = await cli('modems', 'orgs', '--json', '--data', data);
    expect(JSON.parse(orgs.stdout)).toContainEqual({
      id: 'water',
      name: 'water',
      allowedClients: ['10.0.0.0/8', '192.0.2.1'],
      mainServer: '203.0.113.5:7700',
      backupServer: '203.0.113.6:7700',
    });
    const bad = await cli('modems', 'org', 'water', '--allow', '10.0.0.0/40', '--data', data);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(
      /organization water: "10\.0\.0\.0\/40" is not an IPv4\/IPv6 address or CIDR range/,
    );
    const after = await cli('modems', 'orgs', '--json', '--data', data);
    expect(JSON.parse(after.stdout).find((o: { id: string }) => o.id === 'water').allowedClients).toEqual([
      '10.0.0.0/8',
      '192.0.2.1',
    ]);
  });

  describe('iec62056 read', () => {
    let node: TestCollector;
    let modem: SimulatedModem;
    let port: number;
    const collectorDir = tempDir();
    beforeAll(async () => {
      node = await startLoopbackCollector(collectorDir.path, 3);
      const modemPort = node.collector.modemPort;
      modem = new SimulatedModem({
        imei: fleetImei(7),
        servers: [{ host: '127.0.0.1', port: modemPort }],
        clock: systemClock,
        meterSerial: '77777777',
        seed: 7,
      });
      port = (await dialIn(node.collector, modem)).port;
    });
    afterAll(async () => {
      await modem.stop();
      await node.stop();
      collectorDir.remove();
      dir.remove();
    });

    it('reads the meter through the bridge port and prints its registers as JSON', async () => {
      const out = await cli('iec62056', 'read', `127.0.0.1:${port}`, '--json');
      expect(out.code).toBe(0);
      const readout = JSON.parse(out.stdout);
      expect(readout.meterSerial).toBe('77777777');
      const total = readout.registers.find((r: { obis: string }) => r.obis === '1.8.0');
      expect(total.unit).toBe('kWh');
      expect(total.value).toBeGreaterThan(0);
      expect(readout.readingTypes['1.8.0']).toBe('0.0.0.1.1.1.12.0.0.0.0.0.0.0.0.3.72.0');
    });

    it('fails with exit 1 and a clear message when nothing listens', async () => {
      const closed = await freePort();
      const out = await cli('iec62056', 'read', `127.0.0.1:${closed}`);
      expect(out.code).toBe(1);
      expect(out.stderr).toMatch(/cannot read 127\.0\.0\.1:\d+: connect ECONNREFUSED/);
    });
  });
});
