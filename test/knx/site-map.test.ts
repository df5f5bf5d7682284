import { describe, expect, it } from 'vitest';
import { readingTypeFor } from '../../adapters/cim/reading-type-map.js';
import { parseGroupAddress } from '../../adapters/knx/address.js';
import { fromHex } from '../../adapters/knx/bytes.js';
import { decodeCemi, groupTelegram, type LDataFrame } from '../../adapters/knx/cemi.js';
import { encodeDpt } from '../../adapters/knx/dpt.js';
import { type KnxSiteConfigInput, KnxSiteMap } from '../../adapters/knx/site-map.js';

const config: KnxSiteConfigInput = {
  gatewayId: 'knx-gw-1',
  gateway: '127.0.0.1:3671',
  datapoints: [
    { groupAddress: '5/1/20', dpt: '13.013', meterSerial: 'M-1', usagePoint: 'IT001E0001' },
    { groupAddress: '5/1/21', dpt: '14.056', meterSerial: 'M-1', kind: 'instantaneous' },
    { groupAddress: '0/0/10', dpt: '9.024', meterSerial: 'M-2', kind: 'instantaneous', poll: false },
  ],
  controls: [
    { meterSerial: 'M-1', action: 'disconnect', groupAddress: '5/1/22', value: false },
    { meterSerial: 'M-1', action: 'connect', groupAddress: '5/1/22', value: true },
  ],
};

const C5 = decodeCemi(fromHex('29 00 BC D0 11 FE 29 14 05 00 80 00 00 30 39')) as LDataFrame; // 5/1/20 = 12345

describe('KnxSiteMap', () => {
  it('turns the golden C5 telegram (5/1/20, 13.013) into a kWh register reading with a CIM reading type', () => {
    const map = new KnxSiteMap(config);
    const reading = map.readingFor(C5, 1_700_000_000_000);
    expect(reading).toEqual({
      meterSerial: 'M-1',
      usagePoint: 'IT001E0001',
      kind: 'register',
      quantity: { source: 'knx', dpt: '13.013' },
      value: 12345,
      unit: 'kWh',
      timestampMs: 1_700_000_000_000,
    });
    // The head-end maps the quantity with the one CIM table; it has a code for it.
    expect(readingTypeFor({ source: 'knx', dpt: '13.013' }, 'register')).toMatch(/^\d+(\.\d+){17}$/);
  });

  it('power (14.056) is an instantaneous W reading; GroupValue_Response counts like a Write', () => {
    const map = new KnxSiteMap(config);
    const t = groupTelegram('GroupValue_Response', parseGroupAddress('5/1/21'), encodeDpt('14.056', 5000), {
      messageCode: 0x29,
    });
    expect(map.readingFor(t, 5)).toMatchObject({ kind: 'instantaneous', value: 5000, unit: 'W' });
  });

  it('reads, unmapped addresses and wrongly sized values do not become readings', () => {
    const map = new KnxSiteMap(config);
    expect(
      map.readingFor(groupTelegram('GroupValue_Read', parseGroupAddress('5/1/20'), undefined), 0),
    ).toBeUndefined();
    expect(
      map.readingFor(
        groupTelegram('GroupValue_Write', parseGroupAddress('7/7/7'), { data: Uint8Array.of(1) }),
        0,
      ),
    ).toBeUndefined();
    const short = groupTelegram('GroupValue_Write', parseGroupAddress('5/1/20'), {
      data: Uint8Array.of(1, 2),
    });
    expect(map.readingFor(short, 0)).toMatchObject({
      groupAddress: '5/1/20',
      reason: expect.stringMatching(/4 octet/),
    });
  });

  it('the DPT 9 invalid marker 7FFF is reported, not turned into a number', () => {
    const map = new KnxSiteMap(config);
    const t = groupTelegram('GroupValue_Write', parseGroupAddress('0/0/10'), {
      data: Uint8Array.of(0x7f, 0xff),
    });
    expect(map.readingFor(t, 0)).toMatchObject({ reason: expect.stringMatching(/invalid/) });
  });

  it('EndDeviceControl actions map to the configured group writes; unknown ones are MF_KNX_CONFIG', () => {
    const map = new KnxSiteMap(config);
    expect(map.controlFor('M-1', 'disconnect')).toEqual({
      groupAddress: parseGroupAddress('5/1/22'),
      payload: { shortData: 0 },
    });
    expect(map.controlFor('M-1', 'connect').payload).toEqual({ shortData: 1 });
    expect(() => map.controlFor('M-1', 'powerReductionOn')).toThrow(
      expect.objectContaining({ code: 'MF_KNX_CONFIG' }),
    );
    expect(map.controlEvent('M-1', 'disconnect', 9, 'corr-1')).toMatchObject({
      deviceId: 'M-1',
      key: 'meter.relayOpened',
      correlationId: 'corr-1',
    });
  });

  it('only polled addresses are polled', () => {
    const map = new KnxSiteMap(config);
    expect(map.pollAddresses.sort()).toEqual(
      [parseGroupAddress('5/1/20'), parseGroupAddress('5/1/21')].sort(),
    );
  });

  it('reachability becomes knx.gatewayUnreachable raised/cleared', () => {
    const map = new KnxSiteMap(config);
    expect(map.reachabilityEvent(false, 1)).toMatchObject({
      deviceKind: 'knx-gateway',
      key: 'knx.gatewayUnreachable',
      phase: 'raised',
    });
    expect(map.reachabilityEvent(true, 2).phase).toBe('cleared');
  });

  it('rejects a bad configuration with every problem named', () => {
    const bad = {
      ...config,
      datapoints: [
        { groupAddress: '5/1/20', dpt: '13.013', meterSerial: 'M-1' },
        { groupAddress: '5/1/20', dpt: '13.010', meterSerial: 'M-2' },
        { groupAddress: '5/1/23', dpt: '16.000', meterSerial: 'M-3' },
      ],
      controls: [{ meterSerial: 'M-1', action: 'disconnect' as const, groupAddress: '5/1/22', value: 7 }],
    };
    let error: unknown;
    try {
      new KnxSiteMap(bad);
    } catch (err) {
      error = err;
    }
    expect(error).toMatchObject({ code: 'MF_KNX_CONFIG' });
    const message = (error as Error).message;
    expect(message).toMatch(/used twice/);
    expect(message).toMatch(/16\.000/);
    expect(message).toMatch(/controls\.0/);
    expect(
      () =>
        new KnxSiteMap({
          ...config,
          datapoints: [{ groupAddress: '40/0/0', dpt: '13.013', meterSerial: 'x' }],
        }),
    ).toThrow(/not a group address/);
  });
});
