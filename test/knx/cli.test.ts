import { describe, expect, it } from 'vitest';
import { run } from '../../adapters/knx/cli.js';

async function cli(...argv: string[]): Promise<{ code: number; text: string }> {
  let text = '';
  const code = await run(argv, { write: (t: string) => (text += t) });
  return { code, text };
}

describe('meterfabric knx decode', () => {
  it('prints the golden F17 routing indication with addresses, APCI, raw data and the DPT 13.010 value', async () => {
    const { code, text } = await cli(
      'decode',
      '061005300015',
      '2900BCD012020151050080',
      '12345678',
      '--dpt',
      '13.010',
    );
    expect(code).toBe(0);
    const json = JSON.parse(text);
    expect(json).toMatchObject({
      service: 'ROUTING_INDICATION',
      cemi: {
        messageCode: 'L_Data.ind',
        source: '1.2.2',
        destination: '0/1/81',
        destinationType: 'group',
        tpdu: { service: 'GroupValue_Write', data: '12345678' },
        value: { dpt: '13.010', value: 305419896, unit: 'Wh' },
      },
    });
  });

  it('names status codes and tunnel addresses (F7, F6)', async () => {
    expect(JSON.parse((await cli('decode', '06 10 02 06 00 08 00 24')).text)).toEqual({
      service: 'CONNECT_RESPONSE',
      channelId: 0,
      status: 'E_NO_MORE_CONNECTIONS',
    });
    const f6 = JSON.parse(
      (await cli('decode', '061002060014010008 01C0A82A0A0E57040411FF'.replace(' ', ''))).text,
    );
    expect(f6.crd).toMatchObject({ connectionType: 'tunnel', individualAddress: '1.1.255' });
    expect(f6.data).toEqual({ protocol: 'udp', ip: '192.168.42.10', port: 3671 });
  });

  it('decodes a bare cEMI with --cemi, and the DPT 9 invalid marker says invalid', async () => {
    const json = JSON.parse(
      (await cli('decode', '--cemi', '2900BCD011FD000A0300807FFF', '--dpt', '9.001')).text,
    );
    expect(json.value).toEqual({ dpt: '9.001', value: null, unit: 'degC', invalid: true });
  });

  it('malformed input is a typed error the CLI reports (MF_KNX_FRAME_TRUNCATED, MF_KNX_STRUCTURE)', async () => {
    await expect(cli('decode', '06100420001504')).rejects.toMatchObject({ code: 'MF_KNX_FRAME_TRUNCATED' });
    await expect(cli('decode', 'zz')).rejects.toMatchObject({ code: 'MF_KNX_STRUCTURE' });
  });

  it('an unknown --dpt is a usage error (exit 2) naming the flag and the codec code', async () => {
    await expect(cli('decode', '06100421000a042a1700', '--dpt', '99.999')).rejects.toMatchObject({
      code: 'MF_USAGE',
      message: expect.stringMatching(/^--dpt "99\.999": .*\(MF_KNX_DPT_UNKNOWN\)$/),
    });
  });

  it('prints usage and exit code 2 for an unknown subcommand', async () => {
    const { code, text } = await cli('frobnicate');
    expect(code).toBe(2);
    expect(text).toMatch(/usage: meterfabric knx/);
  });
});
