import { afterEach, describe, expect, it, vi } from 'vitest';
import { run } from '../../adapters/battery/cli.js';

async function cli(argv: string[]): Promise<{ code: number; json: Record<string, unknown> }> {
  let out = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  try {
    const code = await run(argv);
    return { code, json: JSON.parse(out) as Record<string, unknown> };
  } finally {
    spy.mockRestore();
  }
}

afterEach(() => vi.restoreAllMocks());

describe('meterfabric battery decode', () => {
  it('decode can prints the fields with unit-suffixed names and exit code 0', async () => {
    const { code, json } = await cli(['decode', 'can', '356', '7A13F2FE6B01']);
    expect(code).toBe(0);
    expect(json).toMatchObject({
      id: '0x356',
      kind: 'measurements',
      voltageV: 49.86,
      currentA: -27,
      temperatureC: 36.3,
    });
  });

  it('decode can with a wrong DLC prints the typed error as JSON and exits 1', async () => {
    const { code, json } = await cli(['decode', 'can', '356', '7A13F2']);
    expect(code).toBe(1);
    expect(json).toMatchObject({ error: { code: 'MF_BATTERY_CAN_DLC', details: { dlc: 3 } } });
  });

  it('decode can treats ids above 0x7FF as extended (Sofar)', async () => {
    const { json } = await cli(['decode', 'can', '0x2356', '1502 85FF F500 0000']);
    expect(json).toMatchObject({ variant: 'sofar-extended', packId: 2, voltageV: 53.3 });
  });

  it('decode rs485 infers the command of a pasted reply from its INFO size', async () => {
    const { code, json } = await cli(['decode', 'rs485', '~20024600B01402D002AFC800C8FE0CC0F915']);
    expect(code).toBe(0);
    expect(json).toMatchObject({
      type: 'reply',
      inferredCommand: true,
      reply: { command: '0x92', value: { chargeVoltageLimitV: 53.25 } },
    });
  });

  it('decode rs485 --reply-to 42 decodes a 0x42 reply', async () => {
    const { json } = await cli([
      'decode',
      'rs485',
      '~20024600F07A00020F0D170D140D150D150D180D170D140D150D150D180D170D140D150D150D18050C0B0BEF0BF00BED0C0B00C9C447FFFF04FFFF00120172B90186A0E2D1',
      '--reply-to',
      '42',
    ]);
    expect(json).toMatchObject({ reply: { value: { packs: [{ voltageV: 50.247, currentA: 20.1 }] } } });
  });

  it('decode rs485 of a request names the command; a bad checksum prints MF_BATTERY_RS485_CHKSUM', async () => {
    expect((await cli(['decode', 'rs485', '~20024642E00202FD33\\r'])).json).toMatchObject({
      type: 'request',
      request: { command: '0x42' },
    });
    const bad = await cli(['decode', 'rs485', '~20024642E00202FD34']);
    expect(bad.code).toBe(1);
    expect(bad.json).toMatchObject({ error: { code: 'MF_BATTERY_RS485_CHKSUM' } });
  });
});
