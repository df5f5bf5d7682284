import { describe, expect, it } from 'vitest';
import {
  bcc,
  encodeAckOptionSelect,
  encodeIdentification,
  encodeReadoutMessage,
  encodeRequest,
  parseAckOptionSelect,
  parseIdentificationMessage,
  parseReadoutMessage,
  parseRequest,
} from '../../adapters/modem/iec62056/codec.js';
import { parseDataLine } from '../../adapters/modem/iec62056/data-sets.js';

const b = (s: string) => Buffer.from(s, 'latin1');

// Golden vectors from the independent Python library pwitab/iec62056-21 (tests/test_bcc.py,
// tests/test_data.py); the BCC is the XOR of the bytes after SOH/STX up to and including ETX.
describe('IEC 62056-21 BCC (public vectors)', () => {
  it('matches the BCC of a programming-mode command frame', () => {
    const frame = Buffer.from('01573202433030332839313033323430393232333929031b', 'hex');
    expect(bcc(frame.subarray(1, -1))).toBe(frame.at(-1));
  });
  it.each([
    ['\x01P0\x02(1234567)\x03', 'P'],
    ['\x01R1\x021.8.0(1)\x03', 'k'],
    ['\x01B0\x03', 'q'],
    ['\x023:171.0(0)\x03', '\x12'],
    ['\x023:14(314*kWh)4:15(415*kWh)\r\n!\r\n\x03', '"'],
  ])('BCC of %j is %j', (frame, expected) => {
    expect(bcc(b(frame).subarray(1))).toBe(expected.charCodeAt(0));
  });
});

describe('IEC 62056-21 messages', () => {
  it('encodes the sign-on request with and without a device address', () => {
    expect(encodeRequest().toString('latin1')).toBe('/?!\r\n');
    expect(encodeRequest('45678903').toString('latin1')).toBe('/?45678903!\r\n');
    const parsed = parseRequest(b('/?45678903!\r\n'));
    expect(parsed).toEqual({ status: 'ok', value: { deviceAddress: '45678903' }, consumedBytes: 13 });
  });

  it('parses the identification /Els6\\2EK280 (public vector)', () => {
    const r = parseIdentificationMessage(b('/Els6\\2EK280\r\n'));
    expect(r).toEqual({
      status: 'ok',
      value: { manufacturer: 'Els', baudChar: '6', enhancedCapability: '2', identification: 'EK280' },
      consumedBytes: 14,
    });
    expect(r.status === 'ok' && encodeIdentification(r.value).toString('latin1')).toBe('/Els6\\2EK280\r\n');
  });

  it('encodes and parses ACK option select (public vector ACK 0 5 1)', () => {
    expect(encodeAckOptionSelect({ protocolControl: '0', baudChar: '5', mode: '1' }).toString('latin1')).toBe(
      '\x06051\r\n',
    );
    expect(parseAckOptionSelect(b('\x06050\r\n'))).toEqual({
      status: 'ok',
      value: { protocolControl: '0', baudChar: '5', mode: '0' },
      consumedBytes: 6,
    });
  });

  it('parses the public readout vector and its data sets', () => {
    const r = parseReadoutMessage(b('\x023:14(314*kWh)4:15(415*kWh)\r\n!\r\n\x03"'), 1024);
    expect(r).toEqual({ status: 'ok', value: { lines: ['3:14(314*kWh)4:15(415*kWh)'] }, consumedBytes: 34 });
    expect(parseDataLine('3:14(314*kWh)4:15(415*kWh)')).toEqual([
      { address: '3:14', values: [{ value: '314', unit: 'kWh' }] },
      { address: '4:15', values: [{ value: '415', unit: 'kWh' }] },
    ]);
  });

  it('produces the public readout vector from its lines', () => {
    expect(encodeReadoutMessage(['3:14(314*kWh)4:15(415*kWh)']).toString('latin1')).toBe(
      '\x023:14(314*kWh)4:15(415*kWh)\r\n!\r\n\x03"',
    );
  });

  it('rejects a bad BCC with MF_IEC62056_CHECKSUM (public vector with BCC x)', () => {
    expect(() => parseReadoutMessage(b('\x023:14(314*kWh)4:15(415*kWh)\r\n!\r\n\x03x'), 1024)).toThrow(
      expect.objectContaining({ code: 'MF_IEC62056_CHECKSUM' }),
    );
  });

  it('waits for ETX and BCC, then rejects a block without its ! end line as truncated', () => {
    expect(parseReadoutMessage(b('\x021.8.0(1*kWh)\r\n'), 1024).status).toBe('incomplete');
    expect(parseReadoutMessage(b('\x021.8.0(1*kWh)\r\n!\r\n\x03'), 1024).status).toBe('incomplete');
    const noEnd = Buffer.concat([
      b('\x021.8.0(1*kWh)\r\n\x03'),
      Buffer.from([bcc(b('1.8.0(1*kWh)\r\n\x03'))]),
    ]);
    expect(() => parseReadoutMessage(noEnd, 1024)).toThrow(
      expect.objectContaining({ code: 'MF_IEC62056_TRUNCATED' }),
    );
  });

  it('bounds the data message size', () => {
    expect(() => parseReadoutMessage(b(`\x02${'1.8.0(1*kWh)\r\n'.repeat(100)}`), 512)).toThrow(
      expect.objectContaining({ code: 'MF_IEC62056_TOO_LARGE' }),
    );
  });

  it('reads extra value groups after an address (maximum demand and its time)', () => {
    expect(parseDataLine('1.6.0(02.345*kW)(2311221015)')).toEqual([
      { address: '1.6.0', values: [{ value: '02.345', unit: 'kW' }, { value: '2311221015' }] },
    ]);
  });

  it('reads an address with a billing-period suffix and refuses one with two', () => {
    expect(parseDataLine('1-1:1.8.0*62(0018750.0)')).toEqual([
      { address: '1-1:1.8.0*62', values: [{ value: '0018750.0' }] },
    ]);
    expect(() => parseDataLine('1.8.0*62*1(0018750.0)')).toThrow(
      expect.objectContaining({ code: 'MF_IEC62056_MALFORMED' }),
    );
  });

  it('rejects a data line with an unclosed parenthesis as truncated', () => {
    expect(() => parseDataLine('1.8.0(0123')).toThrow(
      expect.objectContaining({ code: 'MF_IEC62056_TRUNCATED' }),
    );
  });
});
