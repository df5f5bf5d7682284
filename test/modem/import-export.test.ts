import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ExcelJS from 'exceljs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  modemsToCsv,
  parseModemCsv,
  readModemFile,
  rowsToImports,
} from '../../adapters/modem/registry/import-export.js';
import { LevelModemStore } from '../../adapters/modem/registry/level-store.js';
import { fleetImei } from '../../adapters/modem/simulator/fleet.js';
import { tempDir } from './support.js';

const range = { first: 41000, last: 41009 };

describe('modem registry import and export', () => {
  let dir: ReturnType<typeof tempDir>;
  let store: LevelModemStore;
  beforeEach(async () => {
    dir = tempDir();
    store = await LevelModemStore.open(join(dir.path, 'db'));
  });
  afterEach(async () => {
    await store.close();
    dir.remove();
  });

  it('imports a semicolon CSV, assigns free ports, honours given ones, and exports it back', async () => {
    const csv = `IMEI;Organization;Port;ICCID;Note\n${fleetImei(1)};water;41005;8970101234567890123;pump house\n${fleetImei(2)};water;;;\n`;
    const path = join(dir.path, 'modems.csv');
    writeFileSync(path, csv);
    await store.importModems(await readModemFile(path), range, 1000);
    expect(await store.get(fleetImei(1))).toMatchObject({
      port: 41005,
      iccid: '8970101234567890123',
      note: 'pump house',
    });
    expect((await store.get(fleetImei(2)))?.port).toBe(41000);
    expect((await store.byPort(41005))?.imei).toBe(fleetImei(1));

    const exported = modemsToCsv(await store.list());
    expect(exported.split('\n')[0]).toBe(
      'imei;organization;port;online;iccid;signalCsq;firmware;gpi;connectedSince;lastSeen;bytesFromModem;bytesToModem;note',
    );
    // The export is importable as is (ports unchanged), so a registry can be moved between servers.
    const again = rowsToImports(parseModemCsv(exported));
    await store.importModems(again, range, 2000);
    expect((await store.list()).map((r) => [r.imei, r.port])).toEqual([
      [fleetImei(1), 41005],
      [fleetImei(2), 41000],
    ]);
  });

  it('imports the modems of an Excel workbook (numbers and text cells)', async () => {
    const workbook = new ExcelJS.Workbook();
    const sheet = workbook.addWorksheet('Modems');
    sheet.addRow(['IMEI', 'Organization', 'Firmware']);
    sheet.addRow([Number(fleetImei(3)), 'gas', 'ATM3-2.1']);
    sheet.addRow([fleetImei(4), 'gas', '']);
    const path = join(dir.path, 'modems.xlsx');
    await workbook.xlsx.writeFile(path);
    const rows = await readModemFile(path);
    expect(rows).toEqual([
      { imei: fleetImei(3), organization: 'gas', firmware: 'ATM3-2.1' },
      { imei: fleetImei(4), organization: 'gas' },
    ]);
    await store.importModems(rows, range, 0);
    expect((await store.list()).map((r) => r.organization)).toEqual(['gas', 'gas']);
  });

  it('refuses a file with bad rows as a whole, names each bad line, and stores nothing', async () => {
    await store.importModems([{ imei: fleetImei(9), organization: 'x' }], range, 0);
    const before = await store.list();
    const csv = `imei,organization\n${fleetImei(5)},x\n12345,x\n${fleetImei(6)},\n`;
    expect(() => rowsToImports(parseModemCsv(csv))).toThrow(
      /line 3: IMEI "12345" must be 15 digits[\s\S]*line 4: organization is empty/,
    );
    // Luhn failure and a port that belongs to another modem are caught by the store, atomically.
    const bad = [
      { imei: fleetImei(5), organization: 'x' },
      { imei: '490154203237519', organization: 'x' },
      { imei: fleetImei(7), organization: 'x', port: 41000 },
    ];
    await expect(store.importModems(bad, range, 0)).rejects.toMatchObject({
      code: 'MF_MODEM_IMPORT_INVALID',
      message: expect.stringMatching(/row 2 .*Luhn[\s\S]*row 3 .*port 41000 belongs to IMEI/),
    });
    expect(await store.list()).toEqual(before);
    expect(await store.get(fleetImei(5))).toBeUndefined();
  });

  it('keeps a known modem on its port: an import cannot move it', async () => {
    await store.register(fleetImei(1), 'x', range, 0);
    await expect(
      store.importModems([{ imei: fleetImei(1), organization: 'x', port: 41003 }], range, 0),
    ).rejects.toThrow(/already registered on port 41000; ports never move/);
  });

  it('reports an exhausted port range instead of reusing a port', async () => {
    const tiny = { first: 41000, last: 41001 };
    await store.register(fleetImei(1), 'x', tiny, 0);
    await store.register(fleetImei(2), 'x', tiny, 0);
    await expect(store.register(fleetImei(3), 'x', tiny, 0)).rejects.toMatchObject({
      code: 'MF_MODEM_PORT_RANGE_EXHAUSTED',
    });
  });
});
