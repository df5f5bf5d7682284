import { describe, expect, it } from 'vitest';
import { HeadendError } from '../../actors/domain/errors.js';
import { applyRegistryCommand, type RegistryCommand } from '../../actors/registry/commands.js';
import { commissionedMetersOf, usagePointAt } from '../../actors/registry/queries.js';
import { emptyRegistry, type MeterState, type RegistryState } from '../../actors/registry/types.js';

const t0 = Date.UTC(2026, 0, 1);

function apply(state: RegistryState, ...commands: RegistryCommand[]): RegistryState {
  for (const command of commands) applyRegistryCommand(state, command, t0);
  return state;
}

const concentrator: RegistryCommand = {
  type: 'upsertConcentrator',
  id: 'TD-105525',
  concentratorType: 'DC450',
  serial: 'DC0001',
  substation: 'SUB-1',
  transformer: 'TR-1',
  timeZone: 'Europe/Rome',
  communicationType: 'gprs',
  address: '127.0.0.1:40001',
};
const meter = (serial: string): RegistryCommand => ({
  type: 'upsertMeter',
  serial,
  manufacturer: 'ACME',
  model: 'CERM1',
  firmwareVersion: '1.0',
});

function rejects(state: RegistryState, command: RegistryCommand, code: string): void {
  const before = structuredClone(state);
  let error: unknown;
  try {
    applyRegistryCommand(state, command, t0 + 1);
  } catch (err) {
    error = err;
  }
  expect(error).toBeInstanceOf(HeadendError);
  expect((error as HeadendError).code).toBe(code);
  expect(state).toEqual(before);
}

describe('registry meters', () => {
  it('a new meter starts in stock and an upsert updates its firmware without changing its state', () => {
    const s = apply(emptyRegistry(), meter('M1'));
    expect(s.meters.M1?.state).toBe('inStock');
    applyRegistryCommand(
      s,
      { ...(meter('M1') as object), firmwareVersion: '2.0' } as RegistryCommand,
      t0 + 5,
    );
    expect(s.meters.M1).toMatchObject({ state: 'inStock', firmwareVersion: '2.0', lastUpdateMs: t0 + 5 });
  });

  const moves: [MeterState, RegistryCommand['type'], MeterState | 'MF_HEADEND_INVALID_TRANSITION'][] = [
    ['inStock', 'installMeter', 'installed'],
    ['inStock', 'commissionMeter', 'MF_HEADEND_INVALID_TRANSITION'],
    ['inStock', 'decommissionMeter', 'MF_HEADEND_INVALID_TRANSITION'],
    ['installed', 'commissionMeter', 'commissioned'],
    ['installed', 'returnMeterToStock', 'inStock'],
    ['installed', 'decommissionMeter', 'MF_HEADEND_INVALID_TRANSITION'],
    ['commissioned', 'decommissionMeter', 'decommissioned'],
    ['commissioned', 'returnMeterToStock', 'MF_HEADEND_INVALID_TRANSITION'],
    ['commissioned', 'installMeter', 'MF_HEADEND_INVALID_TRANSITION'],
    ['decommissioned', 'returnMeterToStock', 'inStock'],
    ['decommissioned', 'commissionMeter', 'MF_HEADEND_INVALID_TRANSITION'],
  ];

  const reach: Record<MeterState, RegistryCommand[]> = {
    inStock: [],
    installed: [{ type: 'installMeter', serial: 'M1', concentratorId: 'TD-105525' }],
    commissioned: [
      { type: 'installMeter', serial: 'M1', concentratorId: 'TD-105525' },
      { type: 'commissionMeter', serial: 'M1' },
    ],
    decommissioned: [
      { type: 'installMeter', serial: 'M1', concentratorId: 'TD-105525' },
      { type: 'commissionMeter', serial: 'M1' },
      { type: 'decommissionMeter', serial: 'M1' },
    ],
  };

  it.each(moves)('from %s, %s gives %s', (from, commandType, expected) => {
    const s = apply(emptyRegistry(), concentrator, meter('M1'), ...reach[from]);
    expect(s.meters.M1?.state).toBe(from);
    const command = (
      commandType === 'installMeter'
        ? { type: commandType, serial: 'M1', concentratorId: 'TD-105525' }
        : { type: commandType, serial: 'M1' }
    ) as RegistryCommand;
    if (expected === 'MF_HEADEND_INVALID_TRANSITION') rejects(s, command, expected);
    else {
      applyRegistryCommand(s, command, t0 + 1);
      expect(s.meters.M1?.state).toBe(expected);
    }
  });

  it('commissioning emits meterCommissioned once; repeating it is a no-op without effects', () => {
    const s = apply(emptyRegistry(), concentrator, meter('M1'), reach.installed[0]!);
    const first = applyRegistryCommand(s, { type: 'commissionMeter', serial: 'M1' }, t0 + 10);
    expect(first.effects).toEqual([
      { type: 'meterCommissioned', meterSerial: 'M1', concentratorId: 'TD-105525', atMs: t0 + 10 },
    ]);
    const again = applyRegistryCommand(s, { type: 'commissionMeter', serial: 'M1' }, t0 + 20);
    expect(again.effects).toEqual([]);
    expect(s.meters.M1?.stateChangedAtMs).toBe(t0 + 10);
    expect(commissionedMetersOf(s, 'TD-105525').map((m) => m.serial)).toEqual(['M1']);
  });

  it('decommissioning emits meterDecommissioned naming its concentrator', () => {
    const s = apply(emptyRegistry(), concentrator, meter('M1'), ...reach.commissioned);
    const { effects } = applyRegistryCommand(s, { type: 'decommissionMeter', serial: 'M1' }, t0 + 3);
    expect(effects).toEqual([
      { type: 'meterDecommissioned', meterSerial: 'M1', concentratorId: 'TD-105525', atMs: t0 + 3 },
    ]);
  });

  it('installing under an unknown concentrator is refused and changes nothing', () => {
    const s = apply(emptyRegistry(), meter('M1'));
    rejects(
      s,
      { type: 'installMeter', serial: 'M1', concentratorId: 'NOPE' },
      'MF_HEADEND_UNKNOWN_CONCENTRATOR',
    );
  });

  it('commands on an unknown meter are refused with MF_HEADEND_UNKNOWN_METER', () => {
    const s = apply(emptyRegistry(), concentrator);
    rejects(s, { type: 'commissionMeter', serial: 'GHOST' }, 'MF_HEADEND_UNKNOWN_METER');
  });

  it.each([
    ['empty serial', { ...meter(''), serial: '' }],
    ['serial over 64 characters', meter('X'.repeat(65))],
    ['serial with a space', meter('A B')],
    ['missing manufacturer', { ...meter('M2'), manufacturer: '' }],
  ] as [string, RegistryCommand][])(
    'invalid meter input (%s) is refused and changes nothing',
    (_name, command) => {
      const s = apply(emptyRegistry(), meter('M1'));
      rejects(s, command, 'MF_HEADEND_INVALID_INPUT');
    },
  );
});

describe('registry concentrators and modems', () => {
  it('keeps every concentrator field and refuses an unknown time zone', () => {
    const s = apply(emptyRegistry(), concentrator);
    expect(s.concentrators['TD-105525']).toMatchObject({
      type: 'DC450',
      serial: 'DC0001',
      substation: 'SUB-1',
      transformer: 'TR-1',
      timeZone: 'Europe/Rome',
      communicationType: 'gprs',
      address: '127.0.0.1:40001',
    });
    rejects(
      s,
      { ...(concentrator as object), timeZone: 'Mars/Olympus' } as RegistryCommand,
      'MF_HEADEND_INVALID_INPUT',
    );
    rejects(
      s,
      { ...(concentrator as object), communicationType: 'pigeon' } as unknown as RegistryCommand,
      'MF_HEADEND_INVALID_INPUT',
    );
  });

  it('stores a modem with IMEI, SIM, signal, port and organization, and refuses a malformed IMEI', () => {
    const s = emptyRegistry();
    applyRegistryCommand(
      s,
      {
        type: 'upsertModem',
        imei: '356938035643809',
        sim: '8939',
        signalDbm: -71,
        assignedPort: 40001,
        organization: 'DSO',
      },
      t0,
    );
    expect(s.modems['356938035643809']).toMatchObject({
      sim: '8939',
      signalDbm: -71,
      assignedPort: 40001,
      organization: 'DSO',
    });
    rejects(s, { type: 'upsertModem', imei: '12345' }, 'MF_HEADEND_INVALID_INPUT');
    rejects(s, { type: 'upsertModem', imei: '356938035643809', signalDbm: 5 }, 'MF_HEADEND_INVALID_INPUT');
    rejects(
      s,
      { type: 'upsertModem', imei: '356938035643809', assignedPort: 70000 },
      'MF_HEADEND_INVALID_INPUT',
    );
  });
});

describe('registry usage points and links', () => {
  const base = (): RegistryState =>
    apply(
      emptyRegistry(),
      meter('M1'),
      meter('M2'),
      { type: 'upsertUsagePoint', pod: 'POD1', address: 'Via Roma 1' },
      { type: 'upsertUsagePoint', pod: 'POD2' },
    );

  it('a link applies from its effective date until it is closed', () => {
    const s = base();
    apply(s, { type: 'linkMeter', meterSerial: 'M1', pod: 'POD1', effectiveFromMs: t0 + 100 });
    expect(usagePointAt(s, 'M1', t0 + 99)).toBeUndefined();
    expect(usagePointAt(s, 'M1', t0 + 100)).toBe('POD1');
    apply(s, { type: 'unlinkMeter', meterSerial: 'M1', pod: 'POD1', effectiveToMs: t0 + 200 });
    expect(usagePointAt(s, 'M1', t0 + 199)).toBe('POD1');
    expect(usagePointAt(s, 'M1', t0 + 200)).toBeUndefined();
    apply(s, { type: 'linkMeter', meterSerial: 'M1', pod: 'POD2', effectiveFromMs: t0 + 200 });
    expect(usagePointAt(s, 'M1', t0 + 150)).toBe('POD1');
    expect(usagePointAt(s, 'M1', t0 + 250)).toBe('POD2');
  });

  it('repeating a link or unlink is a no-op', () => {
    const s = base();
    const link: RegistryCommand = { type: 'linkMeter', meterSerial: 'M1', pod: 'POD1', effectiveFromMs: t0 };
    apply(s, link, link);
    expect(s.links.M1).toHaveLength(1);
    const unlink: RegistryCommand = {
      type: 'unlinkMeter',
      meterSerial: 'M1',
      pod: 'POD1',
      effectiveToMs: t0 + 5,
    };
    apply(s, unlink, unlink);
    expect(s.links.M1?.[0]?.effectiveToMs).toBe(t0 + 5);
  });

  it('refuses a second meter on a usage point over an overlapping period, and changes nothing', () => {
    const s = apply(base(), { type: 'linkMeter', meterSerial: 'M1', pod: 'POD1', effectiveFromMs: t0 });
    rejects(
      s,
      { type: 'linkMeter', meterSerial: 'M2', pod: 'POD1', effectiveFromMs: t0 + 10 },
      'MF_HEADEND_LINK_CONFLICT',
    );
    rejects(
      s,
      { type: 'linkMeter', meterSerial: 'M1', pod: 'POD2', effectiveFromMs: t0 + 10 },
      'MF_HEADEND_LINK_CONFLICT',
    );
  });

  it('refuses links to unknown meters or usage points, and closing a link that is not open', () => {
    const s = base();
    rejects(
      s,
      { type: 'linkMeter', meterSerial: 'NOPE', pod: 'POD1', effectiveFromMs: t0 },
      'MF_HEADEND_UNKNOWN_METER',
    );
    rejects(
      s,
      { type: 'linkMeter', meterSerial: 'M1', pod: 'NOPE', effectiveFromMs: t0 },
      'MF_HEADEND_UNKNOWN_USAGE_POINT',
    );
    rejects(
      s,
      { type: 'unlinkMeter', meterSerial: 'M1', pod: 'POD1', effectiveToMs: t0 },
      'MF_HEADEND_LINK_CONFLICT',
    );
    apply(s, { type: 'linkMeter', meterSerial: 'M1', pod: 'POD1', effectiveFromMs: t0 + 50 });
    rejects(
      s,
      { type: 'unlinkMeter', meterSerial: 'M1', pod: 'POD1', effectiveToMs: t0 + 50 },
      'MF_HEADEND_INVALID_INPUT',
    );
  });

  it('sets contract profile, contract state and tariff profile on a usage point', () => {
    const s = base();
    apply(s, {
      type: 'setContract',
      pod: 'POD1',
      contractProfile: 'RES-3KW',
      contractState: 'active',
      tariffProfile: 'F1F2F3',
    });
    expect(s.usagePoints.POD1).toMatchObject({
      contractProfile: 'RES-3KW',
      contractState: 'active',
      tariffProfile: 'F1F2F3',
    });
    rejects(s, { type: 'setContract', pod: 'POD1' }, 'MF_HEADEND_INVALID_INPUT');
    rejects(s, { type: 'setContract', pod: 'NOPE', tariffProfile: 'X' }, 'MF_HEADEND_UNKNOWN_USAGE_POINT');
  });
});
