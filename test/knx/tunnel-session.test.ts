import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../adapters/knx/bytes.js';
import { decodeCemi, groupTelegram, type LDataFrame } from '../../adapters/knx/cemi.js';
import { decodeFrame, encodeFrame, type KnxFrame } from '../../adapters/knx/frame.js';
import { classifyIncoming } from '../../adapters/knx/sequence.js';
import { TunnelSession } from '../../adapters/knx/tunnel-session.js';
import type { SessionAction } from '../../adapters/knx/tunnel-types.js';

const gateway = { host: '10.0.0.5', port: 3671 };
const local = { host: '10.0.0.9', port: 40000 };
const IND_1_2_3_ON = decodeCemi(fromHex('29 00 BC D0 11 FC 0A 03 01 00 81'));
const CON_1_2_4_OFF = decodeCemi(fromHex('2E 00 BC E0 00 00 0A 04 01 00 80')) as LDataFrame;

function sent(actions: SessionAction[]): KnxFrame[] {
  return actions.flatMap((a) => (a.type === 'send' ? [a.frame] : []));
}
function ofType<T extends SessionAction['type']>(actions: SessionAction[], type: T) {
  return actions.filter((a): a is Extract<SessionAction, { type: T }> => a.type === type);
}

/** A session connected as channel 7 with IA 1.1.251, actions drained. */
function connected(timers = {}): TunnelSession {
  const s = new TunnelSession({ gateway, localEndpoint: local, timers });
  s.connect(0);
  s.receive(decodeFrame(fromHex('06 10 02 06 00 14 07 00 08 01 0A 00 00 05 0E 57 04 04 11 FB')), 10);
  s.takeActions();
  return s;
}

function tunnelReq(seq: number, cemi = IND_1_2_3_ON, channelId = 7): KnxFrame {
  return { service: 'TUNNELLING_REQUEST', channelId, sequence: seq, cemi };
}

describe('sequence classification (reference §1.5)', () => {
  it.each([
    [0, 0, 'deliver'],
    [5, 4, 'duplicate'],
    [0, 255, 'duplicate'],
    [5, 6, 'discard'],
    [5, 3, 'discard'],
    [255, 255, 'deliver'],
  ])('expected %i, received %i -> %s', (expected, received, verdict) => {
    expect(classifyIncoming(expected, received)).toBe(verdict);
  });
});

describe('TunnelSession', () => {
  it('connect sends CONNECT_REQUEST with our HPAIs and a link-layer CRI, then reports the channel and IA', () => {
    const s = new TunnelSession({ gateway, localEndpoint: local });
    s.connect(0);
    const [req] = sent(s.takeActions());
    expect(req).toMatchObject({
      service: 'CONNECT_REQUEST',
      control: { ip: '10.0.0.9', port: 40000 },
      cri: { connectionType: 'tunnel', layer: 2 },
    });
    s.receive(decodeFrame(fromHex('06 10 02 06 00 14 07 00 08 01 0A 00 00 05 0E 57 04 04 11 FB')), 5);
    expect(ofType(s.takeActions(), 'connected')).toEqual([
      { type: 'connected', channelId: 7, individualAddress: 0x11fb, dataEndpoint: gateway },
    ]);
  });

  it('without a local endpoint it announces route-back (NAT) HPAIs', () => {
    const s = new TunnelSession({ gateway });
    s.connect(0);
    const [req] = sent(s.takeActions());
    expect(req).toMatchObject({ control: { ip: '0.0.0.0', port: 0 }, data: { ip: '0.0.0.0', port: 0 } });
  });

  it('E_NO_MORE_CONNECTIONS (short response) closes with MF_KNX_NO_MORE_CONNECTIONS and asks for a reconnect', () => {
    const s = new TunnelSession({ gateway, localEndpoint: local });
    s.connect(0);
    s.takeActions();
    s.receive(decodeFrame(fromHex('06 10 02 06 00 08 00 24')), 1);
    const [closed] = ofType(s.takeActions(), 'closed');
    expect(closed?.error.code).toBe('MF_KNX_NO_MORE_CONNECTIONS');
    expect(closed?.reconnect).toBe(true);
    expect(s.state).toBe('closed');
  });

  it('no CONNECT_RESPONSE within the connect timeout is MF_KNX_TIMEOUT', () => {
    const s = new TunnelSession({ gateway, localEndpoint: local });
    s.connect(0);
    s.takeActions();
    expect(s.nextDeadlineMs()).toBe(10_000);
    s.tick(10_000);
    expect(ofType(s.takeActions(), 'closed')[0]?.error.code).toBe('MF_KNX_TIMEOUT');
  });

  it('an in-sequence request is ACKed and delivered; the counter advances', () => {
    const s = connected();
    s.receive(tunnelReq(0), 20);
    s.receive(tunnelReq(1), 21);
    const actions = s.takeActions();
    expect(sent(actions)).toEqual([
      { service: 'TUNNELLING_ACK', channelId: 7, sequence: 0, status: 0 },
      { service: 'TUNNELLING_ACK', channelId: 7, sequence: 1, status: 0 },
    ]);
    expect(ofType(actions, 'telegram')).toHaveLength(2);
  });

  it('a repeated sequence number is ACKed again but not delivered twice', () => {
    const s = connected();
    s.receive(tunnelReq(0), 20);
    s.takeActions();
    s.receive(tunnelReq(0), 21);
    const actions = s.takeActions();
    expect(sent(actions)).toEqual([{ service: 'TUNNELLING_ACK', channelId: 7, sequence: 0, status: 0 }]);
    expect(ofType(actions, 'telegram')).toHaveLength(0);
    expect(s.state).toBe('connected');
  });

  it('a skipped sequence number is discarded without ACK and the connection stays up', () => {
    const s = connected();
    s.receive(tunnelReq(2), 20);
    const actions = s.takeActions();
    expect(sent(actions)).toEqual([]);
    expect(ofType(actions, 'telegram')).toHaveLength(0);
    expect(ofType(actions, 'dropped')).toHaveLength(1);
    s.receive(tunnelReq(0), 21);
    expect(ofType(s.takeActions(), 'telegram')).toHaveLength(1);
    expect(s.state).toBe('connected');
  });

  it('a request for another channel id is dropped without ACK', () => {
    const s = connected();
    s.receive(tunnelReq(0, IND_1_2_3_ON, 9), 20);
    const actions = s.takeActions();
    expect(sent(actions)).toEqual([]);
    expect(ofType(actions, 'dropped')[0]?.reason).toMatch(/channel 9/);
    expect(s.state).toBe('connected');
  });

  it('the sequence counter wraps 255 -> 0', () => {
    const s = connected();
    for (let i = 0; i < 256; i++) s.receive(tunnelReq(i), 20 + i);
    s.takeActions();
    s.receive(tunnelReq(0), 400);
    expect(ofType(s.takeActions(), 'telegram')).toHaveLength(1);
  });

  it('our request is repeated exactly once with the same seq after the ACK timeout, then the tunnel is disconnected', () => {
    const s = connected();
    const id = s.request(groupTelegram('GroupValue_Write', 0x0a04, { shortData: 0 }), 100);
    expect(sent(s.takeActions())).toMatchObject([{ service: 'TUNNELLING_REQUEST', sequence: 0 }]);
    s.tick(1099);
    expect(sent(s.takeActions())).toEqual([]);
    s.tick(1100);
    expect(sent(s.takeActions())).toMatchObject([{ service: 'TUNNELLING_REQUEST', sequence: 0 }]);
    s.tick(2100);
    const actions = s.takeActions();
    expect(sent(actions)).toMatchObject([{ service: 'DISCONNECT_REQUEST', channelId: 7 }]);
    expect(ofType(actions, 'request-failed')).toMatchObject([{ id, error: { code: 'MF_KNX_TIMEOUT' } }]);
    expect(ofType(actions, 'closed')).toMatchObject([{ reconnect: true }]);
  });

  it('one request is outstanding at a time; the next goes after the ACK with the next seq', () => {
    const s = connected();
    s.request(groupTelegram('GroupValue_Read', 1, undefined), 100, false);
    s.request(groupTelegram('GroupValue_Read', 2, undefined), 100, false);
    expect(sent(s.takeActions())).toHaveLength(1);
    s.receive({ service: 'TUNNELLING_ACK', channelId: 7, sequence: 0, status: 0 }, 110);
    const actions = s.takeActions();
    expect(ofType(actions, 'request-done')).toHaveLength(1);
    expect(sent(actions)).toMatchObject([{ service: 'TUNNELLING_REQUEST', sequence: 1 }]);
  });

  it('an L_Data.req completes only when both the ACK and the matching L_Data.con arrived, in either order', () => {
    const s = connected();
    const write = groupTelegram('GroupValue_Write', 0x0a04, { shortData: 0 });
    const id = s.request(write, 100);
    s.takeActions();
    // knxd sends the con first sometimes.
    s.receive(tunnelReq(0, CON_1_2_4_OFF), 105);
    expect(ofType(s.takeActions(), 'request-done')).toEqual([]);
    s.receive({ service: 'TUNNELLING_ACK', channelId: 7, sequence: 0, status: 0 }, 106);
    expect(ofType(s.takeActions(), 'request-done')).toEqual([
      { type: 'request-done', id, outcome: { confirmation: 'positive' } },
    ]);
  });

  it('a negative L_Data.con is ACKed and reported as a negative confirmation', () => {
    const s = connected();
    const id = s.request(groupTelegram('GroupValue_Write', 0x0a04, { shortData: 0 }), 100);
    s.receive({ service: 'TUNNELLING_ACK', channelId: 7, sequence: 0, status: 0 }, 106);
    s.takeActions();
    s.receive(tunnelReq(0, { ...CON_1_2_4_OFF, confirmError: true }), 107);
    const actions = s.takeActions();
    expect(sent(actions)).toEqual([{ service: 'TUNNELLING_ACK', channelId: 7, sequence: 0, status: 0 }]);
    expect(ofType(actions, 'request-done')).toEqual([
      { type: 'request-done', id, outcome: { confirmation: 'negative' } },
    ]);
  });

  it('no L_Data.con within 3 s fails the write with MF_KNX_TIMEOUT but keeps the tunnel', () => {
    const s = connected();
    const id = s.request(groupTelegram('GroupValue_Write', 0x0a04, { shortData: 0 }), 100);
    s.receive({ service: 'TUNNELLING_ACK', channelId: 7, sequence: 0, status: 0 }, 106);
    s.takeActions();
    s.tick(3100);
    expect(ofType(s.takeActions(), 'request-failed')).toMatchObject([
      { id, error: { code: 'MF_KNX_TIMEOUT' } },
    ]);
    expect(s.state).toBe('connected');
  });

  it('heartbeat: CONNECTIONSTATE_REQUEST every interval; 4 failed attempts disconnect and ask for a reconnect', () => {
    const s = connected({ heartbeatIntervalMs: 1000, heartbeatTimeoutMs: 100 });
    s.tick(1010);
    expect(sent(s.takeActions())).toMatchObject([{ service: 'CONNECTIONSTATE_REQUEST', channelId: 7 }]);
    s.receive({ service: 'CONNECTIONSTATE_RESPONSE', channelId: 7, status: 0 }, 1020);
    expect(s.nextDeadlineMs()).toBe(2020);
    s.tick(2020);
    expect(sent(s.takeActions())).toHaveLength(1);
    s.tick(2120);
    s.receive({ service: 'CONNECTIONSTATE_RESPONSE', channelId: 7, status: 0x21 }, 2130);
    s.tick(2230);
    const before = s.takeActions();
    expect(sent(before).filter((f) => f.service === 'CONNECTIONSTATE_REQUEST')).toHaveLength(3);
    s.tick(2330);
    const actions = s.takeActions();
    expect(sent(actions)).toMatchObject([{ service: 'DISCONNECT_REQUEST' }]);
    expect(ofType(actions, 'closed')).toMatchObject([{ reconnect: true, error: { code: 'MF_KNX_TIMEOUT' } }]);
  });

  it('a server-initiated DISCONNECT_REQUEST is answered and closes with reconnect; queued requests survive', () => {
    const s = connected();
    s.request(groupTelegram('GroupValue_Read', 1, undefined), 100, false);
    s.request(groupTelegram('GroupValue_Read', 2, undefined), 100, false);
    s.takeActions();
    s.receive(decodeFrame(fromHex('06 10 02 09 00 10 07 00 08 01 0A 00 00 05 0E 57')), 200);
    const actions = s.takeActions();
    expect(sent(actions)).toEqual([{ service: 'DISCONNECT_RESPONSE', channelId: 7, status: 0 }]);
    expect(ofType(actions, 'request-failed')).toHaveLength(1); // the one in flight
    expect(ofType(actions, 'closed')).toMatchObject([{ reconnect: true }]);
    expect(s.queueLength).toBe(1);
  });

  it('the send queue is bounded: MF_KNX_QUEUE_FULL', () => {
    const s = new TunnelSession({ gateway, localEndpoint: local, maxQueueLength: 2 });
    s.request(groupTelegram('GroupValue_Read', 1, undefined), 0);
    s.request(groupTelegram('GroupValue_Read', 1, undefined), 0);
    expect(() => s.request(groupTelegram('GroupValue_Read', 1, undefined), 0)).toThrow(
      expect.objectContaining({ code: 'MF_KNX_QUEUE_FULL' }),
    );
  });

  it('incoming ACKs are emitted immediately even while our own request waits for its ACK', () => {
    const s = connected();
    s.request(groupTelegram('GroupValue_Read', 1, undefined), 100, false);
    s.request(groupTelegram('GroupValue_Read', 2, undefined), 100, false);
    s.takeActions();
    s.receive(tunnelReq(0), 150);
    expect(sent(s.takeActions())).toEqual([
      { service: 'TUNNELLING_ACK', channelId: 7, sequence: 0, status: 0 },
    ]);
  });
});

describe('TunnelSession send rate limit', () => {
  it('spaces our requests by the rate limit while incoming requests are ACKed at once', () => {
    const s = new TunnelSession({ gateway, localEndpoint: local, maxRequestsPerSecond: 10 });
    s.connect(0);
    s.receive(decodeFrame(fromHex('06 10 02 06 00 14 07 00 08 01 0A 00 00 05 0E 57 04 04 11 FB')), 0);
    s.takeActions();
    for (let i = 0; i < 3; i++) s.request(groupTelegram('GroupValue_Read', i + 1, undefined), 0, false);
    expect(sent(s.takeActions())).toMatchObject([{ service: 'TUNNELLING_REQUEST', sequence: 0 }]);
    s.receive({ service: 'TUNNELLING_ACK', channelId: 7, sequence: 0, status: 0 }, 10);
    // ACKed at 10 ms, but the next request may only go at 100 ms.
    expect(sent(s.takeActions())).toEqual([]);
    expect(s.nextDeadlineMs()).toBe(100);
    // Meanwhile an incoming telegram is ACKed immediately, not held by the limiter.
    s.receive(tunnelReq(0), 50);
    expect(sent(s.takeActions())).toEqual([
      { service: 'TUNNELLING_ACK', channelId: 7, sequence: 0, status: 0 },
    ]);
    s.tick(100);
    expect(sent(s.takeActions())).toMatchObject([{ service: 'TUNNELLING_REQUEST', sequence: 1 }]);
  });
});

describe('TunnelSession extended CRI', () => {
  it('asks for a specific individual address with the tunnelling v2 CRI (as golden F5)', () => {
    const s = new TunnelSession({ gateway, localEndpoint: local, requestedAddress: 0x0102 });
    s.connect(0);
    const [req] = sent(s.takeActions());
    expect(req).toMatchObject({ cri: { connectionType: 'tunnel', layer: 2, individualAddress: 0x0102 } });
    expect(toHex(encodeFrame(req!)).slice(-12)).toBe('060402000102');
  });
});
