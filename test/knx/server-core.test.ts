import { describe, expect, it } from 'vitest';
import { fromHex } from '../../adapters/knx/bytes.js';
import { decodeCemi, groupTelegram } from '../../adapters/knx/cemi.js';
import { decodeFrame, type KnxFrame } from '../../adapters/knx/frame.js';
import { GatewayServerCore, type ServerAction } from '../../adapters/knx/simulator/server-core.js';

const control = { host: '127.0.0.1', port: 40000 };
const client = { host: '127.0.0.1', port: 50000 };
const hpai = { protocol: 'udp' as const, ip: '127.0.0.1', port: 50000 };

function core(tunnels = 2, aliveTimeMs = 120_000): GatewayServerCore {
  return new GatewayServerCore({
    control,
    individualAddress: 0x11f0,
    tunnelAddresses: Array.from({ length: tunnels }, (_, i) => 0x11f1 + i),
    friendlyName: 'sim',
    serialNumber: '000000000001',
    macAddress: '02:00:00:00:00:01',
    routing: false,
    aliveTimeMs,
  });
}
const sent = (a: ServerAction[]): KnxFrame[] => a.flatMap((x) => (x.type === 'send' ? [x.frame] : []));
const connectReq: KnxFrame = {
  service: 'CONNECT_REQUEST',
  control: hpai,
  data: hpai,
  cri: { connectionType: 'tunnel', layer: 2 },
};
function connected(c: GatewayServerCore): number {
  c.receive(connectReq, client, 0);
  const [res] = sent(c.takeActions());
  return (res as Extract<KnxFrame, { service: 'CONNECT_RESPONSE' }>).channelId;
}
const write = groupTelegram('GroupValue_Write', 0x0a03, { shortData: 1 });

describe('GatewayServerCore (simulator tunnelling server)', () => {
  it('allocates tunnels with their own IA and refuses beyond the pool with the short E_NO_MORE_CONNECTIONS', () => {
    const c = core(1);
    c.receive(connectReq, client, 0);
    expect(sent(c.takeActions())).toMatchObject([
      {
        service: 'CONNECT_RESPONSE',
        status: 0,
        crd: { connectionType: 'tunnel', individualAddress: 0x11f1 },
      },
    ]);
    c.receive(connectReq, client, 0);
    expect(sent(c.takeActions())).toEqual([{ service: 'CONNECT_RESPONSE', channelId: 0, status: 0x24 }]);
  });

  it('refuses a busmonitor layer with E_TUNNELLING_LAYER and device management with E_CONNECTION_TYPE', () => {
    const c = core();
    c.receive({ ...connectReq, cri: { connectionType: 'tunnel', layer: 0x80 } }, client, 0);
    c.receive({ ...connectReq, cri: { connectionType: 'deviceManagement' } }, client, 0);
    expect(sent(c.takeActions()).map((f) => 'status' in f && f.status)).toEqual([0x29, 0x22]);
  });

  it('CONNECTIONSTATE for an unknown channel answers E_CONNECTION_ID', () => {
    const c = core();
    c.receive({ service: 'CONNECTIONSTATE_REQUEST', channelId: 99, control: hpai }, client, 0);
    expect(sent(c.takeActions())).toEqual([
      { service: 'CONNECTIONSTATE_RESPONSE', channelId: 99, status: 0x21 },
    ]);
  });

  it('a client L_Data.req is ACKed, confirmed with L_Data.con and put on the bus with the tunnel IA as source', () => {
    const c = core();
    const ch = connected(c);
    c.receive({ service: 'TUNNELLING_REQUEST', channelId: ch, sequence: 0, cemi: write }, client, 1);
    const actions = c.takeActions();
    expect(sent(actions)).toMatchObject([
      { service: 'TUNNELLING_ACK', channelId: ch, sequence: 0, status: 0 },
      {
        service: 'TUNNELLING_REQUEST',
        channelId: ch,
        sequence: 0,
        cemi: { messageCode: 0x2e, source: 0x11f1 },
      },
    ]);
    expect(actions.filter((a) => a.type === 'bus')).toMatchObject([
      { telegram: { messageCode: 0x29, source: 0x11f1, destination: 0x0a03 } },
    ]);
  });

  it('a repeated sequence number is ACKed again but not put on the bus twice; a skipped one is dropped', () => {
    const c = core();
    const ch = connected(c);
    c.receive({ service: 'TUNNELLING_REQUEST', channelId: ch, sequence: 0, cemi: write }, client, 1);
    c.takeActions();
    c.receive({ service: 'TUNNELLING_REQUEST', channelId: ch, sequence: 0, cemi: write }, client, 2);
    let actions = c.takeActions();
    expect(sent(actions)).toEqual([{ service: 'TUNNELLING_ACK', channelId: ch, sequence: 0, status: 0 }]);
    expect(actions.some((a) => a.type === 'bus')).toBe(false);
    c.receive({ service: 'TUNNELLING_REQUEST', channelId: ch, sequence: 5, cemi: write }, client, 3);
    actions = c.takeActions();
    expect(sent(actions)).toEqual([]);
    expect(actions).toMatchObject([{ type: 'dropped' }]);
  });

  it("another host cannot inject into, keep alive or disconnect a client's tunnel by its channel id", () => {
    const c = core(2, 5_000);
    const ch = connected(c);
    const stranger = { host: '127.0.0.2', port: 50000 };
    const strangerHpai = { protocol: 'udp' as const, ip: '127.0.0.2', port: 50000 };
    c.receive({ service: 'TUNNELLING_REQUEST', channelId: ch, sequence: 0, cemi: write }, stranger, 1);
    const actions = c.takeActions();
    expect(sent(actions)).toEqual([]);
    expect(actions.some((a) => a.type === 'bus')).toBe(false);
    c.receive({ service: 'CONNECTIONSTATE_REQUEST', channelId: ch, control: strangerHpai }, stranger, 4_000);
    c.receive({ service: 'DISCONNECT_REQUEST', channelId: ch, control: strangerHpai }, stranger, 4_000);
    expect(sent(c.takeActions()).map((f) => 'status' in f && f.status)).toEqual([0x21, 0x21]);
    expect(c.connectionCount).toBe(1);
    // The stranger's heartbeat at 4 s did not keep the tunnel alive: the owner was last seen at 0.
    c.tick(5_000);
    expect(sent(c.takeActions())).toMatchObject([{ service: 'DISCONNECT_REQUEST', channelId: ch }]);
  });

  it("the owner's frames still work after a stranger's: its seq 0 is still the one expected", () => {
    const c = core();
    const ch = connected(c);
    const stranger = { host: '127.0.0.2', port: 50000 };
    c.receive({ service: 'TUNNELLING_REQUEST', channelId: ch, sequence: 0, cemi: write }, stranger, 1);
    expect(c.takeActions().some((a) => a.type === 'bus')).toBe(false);
    c.receive({ service: 'TUNNELLING_REQUEST', channelId: ch, sequence: 0, cemi: write }, client, 2);
    // Delivered, not taken for a repeat of the stranger's seq 0.
    const actions = c.takeActions();
    expect(sent(actions)[0]).toEqual({ service: 'TUNNELLING_ACK', channelId: ch, sequence: 0, status: 0 });
    expect(actions.filter((a) => a.type === 'bus')).toHaveLength(1);
  });

  it('repeats an unACKed request once, then disconnects the client', () => {
    const c = core();
    const ch = connected(c);
    c.publish(decodeCemi(fromHex('29 00 BC D0 11 FC 0A 03 01 00 81')) as never, 0);
    expect(sent(c.takeActions())).toMatchObject([{ service: 'TUNNELLING_REQUEST', sequence: 0 }]);
    c.tick(1_000);
    expect(sent(c.takeActions())).toMatchObject([{ service: 'TUNNELLING_REQUEST', sequence: 0 }]);
    c.tick(2_000);
    expect(sent(c.takeActions())).toMatchObject([{ service: 'DISCONNECT_REQUEST', channelId: ch }]);
    expect(c.connectionCount).toBe(0);
  });

  it('drops a client silent for the alive time with a server-initiated DISCONNECT_REQUEST (like F12)', () => {
    const c = core(2, 5_000);
    const ch = connected(c);
    c.tick(4_999);
    expect(sent(c.takeActions())).toEqual([]);
    c.tick(5_000);
    const [disconnect] = sent(c.takeActions());
    expect(disconnect).toEqual(decodeFrame(fromHex(`06 10 02 09 00 10 0${ch} 00 08 01 7F 00 00 01 9C 40`)));
  });
});
