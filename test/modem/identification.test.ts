import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  assertImei,
  defaultIdentificationConfig,
  encodeFieldsIdentification,
  type IdentificationConfig,
  luhnCheckDigit,
  luhnValid,
  parseIdentification,
} from '../../adapters/modem/identification.js';

const cfg = defaultIdentificationConfig;
const bytes = (s: string) => Buffer.from(s, 'latin1');

describe('IMEI Luhn check', () => {
  // Golden vector: the IMEI example in Wikipedia's "International Mobile Equipment Identity"
  // article (body 49015420323751, check digit 8) and 3GPP TS 23.003 Annex B's Luhn rule.
  it('accepts the public example IMEI 490154203237518', () => {
    expect(luhnValid('490154203237518')).toBe(true);
    expect(luhnCheckDigit('49015420323751')).toBe('8');
  });

  it('rejects every single-digit change of a valid IMEI', () => {
    const imei = '490154203237518';
    for (let i = 0; i < imei.length; i++) {
      for (let d = 0; d <= 9; d++) {
        if (String(d) === imei[i]) continue;
        const mutated = imei.slice(0, i) + d + imei.slice(i + 1);
        expect(luhnValid(mutated), mutated).toBe(false);
      }
    }
  });

  it('appending the computed check digit always yields a valid IMEI (property)', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^\d{14}$/), (body) => {
        expect(() => assertImei(body + luhnCheckDigit(body))).not.toThrow();
      }),
    );
  });

  it('names the problem when the IMEI has a wrong length or check digit', () => {
    expect(() => assertImei('49015420323751')).toThrow(/exactly 15 digits/);
    expect(() => assertImei('490154203237519')).toThrow(/Luhn/);
  });
});

describe('modem identification', () => {
  it('parses 15 bare digits, with or without CR LF, and reports the bytes consumed', () => {
    expect(parseIdentification(bytes('490154203237518'), cfg)).toEqual({
      status: 'identified',
      identification: { imei: '490154203237518', type: 'data' },
      consumedBytes: 15,
    });
    const r = parseIdentification(bytes('490154203237518\r\n/?!'), cfg);
    expect(r.status === 'identified' && r.consumedBytes).toBe(17);
  });

  it('waits for more bytes while an identification may still complete', () => {
    expect(parseIdentification(bytes('4901542'), cfg).status).toBe('incomplete');
    expect(parseIdentification(bytes('IME'), cfg).status).toBe('incomplete');
    expect(parseIdentification(bytes('IMEI=490154203237518;CSQ=1'), cfg).status).toBe('incomplete');
  });

  it('parses the fields line with SIM, signal, firmware and GPI', () => {
    const line = 'IMEI=490154203237518;ICCID=8970101234567890123;CSQ=21;FW=ATM3-2.1;GPI=0110\r\n';
    const r = parseIdentification(bytes(line), cfg);
    expect(r).toEqual({
      status: 'identified',
      identification: {
        imei: '490154203237518',
        type: 'data',
        iccid: '8970101234567890123',
        signalCsq: 21,
        firmware: 'ATM3-2.1',
        gpi: [false, true, true, false],
      },
      consumedBytes: line.length,
    });
  });

  it('round-trips a status report through the fields encoder', () => {
    const id = { imei: '490154203237518', type: 'status' as const, gpi: [true, false] };
    const r = parseIdentification(bytes(encodeFieldsIdentification(id)), cfg);
    expect(r.status === 'identified' && r.identification).toEqual(id);
  });

  it('parses the configured prefix form', () => {
    const prefixed: IdentificationConfig = { ...cfg, accept: ['prefixed'], prefix: '#' };
    const r = parseIdentification(bytes('#490154203237518\n'), prefixed);
    expect(r.status === 'identified' && r.identification.imei).toBe('490154203237518');
  });

  it('rejects garbage with MF_MODEM_IDENT_MALFORMED', () => {
    expect(() => parseIdentification(bytes('GET / HTTP/1.1\r\n'), cfg)).toThrow(
      expect.objectContaining({ code: 'MF_MODEM_IDENT_MALFORMED' }),
    );
    expect(() => parseIdentification(Buffer.from([0xff, 0x00, 0x13]), cfg)).toThrow(
      expect.objectContaining({ code: 'MF_MODEM_IDENT_MALFORMED' }),
    );
  });

  it('rejects an invalid IMEI with MF_MODEM_IMEI_INVALID', () => {
    for (const bad of ['490154203237519\r\n', '4901542032375\r\n', '4901542032375189', 'IMEI=12345\n']) {
      expect(() => parseIdentification(bytes(bad), cfg), bad).toThrow(
        expect.objectContaining({ code: 'MF_MODEM_IMEI_INVALID' }),
      );
    }
  });

  it('rejects an oversized identification with MF_MODEM_IDENT_TOO_LONG', () => {
    const long = `IMEI=490154203237518;FW=${'x'.repeat(400)}`;
    expect(() => parseIdentification(bytes(long), cfg)).toThrow(
      expect.objectContaining({ code: 'MF_MODEM_IDENT_TOO_LONG' }),
    );
  });

  it('rejects bad optional fields by name', () => {
    expect(() => parseIdentification(bytes('IMEI=490154203237518;CSQ=45\n'), cfg)).toThrow(/CSQ/);
    expect(() => parseIdentification(bytes('IMEI=490154203237518;GPI=012\n'), cfg)).toThrow(/GPI/);
  });
});
