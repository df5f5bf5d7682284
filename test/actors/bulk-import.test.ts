import { describe, expect, it } from 'vitest';
import {
  applyImport,
  concentratorImportCommands,
  meterImportCommands,
} from '../../actors/registry/bulk-import.js';
import { usagePointAt } from '../../actors/registry/queries.js';
import { emptyRegistry } from '../../actors/registry/types.js';

const t0 = Date.UTC(2026, 0, 1);
const concentrators = `id;type;serial;substation;transformer;timezone;communicationtype;address;modemimei
TD-105525;DC450;DC0001;SUB-1;TR-1;Europe/Rome;gprs;10.0.0.1:4001;356938035643809
TD-105526;DC450;DC0002;SUB-1;TR-2;UTC;ethernet;10.0.0.2:4001;
`;
const meters = `serialnumber;manufacturer;model;firmware;concentrator;pod;podfrom;state
UAAEEDN17204606196;MFS;CERM1;1.0;TD-105525;827323;2026-01-01T00:00:00Z;
UAAEEDN17204606197;MFS;CERM1;1.0;;;;instock
`;

describe('registry bulk import', () => {
  it('imports concentrators, then meters installed, commissioned and linked to their POD', () => {
    const registry = emptyRegistry();
    applyImport(registry, concentratorImportCommands(concentrators), t0);
    const { rows, effects } = applyImport(registry, meterImportCommands(meters), t0);
    expect(rows).toBe(2);
    expect(registry.concentrators['TD-105525']).toMatchObject({
      timeZone: 'Europe/Rome',
      modemImei: '356938035643809',
    });
    expect(registry.concentrators['TD-105526']?.modemImei).toBeUndefined();
    expect(registry.meters.UAAEEDN17204606196).toMatchObject({
      state: 'commissioned',
      concentratorId: 'TD-105525',
    });
    expect(registry.meters.UAAEEDN17204606197?.state).toBe('inStock');
    expect(usagePointAt(registry, 'UAAEEDN17204606196', t0)).toBe('827323');
    expect(effects).toContainEqual(
      expect.objectContaining({ type: 'meterCommissioned', meterSerial: 'UAAEEDN17204606196' }),
    );
  });

  it('refuses a file with one bad row, naming its line, and imports nothing', () => {
    const registry = emptyRegistry();
    applyImport(registry, concentratorImportCommands(concentrators), t0);
    const before = structuredClone(registry);
    const bad = `${meters}UAAEEDN17204606198;MFS;CERM1;1.0;NO-SUCH-DC;;;\n`;
    expect(() => applyImport(registry, meterImportCommands(bad), t0)).toThrow(
      expect.objectContaining({
        code: 'MF_HEADEND_UNKNOWN_CONCENTRATOR',
        message: expect.stringMatching(/^line 4: .*nothing was imported/),
      }),
    );
    expect(registry).toEqual(before);
  });

  it.each([
    ['a missing column', 'id;type\nX;Y\n', /lacks column\(s\) serial/],
    ['an unknown time zone', concentrators.replace('Europe/Rome', 'Mars/Base'), /not an IANA time zone/],
    ['a bad communication type', concentrators.replace('gprs', 'pigeon'), /communicationType must be one of/],
  ])('refuses concentrators with %s', (_name, text, message) => {
    const registry = emptyRegistry();
    expect(() => applyImport(registry, concentratorImportCommands(text), t0)).toThrow(message);
    expect(registry).toEqual(emptyRegistry());
  });
});
