import { createServer, type IncomingMessage, type Server } from 'node:http';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmailChannel, WebhookChannel } from '../../adapters/modem/notifications/channels.js';
import { ModemNotifier } from '../../adapters/modem/notifications/notifier.js';
import { fleetImei } from '../../adapters/modem/simulator/fleet.js';
import { SimulatedModem } from '../../adapters/modem/simulator/modem.js';
import { systemClock } from '../../core/clock.js';
import { silentLogger } from '../../core/logger.js';
import { freePort } from '../support/ports.js';
import { waitFor } from '../support/wait.js';
import { dialIn, nextEvent, startLoopbackCollector, type TestCollector, tempDir } from './support.js';

type Mail = { subject: string; body: string; to: string[] };

describe('modem notifications to a real SMTP server and a webhook receiver', () => {
  const dir = tempDir();
  const mails: Mail[] = [];
  const hooks: Array<{
    event: { key: string; deviceId: string; details?: Record<string, string> };
    endDeviceEventType: string;
  }> = [];
  let smtp: SMTPServer;
  let webhook: Server;
  let node: TestCollector;
  let notifier: ModemNotifier;
  let modem: SimulatedModem;
  const windowMs = 300;

  beforeAll(async () => {
    const smtpPort = await freePort();
    smtp = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onData(stream, session, callback) {
        let raw = '';
        stream.on('data', (c: Buffer) => {
          raw += c.toString();
        });
        stream.on('end', () => {
          const subject = /^Subject: (.*)$/m.exec(raw)?.[1] ?? '';
          mails.push({ subject, body: raw, to: session.envelope.rcptTo.map((r) => r.address) });
          callback();
        });
      },
    });
    await new Promise<void>((r) => smtp.listen(smtpPort, '127.0.0.1', () => r()));
    const hookPort = await freePort();
    webhook = createServer((req: IncomingMessage, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString();
      });
      req.on('end', () => {
        hooks.push(JSON.parse(body));
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => webhook.listen(hookPort, '127.0.0.1', () => r()));

    node = await startLoopbackCollector(dir.path, 3);
    const modemPort = node.collector.modemPort;
    notifier = new ModemNotifier({
      collector: node.collector,
      clock: systemClock,
      logger: silentLogger,
      windowMs,
      channels: [
        new EmailChannel({
          host: '127.0.0.1',
          port: smtpPort,
          from: 'collector@meterfabric.test',
          to: ['ops@example.test'],
        }),
        new WebhookChannel({ url: `http://127.0.0.1:${hookPort}/modem-events` }),
      ],
    });
    modem = new SimulatedModem({
      imei: fleetImei(300),
      servers: [{ host: '127.0.0.1', port: modemPort }],
      clock: systemClock,
      meterSerial: '30000300',
      seed: 300,
      redialMs: windowMs * 3,
    });
    await dialIn(node.collector, modem);
  });

  afterAll(async () => {
    notifier.stop();
    await modem.stop();
    await node.stop();
    await new Promise<void>((r) => smtp.close(() => r()));
    await new Promise<void>((r) => webhook.close(() => r()));
    dir.remove();
  });

  const count = (key: string) => ({
    mails: mails.filter((m) => m.body.includes(modem.imei) && m.subject.includes(key)).length,
    hooks: hooks.filter((h) => h.event.key === key && h.event.deviceId === modem.imei).length,
  });

  it('sends disconnect, reconnect and GPI change once each, by e-mail and webhook', async () => {
    // Disconnect: the link drops; the modem redials only after the debounce window has closed.
    const reconnected = nextEvent(node.collector, 'modem-online', (e) => e.imei === modem.imei);
    modem.drop();
    await waitFor(
      () => count('modem.disconnected').hooks === 1 && mails.some((m) => /disconnected/.test(m.subject)),
      'disconnect notifications',
      20_000,
    );
    await reconnected;
    await waitFor(() => hooks.some((h) => h.event.key === 'modem.reconnected'), 'reconnect webhook', 20_000);
    await waitFor(() => mails.some((m) => /reconnected/.test(m.subject)), 'reconnect mail', 20_000);

    await modem.setGpi(0, true);
    await waitFor(() => hooks.some((h) => h.event.key === 'modem.gpiChanged'), 'GPI webhook', 20_000);
    await waitFor(() => mails.some((m) => /GPI/.test(m.subject)), 'GPI mail', 20_000);

    // Give any duplicate time to arrive before counting.
    await new Promise((r) => setTimeout(r, windowMs * 3));
    expect(count('modem.disconnected').hooks).toBe(1);
    expect(count('modem.reconnected').hooks).toBe(1);
    expect(count('modem.gpiChanged').hooks).toBe(1);
    expect(mails.filter((m) => / disconnected/.test(m.subject))).toHaveLength(1);
    expect(mails.filter((m) => /reconnected/.test(m.subject))).toHaveLength(1);
    expect(mails.filter((m) => /GPI/.test(m.subject))).toHaveLength(1);
    expect(mails).toHaveLength(3);
    expect(mails[0]!.to).toEqual(['ops@example.test']);
    const gpi = hooks.find((h) => h.event.key === 'modem.gpiChanged')!;
    expect(gpi.event.details).toMatchObject({ from: '00', to: '10' });
    expect(gpi.endDeviceEventType).toBe('26.19.0.24');
    expect((await node.store.get(modem.imei))?.gpi).toEqual([true, false]);
  });
});
