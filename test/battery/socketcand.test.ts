import { createServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { parseCandump } from '../../adapters/battery/can/frame.js';
import {
  formatSocketcandSend,
  parseSocketcandToken,
  SocketcandDeframer,
} from '../../adapters/battery/can/socketcand.js';
import { BatteryMonitor } from '../../adapters/battery/monitor/monitor.js';
import { connectSocketcand } from '../../adapters/battery/transport/socketcand.js';
import { waitFor } from '../support/wait.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

describe('socketcand protocol (linux-can/socketcand doc/protocol.md)', () => {
  it("parses the doc's reception example < frame 123 23.424242 11 22 33 44 >", () => {
    expect(parseSocketcandToken(['frame', '123', '23.424242', '11', '22', '33', '44'])).toEqual({
      kind: 'frame',
      frame: { id: 0x123, extended: false, data: Uint8Array.of(0x11, 0x22, 0x33, 0x44) },
    });
  });

  it('formats the reference example 351#1402740E740ECC01 as < send 351 8 14 02 74 0E 74 0E CC 01 >', () => {
    expect(formatSocketcandSend(parseCandump('351#1402740E740ECC01'))).toBe(
      '< send 351 8 14 02 74 0E 74 0E CC 01 >',
    );
    expect(formatSocketcandSend({ id: 0x1aaaaaaa, extended: true, data: Uint8Array.of(1, 0xf1) })).toBe(
      '< send 1AAAAAAA 2 01 F1 >',
    );
  });

  it('the tokenizer resynchronises on "<" and rejects malformed frames with typed errors', () => {
    const d = new SocketcandDeframer();
    const out = d.push(
      Buffer.from('junk< hi >< frame 35Z 1.0 00 >< frame 355 0.1 58 00 5E 00 >< frame 351 1.1 < ok >'),
    );
    expect(
      out.map((r) =>
        r.ok
          ? r.message.kind === 'frame'
            ? `frame:${r.message.frame.id.toString(16)}`
            : r.message.words.join(' ')
          : r.error.code,
      ),
    ).toEqual(['hi', 'MF_BATTERY_CAN_FRAME', 'frame:355', 'MF_BATTERY_CAN_FRAME', 'ok']);
  });
});

/** A loopback stand-in for socketcand that follows the documented RAW-mode conversation. */
async function fakeSocketcand(frames: string[]) {
  const received: string[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.write('< hi >');
    let buffer = '';
    socket.on('data', (d) => {
      buffer += d.toString('latin1');
      for (let end = buffer.indexOf('>'); end >= 0; end = buffer.indexOf('>')) {
        const command = buffer.slice(buffer.indexOf('<'), end + 1);
        buffer = buffer.slice(end + 1);
        received.push(command);
        if (command === '< open can0 >') socket.write('< ok >');
        else if (command === '< rawmode >') {
          socket.write('< ok >');
          for (const f of frames) socket.write(f);
        } else if (command.startsWith('< open ')) {
          socket.write('< error could not open bus >');
          socket.end();
        }
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  );
  return { port: (server.address() as { port: number }).port, received };
}

describe('socketcand transport against a loopback fake', () => {
  it('handshakes (hi, open, rawmode), feeds frames to the monitor and sends the 0x305 heartbeat', async () => {
    const fake = await fakeSocketcand([
      '< frame 355 1.000000 58 00 5E 00 >',
      '< frame 359 1.000100 08 00 00 00 01 50 4E >',
    ]);
    const transport = await connectSocketcand('127.0.0.1', fake.port, 'can0');
    cleanups.push(() => transport.close());
    const events: string[] = [];
    const monitor = new BatteryMonitor({
      deviceId: 's',
      transport,
      heartbeatIntervalMs: 100,
      onEvent: (e) => events.push(`${e.key}:${e.phase}`),
    });
    monitor.start();
    cleanups.push(() => monitor.stop());
    await waitFor(
      () => events.length > 0 && fake.received.some((c) => c.startsWith('< send 305')),
      'event and heartbeat',
      15_000,
    );
    expect(fake.received.slice(0, 2)).toEqual(['< open can0 >', '< rawmode >']);
    expect(fake.received).toContain('< send 305 8 00 00 00 00 00 00 00 00 >');
    expect(events).toEqual(['battery.overTemperature:raised']);
    expect(monitor.snapshot().s).toMatchObject({ stateOfCharge: 88, stateOfHealth: 94 });
  });

  it('a refused bus is a typed connect error naming what the server said', async () => {
    const fake = await fakeSocketcand([]);
    await expect(
      connectSocketcand('127.0.0.1', fake.port, 'can9', { handshakeTimeoutMs: 2_000 }),
    ).rejects.toMatchObject({
      code: 'MF_BATTERY_TRANSPORT_CONNECT',
      message: expect.stringContaining('error could not open bus'),
    });
  });
});
