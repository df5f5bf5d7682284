import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type HttpBridge, startHttpBridge } from '../../actors/integration/bridge/http-bridge.js';
import { readReply } from '../../adapters/cim/message.js';
import { parseMeterReadingsMessage } from '../../adapters/cim/meter-readings.js';
import { child, parseXml } from '../../adapters/cim/xml-tree.js';
import {
  endDeviceControl,
  getMeterReadings,
  linkageConfig,
  soapMeterConfig,
  usagePointConfig,
} from './cim-requests.js';
import { type DayRun, hourMs, originMs, runUntil, setUpDay } from './day-fixture.js';
import { validateAll } from './output-check.js';

const token = 's3cret-token';
let bridge: HttpBridge | undefined;
const dirs: string[] = [];
afterEach(async () => {
  await bridge?.close();
  bridge = undefined;
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

/** A head-end with the fleet's concentrators registered (bulk import) but no meters yet. */
async function start(options: { outage?: boolean; onDemandTimeoutMs?: number } = {}): Promise<{
  run: DayRun;
  post: (xml: string, auth?: string | null) => Promise<{ status: number; body: string }>;
}> {
  const run = setUpDay({
    concentrators: 1,
    meters: 2,
    outageChance: options.outage ? 1 : 0,
    provision: false,
  });
  for (const command of run.fleet.provisioning())
    if (command.type === 'upsertConcentrator') run.headend.applyRegistry(command);
  bridge = await startHttpBridge(run.headend, {
    host: '127.0.0.1',
    port: 0, // the OS picks; bridge.url carries the bound port
    token,
    maxBodyBytes: 64 * 1024,
    clock: run.clock,
    source: 'test-bridge',
    onDemandTimeoutMs: options.onDemandTimeoutMs ?? 2_000,
    controlTimeoutMs: 600_000,
  });
  const url = bridge.url;
  const post = async (xml: string, auth: string | null = token) => {
    const res = await fetch(url, {
      method: 'POST',
      body: xml,
      headers: { 'content-type': 'text/xml', ...(auth ? { authorization: `Bearer ${auth}` } : {}) },
    });
    return { status: res.status, body: await res.text() };
  };
  return { run, post };
}

function replyOf(body: string) {
  let root = parseXml(body);
  if (root.local === 'Envelope') root = child(root, 'Body', root.ns)!.children[0]!;
  return readReply(child(root, 'Reply')!);
}

async function provisionMeters(
  run: DayRun,
  post: (xml: string) => Promise<{ status: number; body: string }>,
) {
  const meters = [...run.fleet.meters];
  const results = [
    await post(
      soapMeterConfig(
        meters.map(([serial, m]) => ({ serial, concentrator: m.concentratorId, commissioned: true })),
      ),
    ),
    await post(usagePointConfig(meters.map(([, m]) => m.pod))),
    ...(await Promise.all(
      meters.map(([serial, m]) =>
        post(linkageConfig(serial, m.pod, new Date(originMs).toISOString(), 'create', 'F1F2F3')),
      ),
    )),
  ];
  return results;
}

describe('CIM bridge over HTTP', () => {
  it('provisions meters, usage points and links from SOAP and bare requests', async () => {
    const { run, post } = await start();
    const results = await provisionMeters(run, post);
    for (const r of results)
      expect({ status: r.status, result: replyOf(r.body).result }).toEqual({ status: 200, result: 'OK' });
    const [serial, m] = [...run.fleet.meters][0]!;
    expect(run.headend.registry.meters[serial]).toMatchObject({
      state: 'commissioned',
      concentratorId: m.concentratorId,
      manufacturer: 'MFS',
    });
    expect(run.headend.registry.usagePoints[m.pod]).toMatchObject({ tariffProfile: 'F1F2F3' });
    expect(run.headend.registry.links[serial]).toEqual([
      { meterSerial: serial, pod: m.pod, effectiveFromMs: originMs },
    ]);
    expect(results[0]!.body).toContain('http://schemas.xmlsoap.org/soap/envelope/');
    const dir = await mkdtemp(join(tmpdir(), 'mf-reply-'));
    dirs.push(dir);
    await writeFile(join(dir, 'reply.xml'), results[1]!.body);
    expect(await validateAll([join(dir, 'reply.xml')])).toEqual([]);
  });

  it.each([
    [
      'an unknown meter',
      () => linkageConfig('NO-SUCH-METER', '1200000', '2026-03-10T00:00:00Z'),
      400,
      'MF_HEADEND_UNKNOWN_METER',
    ],
    ['invalid XML', () => '<RequestMessage><Header>', 400, 'MF_XML_MALFORMED'],
    ['missing fields', () => linkageConfig('', '', 'not-a-date'), 400, 'MF_CIM_MISSING'],
    ['an unsupported control code', () => endDeviceControl('X', '3.31.0.99', 'c'), 400, 'MF_CIM_CODE'],
    [
      'a document type declaration',
      () => '<!DOCTYPE x [<!ENTITY a "b">]><RequestMessage/>',
      400,
      'MF_XML_DOCTYPE',
    ],
  ])('refuses %s with the documented reply and changes nothing', async (_name, xml, status, code) => {
    const { run, post } = await start();
    await provisionMeters(run, post);
    const before = structuredClone(run.headend.registry);
    const res = await post(xml());
    expect(res.status).toBe(status);
    const reply = replyOf(res.body);
    expect(reply.result).toBe('FAILED');
    expect(reply.errors.map((e) => e.code)).toContain(code);
    expect(run.headend.registry).toEqual(before);
  });

  it('refuses an unauthenticated caller (401) and an oversized body (413), changing nothing', async () => {
    const { run, post } = await start();
    const before = structuredClone(run.headend.registry);
    const unauthenticated = await post(usagePointConfig(['P1']), null);
    expect(unauthenticated.status).toBe(401);
    expect(replyOf(unauthenticated.body).errors[0]?.code).toBe('MF_UNAUTHENTICATED');
    expect((await post(usagePointConfig(['P1']), 'wrong')).status).toBe(401);
    const huge = await post(usagePointConfig(Array.from({ length: 5_000 }, (_, i) => `POD${i}`)));
    expect(huge.status).toBe(413);
    expect(run.headend.registry).toEqual(before);
  });

  it('applies a multi-meter MeterConfig all or nothing', async () => {
    const { run, post } = await start();
    const res = await post(
      soapMeterConfig([
        { serial: 'GOOD1', concentrator: 'TD-100000' },
        { serial: 'BAD', concentrator: 'NO-SUCH-DC' },
      ]),
    );
    expect(replyOf(res.body).errors[0]).toMatchObject({ code: 'MF_HEADEND_UNKNOWN_CONCENTRATOR' });
    expect(run.headend.registry.meters.GOOD1).toBeUndefined();
  });

  it('answers OnDemandMeterReadings with the current registers (schema-valid reply)', async () => {
    const { run, post } = await start();
    await provisionMeters(run, post);
    await runUntil(run, originMs + 2 * hourMs);
    const [serial, m] = [...run.fleet.meters][0]!;
    const res = await post(getMeterReadings(serial, 'OD-HTTP-1'));
    expect(res.status).toBe(200);
    const inner = res.body
      .replace(/^[\s\S]*<soap:Body>/, '<?xml version="1.0"?>')
      .replace(/<\/soap:Body>[\s\S]*$/, '');
    const { meterReadings, header } = parseMeterReadingsMessage(inner);
    expect(header.correlationId).toBe('OD-HTTP-1');
    const total = meterReadings[0]?.readings.find(
      (r) => r.readingType === '0.0.0.1.1.1.12.0.0.0.0.0.0.0.0.3.72.0',
    );
    expect(Number(total?.value)).toBe(m.meter.totalAt(run.clock.now()) / 1000);
    const dir = await mkdtemp(join(tmpdir(), 'mf-reply-'));
    dirs.push(dir);
    await writeFile(join(dir, 'od.xml'), inner);
    expect(await validateAll([join(dir, 'od.xml')])).toEqual([]);
  });

  it('answers FAILED naming the timeout when the meter cannot be read within the deadline', async () => {
    const { run, post } = await start({ outage: true, onDemandTimeoutMs: 300 });
    await provisionMeters(run, post);
    run.clock.set(run.fleet.outages()[0]!.fromMs + 1);
    const [serial] = [...run.fleet.meters][0]!;
    const res = await post(getMeterReadings(serial, 'OD-HTTP-2'));
    expect(res.status).toBe(400);
    const reply = replyOf(res.body);
    expect(reply.errors[0]).toMatchObject({ code: 'MF_JOB_DEADLINE' });
    expect(reply.errors[0]?.reason).toMatch(/timed out/);
  });

  it('EndDeviceControl disconnect: accepted, relay opened once, high-priority result with the CorrelationID; a repeat does not operate it again', async () => {
    const { run, post } = await start();
    await provisionMeters(run, post);
    await runUntil(run, originMs + hourMs);
    const [serial, m] = [...run.fleet.meters][0]!;
    const first = await post(endDeviceControl(serial, '3.31.0.23', 'WO-77'));
    expect(replyOf(first.body).result).toBe('OK');
    await run.headend.settle();
    expect(m.meter.relayAt(run.clock.now())).toBe('open');
    const high = run.routed.filter((r) => r.stream === 'high');
    expect(high.map((r) => r.record.type).sort()).toEqual(['event', 'workOrderResult']);
    expect(high.every((r) => JSON.stringify(r.record).includes('"WO-77"'))).toBe(true);
    await post(endDeviceControl(serial, '3.31.0.23', 'WO-77'));
    await run.headend.settle();
    expect(m.meter.relayOperations).toBe(1);
    expect(run.routed.filter((r) => r.stream === 'high')).toHaveLength(2);
  });
});
