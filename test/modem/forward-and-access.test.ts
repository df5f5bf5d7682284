import { describe, expect, it } from 'vitest';
import { buildAllowList, clientAllowed } from '../../adapters/modem/collector/client-access.js';
import {
  encodeForwardHeader,
  encodeForwardReply,
  forwardClockSkewMs,
  parseForwardHeader,
  parseForwardReply,
} from '../../adapters/modem/collector/forward-protocol.js';

const secret = 'a-secret-of-sufficient-length';
const imei = '490154203237518';

describe('forwarding handshake between nodes', () => {
  it('accepts a header signed with the shared secret and reports where the bytes start', () => {
    const header = encodeForwardHeader(secret, imei, '10.1.2.3:5555', 1_000_000);
    const withData = Buffer.concat([header, Buffer.from('/?!\r\n')]);
    expect(parseForwardHeader(withData, secret, 1_000_000)).toEqual({
      imei,
      client: '10.1.2.3:5555',
      consumedBytes: header.length,
    });
  });

  it('waits for the whole line', () => {
    const header = encodeForwardHeader(secret, imei, 'c', 0);
    expect(parseForwardHeader(header.subarray(0, 20), secret, 0)).toBeNull();
  });

  it.each([
    [
      'another secret',
      () => encodeForwardHeader('another-secret-of-same-size!', imei, 'c', 0),
      0,
      /bad forward signature/,
    ],
    [
      'a changed IMEI',
      () =>
        Buffer.from(encodeForwardHeader(secret, imei, 'c', 0).toString().replace(imei, '490154203237526')),
      0,
      /bad forward signature/,
    ],
    [
      'a replay after the skew window',
      () => encodeForwardHeader(secret, imei, 'c', 0),
      forwardClockSkewMs + 1,
      /timestamp/,
    ],
    ['garbage', () => Buffer.from('GET / HTTP/1.1\r\n'), 0, /not a forward header/],
    ['an endless line', () => Buffer.alloc(600, 0x41), 0, /too long/],
  ])('refuses %s with MF_MODEM_FORWARD_DENIED', (_name, make, nowMs, message) => {
    expect(() => parseForwardHeader(make(), secret, nowMs)).toThrow(
      expect.objectContaining({ code: 'MF_MODEM_FORWARD_DENIED', message: expect.stringMatching(message) }),
    );
  });

  it('round-trips OK and ERR replies', () => {
    expect(parseForwardReply(encodeForwardReply({ ok: true }))).toEqual({ ok: true, consumedBytes: 3 });
    expect(
      parseForwardReply(
        encodeForwardReply({ ok: false, code: 'MF_MODEM_OFFLINE', message: 'modem 1 is\noffline' }),
      ),
    ).toEqual({ ok: false, code: 'MF_MODEM_OFFLINE', message: 'modem 1 is offline' });
  });
});

describe('organization client ranges', () => {
  const list = buildAllowList({
    id: 'water',
    allowedClients: ['10.20.0.0/16', '192.0.2.7', '2001:db8::/32'],
  });

  it('admits addresses inside the ranges, including IPv4-mapped IPv6 as sockets report them', () => {
    expect(clientAllowed(list, '10.20.255.1')).toBe(true);
    expect(clientAllowed(list, '::ffff:10.20.0.9')).toBe(true);
    expect(clientAllowed(list, '192.0.2.7')).toBe(true);
    expect(clientAllowed(list, '2001:db8::1')).toBe(true);
  });

  it('refuses everything else, and an organization without ranges admits nobody', () => {
    expect(clientAllowed(list, '10.21.0.1')).toBe(false);
    expect(clientAllowed(list, '192.0.2.8')).toBe(false);
    expect(clientAllowed(list, undefined)).toBe(false);
    expect(clientAllowed(buildAllowList({ id: 'x', allowedClients: [] }), '127.0.0.1')).toBe(false);
  });

  it('names a malformed range in a configuration error', () => {
    expect(() => buildAllowList({ id: 'gas', allowedClients: ['10.0.0.0/33', 'not-an-ip'] })).toThrow(
      /organization gas: "10.0.0.0\/33"[\s\S]*organization gas: "not-an-ip"/,
    );
  });
});
