import { describe, expect, it } from 'vitest';
import { readReply } from '../../adapters/cim/message.js';
import { encodeMeterReadingsReply, encodeRequestReply } from '../../adapters/cim/replies.js';
import {
  encodeOkReply,
  type InboundRequest,
  parseInboundRequest,
  replyForItems,
} from '../../adapters/cim/requests.js';
import { child, parseXml } from '../../adapters/cim/xml-tree.js';
import { validateXml } from './support/xsd.js';

/** A stand-in registry: requests are applied to it only when parsing succeeded. */
class Registry {
  meters = new Set(['M1', 'M2']);
  usagePoints = new Set(['POD1']);
  links = new Map<string, string>();
  ctx = {
    meterExists: (id: string) => this.meters.has(id),
    usagePointExists: (id: string) => this.usagePoints.has(id),
  };
  apply(request: InboundRequest): void {
    if (request.noun === 'MeterConfig') for (const m of request.meters) this.meters.add(m.id);
    if (request.noun === 'MasterDataLinkageConfig')
      for (const l of request.links)
        if (l.usagePointId)
          l.action === 'link' ? this.links.set(l.meterId, l.usagePointId) : this.links.delete(l.meterId);
  }
  handle(xml: string): ReturnType<typeof parseInboundRequest> {
    const outcome = parseInboundRequest(xml, this.ctx, { nowMs: Date.UTC(2026, 0, 1) });
    if (outcome.ok) this.apply(outcome.request);
    return outcome;
  }
  snapshot(): string {
    return JSON.stringify([[...this.meters], [...this.usagePoints], [...this.links]]);
  }
}

const msg = (verb: string, noun: string, payload: string, extraHeader = '') => `<?xml version="1.0"?>
<RequestMessage xmlns="http://iec.ch/TC57/2011/schema/message"><Header><Verb>${verb}</Verb><Noun>${noun}</Noun>${extraHeader}<MessageID>req-1</MessageID><CorrelationID>corr-1</CorrelationID></Header>${payload}</RequestMessage>`;

const MDLC = 'http://iec.ch/TC57/2011/MasterDataLinkageConfig#';
const linkage = (meter: string, up: string, ns = MDLC) =>
  `<Payload><MasterDataLinkageConfig xmlns="${ns}"><ConfigurationEvent><createdDateTime>2026-01-01T00:00:00Z</createdDateTime></ConfigurationEvent><Meter><Names><name>${meter}</name></Names></Meter><UsagePoint><Names><name>${up}</name></Names></UsagePoint><CustomerAgreement><Names><name>RESIDENTIAL-3kW</name></Names><status><value>active</value></status></CustomerAgreement><PricingStructure><Names><name>TOU-F1F2F3</name></Names></PricingStructure></MasterDataLinkageConfig></Payload>`;

const controls = (inner: string) =>
  `<Payload><EndDeviceControls xmlns="http://iec.ch/TC57/2011/EndDeviceControls#">${inner}</EndDeviceControls></Payload>`;

describe('inbound requests', () => {
  it('MasterDataLinkageConfig create links meter, usage point, contract profile/state and tariff; close unlinks', () => {
    const registry = new Registry();
    const created = registry.handle(msg('create', 'MasterDataLinkageConfig', linkage('M1', 'POD1')));
    expect(
      created.ok && created.request.noun === 'MasterDataLinkageConfig' && created.request.links[0],
    ).toMatchObject({
      action: 'link',
      meterId: 'M1',
      usagePointId: 'POD1',
      contractProfile: 'RESIDENTIAL-3kW',
      contractState: 'active',
      tariffProfile: 'TOU-F1F2F3',
    });
    expect(registry.links.get('M1')).toBe('POD1');
    registry.handle(msg('close', 'MasterDataLinkageConfig', linkage('M1', 'POD1')));
    expect(registry.links.has('M1')).toBe(false);
  });

  it('unknown meter and usage point and a wrong verb: FAILED listing every problem with its xpath, nothing applied', () => {
    const registry = new Registry();
    const before = registry.snapshot();
    const o = registry.handle(msg('create', 'MasterDataLinkageConfig', linkage('M9', 'POD9')));
    expect(o.ok).toBe(false);
    if (o.ok) return;
    expect(o.reply.result).toBe('FAILED');
    expect(o.reply.errors.map((e) => [e.code, e.xpath])).toEqual([
      ['MF_UNKNOWN_METER', '/RequestMessage/Payload/MasterDataLinkageConfig/Meter'],
      ['MF_UNKNOWN_USAGE_POINT', '/RequestMessage/Payload/MasterDataLinkageConfig/UsagePoint'],
    ]);
    expect(registry.snapshot()).toBe(before);
    // The reply itself is schema-valid and carries the problems (xpath in details) and the correlation.
    expect(validateXml(o.response).output).toMatch(/^OK/);
    const root = parseXml(o.response);
    expect(readReply(child(root, 'Reply')!)).toEqual({
      result: 'FAILED',
      errors: o.reply.errors.map(({ details: _d, ...e }) => e),
    });
    expect(o.response).toContain('<CorrelationID>corr-1</CorrelationID>');
    const badVerb = registry.handle(msg('change', 'MasterDataLinkageConfig', linkage('M1', 'POD1')));
    expect(!badVerb.ok && badVerb.reply.errors[0]).toMatchObject({
      code: 'MF_CIM_VERB',
      xpath: '/RequestMessage/Header/Verb',
    });
    expect(registry.snapshot()).toBe(before);
  });

  it('payload in the wrong namespace and missing mandatory elements are all reported', () => {
    const registry = new Registry();
    const noEvent = linkage('M1', 'POD1', 'urn:wrong').replace(
      /<ConfigurationEvent>.*?<\/ConfigurationEvent>/,
      '',
    );
    const o = registry.handle(msg('create', 'MasterDataLinkageConfig', noEvent));
    expect(!o.ok && o.reply.errors.map((e) => e.code)).toEqual(['MF_CIM_NAMESPACE', 'MF_CIM_MISSING']);
    expect(!o.ok && o.reply.errors[1]!.xpath).toBe(
      '/RequestMessage/Payload/MasterDataLinkageConfig/ConfigurationEvent/createdDateTime',
    );
    const badDate = registry.handle(
      msg(
        'create',
        'MasterDataLinkageConfig',
        linkage('M1', 'POD1').replace('2026-01-01T00:00:00Z', 'yesterday'),
      ),
    );
    expect(!badDate.ok && badDate.reply.errors.map((e) => [e.code, e.xpath])).toEqual([
      ['MF_CIM_VALUE', '/RequestMessage/Payload/MasterDataLinkageConfig/ConfigurationEvent/createdDateTime'],
    ]);
    const noPayload = registry.handle(msg('create', 'MasterDataLinkageConfig', ''));
    expect(!noPayload.ok && noPayload.reply.errors[0]!.code).toBe('MF_CIM_MISSING');
    const seedStyle = registry.handle(
      msg(
        'create',
        'MasterDataLinkageConfig',
        linkage('M1', 'POD1', 'http://iec.ch/TC57/2011/schema/message'),
      ),
    );
    expect(!seedStyle.ok && seedStyle.reply.errors[0]!.reason).toMatch(/message namespace/);
    expect(registry.links.size).toBe(0);
  });

  it('MeterConfig create provisions new meters; a meter that exists fails the whole request', () => {
    const registry = new Registry();
    const payload = (ids: string[]) =>
      `<Payload><MeterConfig xmlns="http://iec.ch/TC57/2011/MeterConfig#">${ids.map((id) => `<Meter><serialNumber>${id}</serialNumber><Names><name>${id}</name></Names></Meter>`).join('')}</MeterConfig></Payload>`;
    const ok = registry.handle(msg('create', 'MeterConfig', payload(['M3', 'M4'])));
    expect(ok.ok).toBe(true);
    expect(registry.meters.has('M4')).toBe(true);
    const before = registry.snapshot();
    const bad = registry.handle(msg('create', 'MeterConfig', payload(['M5', 'M1', 'M6'])));
    expect(!bad.ok && bad.reply.errors.map((e) => e.xpath)).toEqual([
      '/RequestMessage/Payload/MeterConfig/Meter[2]',
    ]);
    expect(registry.snapshot()).toBe(before);
  });

  it('EndDeviceControls: disconnect, connect and power reduction parse; bad codes, unknown meters and missing limits are listed', () => {
    const registry = new Registry();
    const ctl = (code: string, meters: string[], attrs = '') =>
      `<EndDeviceControl><EndDeviceControlAttribute><name>x</name><value>y</value></EndDeviceControlAttribute>${attrs}<EndDeviceControlType ref="${code}"/>${meters.map((m) => `<EndDevices><Names><name>${m}</name></Names></EndDevices>`).join('')}</EndDeviceControl>`;
    const supply =
      '<EndDeviceControlAttribute><name>SupplyCapacityLimit</name><value>3000</value></EndDeviceControlAttribute>';
    const ok = registry.handle(
      msg(
        'create',
        'EndDeviceControls',
        controls(ctl('3.31.0.23', ['M1']) + ctl('0.31.0.18', ['M2']) + ctl('3.31.139.26', ['M1'], supply)),
      ),
    );
    expect(
      ok.ok &&
        ok.request.noun === 'EndDeviceControls' &&
        ok.request.controls.map((c) => [c.kind, c.meterIds, c.supplyCapacityLimitW]),
    ).toEqual([
      ['disconnect', ['M1'], undefined],
      ['connect', ['M2'], undefined],
      ['powerReductionOn', ['M1'], 3000],
    ]);
    const bad = registry.handle(
      msg(
        'create',
        'EndDeviceControls',
        controls(ctl('3.0.211.23', ['M1']) + ctl('3.31.0.23', ['M7']) + ctl('3.31.139.26', ['M2'])),
      ),
    );
    expect(!bad.ok && bad.reply.errors.map((e) => `${e.code} ${e.xpath}`)).toEqual([
      'MF_CIM_CODE /RequestMessage/Payload/EndDeviceControls/EndDeviceControl[1]/EndDeviceControlType',
      'MF_UNKNOWN_METER /RequestMessage/Payload/EndDeviceControls/EndDeviceControl[2]/EndDevices[1]',
      'MF_CIM_MISSING /RequestMessage/Payload/EndDeviceControls/EndDeviceControl[3]/EndDeviceControlAttribute',
    ]);
    expect(validateXml(!bad.ok ? bad.response : '').output).toMatch(/^OK/);
  });

  it('GetMeterReadings (on-demand): meters and reading types are checked against the registry and the mapping table', () => {
    const registry = new Registry();
    const get = (inner: string, async = '') =>
      msg(
        'get',
        'MeterReadings',
        `<Request><GetMeterReadings xmlns="http://iec.ch/TC57/2011/GetMeterReadings#">${inner}</GetMeterReadings></Request>`,
        async,
      );
    const ok = registry.handle(
      get(
        '<EndDevice><Names><name>M1</name></Names></EndDevice><ReadingType><mRID>0.0.0.1.1.1.12.0.0.0.0.0.0.0.0.3.72.0</mRID></ReadingType>',
      ),
    );
    expect(ok.ok && ok.request.noun === 'GetMeterReadings' && ok.request).toMatchObject({
      meterIds: ['M1'],
      onDemand: true,
      readingTypes: ['0.0.0.1.1.1.12.0.0.0.0.0.0.0.0.3.72.0'],
    });
    const asyncReq = registry.handle(
      get('<EndDevice><Names><name>M1</name></Names></EndDevice>', '<AsyncReplyFlag>true</AsyncReplyFlag>'),
    );
    expect(asyncReq.ok && asyncReq.request.noun === 'GetMeterReadings' && asyncReq.request.onDemand).toBe(
      false,
    );
    const bad = registry.handle(
      get(
        '<EndDevice><Names><name>M8</name></Names></EndDevice><ReadingType><mRID>0.0.16.1.1</mRID></ReadingType><ReadingType><Names><name>x</name></Names></ReadingType>',
      ),
    );
    expect(!bad.ok && bad.reply.errors.map((e) => e.code)).toEqual([
      'MF_UNKNOWN_METER',
      'MF_CIM_CODE',
      'MF_CIM_MISSING',
    ]);
    const empty = registry.handle(get(''));
    expect(!empty.ok && empty.reply.errors[0]!.reason).toMatch(/names no EndDevice or UsagePoint/);
  });

  it('malformed XML, a bomb and an unknown noun become FAILED replies, not exceptions', () => {
    const registry = new Registry();
    for (const [xml, code] of [
      ['<RequestMessage', 'MF_XML_MALFORMED'],
      ['<!DOCTYPE a [<!ENTITY b "c">]><a>&b;</a>', 'MF_XML_DOCTYPE'],
      [msg('create', 'Banana', ''), 'MF_CIM_NOUN'],
      ['<Other xmlns="urn:x"/>', 'MF_CIM_NAMESPACE'],
    ] as const) {
      const o = registry.handle(xml);
      expect(!o.ok && o.reply.errors[0]!.code).toBe(code);
      expect(!o.ok && validateXml(o.response).ok).toBe(true);
    }
  });

  it('OK replies carry Error code 0.0 and validate; item outcomes combine into OK / PARTIAL / FAILED', () => {
    const registry = new Registry();
    const o = registry.handle(msg('create', 'MasterDataLinkageConfig', linkage('M1', 'POD1')));
    const xml = o.ok ? encodeOkReply(o.request, { nowMs: 0 }) : '';
    expect(xml).toContain('<Result>OK</Result>');
    expect(xml).toContain('<code>0.0</code>');
    expect(validateXml(xml).output).toMatch(/^OK/);
    const err = { code: 'MF_DEVICE_TIMEOUT', level: 'FATAL' as const, reason: 'no answer' };
    expect(replyForItems([undefined, undefined]).result).toBe('OK');
    expect(replyForItems([undefined, err]).result).toBe('PARTIAL');
    expect(replyForItems([err, err]).result).toBe('FAILED');
  });
  it('UsagePointLocationConfig (no public XSD; namespace assumed per ami-cim.md) provisions usage points with their address', () => {
    const registry = new Registry();
    const NS = 'http://iec.ch/TC57/2011/UsagePointLocationConfig#';
    const loc = (id: string, ns = NS) =>
      `<Payload><UsagePointLocationConfig xmlns="${ns}"><UsagePointLocation><mRID>${id}-m</mRID><Names><name>${id}</name></Names><mainAddress><streetDetail><name>Via Roma</name><number>12</number></streetDetail><townDetail><name>Roma</name></townDetail></mainAddress><ConfigurationEvents><effectiveDateTime>2026-01-01T00:00:00Z</effectiveDateTime></ConfigurationEvents></UsagePointLocation></UsagePointLocationConfig></Payload>`;
    const ok = registry.handle(msg('create', 'UsagePointLocationConfig', loc('POD7')));
    expect(ok.ok && ok.request.noun === 'UsagePointLocationConfig' && ok.request.locations[0]).toMatchObject({
      id: 'POD7',
      street: 'Via Roma 12',
      town: 'Roma',
      effectiveDateTime: '2026-01-01T00:00:00Z',
    });
    const exists = registry.handle(msg('create', 'UsagePointLocationConfig', loc('POD1')));
    expect(!exists.ok && exists.reply.errors[0]!.code).toBe('MF_CIM_EXISTS');
    const wrongNs = registry.handle(
      msg('change', 'UsagePointLocationConfig', loc('POD1', 'http://iec.ch/TC57/2011/UsagePointConfig#')),
    );
    expect(!wrongNs.ok && wrongNs.reply.errors[0]!.code).toBe('MF_CIM_NAMESPACE');
  });
  it('on-demand reading replies carry MeterReadings (OK), or a timeout error (FAILED), and validate', () => {
    const registry = new Registry();
    const o = registry.handle(
      msg(
        'get',
        'MeterReadings',
        '<Request><GetMeterReadings xmlns="http://iec.ch/TC57/2011/GetMeterReadings#"><EndDevice><Names><name>M1</name></Names></EndDevice></GetMeterReadings></Request>',
      ),
    );
    if (!o.ok) throw new Error('request should parse');
    const reading = {
      meterSerial: 'M1',
      kind: 'register' as const,
      quantity: { source: 'obis' as const, code: '1.8.0' },
      value: 1234.5,
      unit: 'kWh',
      timestampMs: Date.UTC(2026, 0, 1, 10),
    };
    const ok = encodeMeterReadingsReply(o.request, [reading], { nowMs: Date.UTC(2026, 0, 1, 10, 0, 5) });
    expect(validateXml(ok).output).toMatch(/^OK/);
    expect(ok).toContain('<Result>OK</Result>');
    expect(ok).toContain('<value>1234.5</value>');
    expect(ok).toContain('<CorrelationID>corr-1</CorrelationID>');
    const timeout = encodeMeterReadingsReply(o.request, [], {
      nowMs: 0,
      errors: [
        {
          code: 'MF_DEVICE_TIMEOUT',
          level: 'FATAL',
          reason: 'meter M1 did not answer within 30000 ms',
          xpath: '/RequestMessage/Request/GetMeterReadings/EndDevice[1]',
        },
      ],
    });
    expect(validateXml(timeout).output).toMatch(/^OK/);
    expect(readReply(child(parseXml(timeout), 'Reply')!).errors[0]).toMatchObject({
      code: 'MF_DEVICE_TIMEOUT',
      xpath: '/RequestMessage/Request/GetMeterReadings/EndDevice[1]',
    });
    const partial = encodeRequestReply(
      o.request,
      replyForItems([undefined, { code: 'MF_DEVICE_TIMEOUT', level: 'FATAL', reason: 'x' }]),
      { nowMs: 0 },
    );
    expect(partial).toContain('<Result>PARTIAL</Result>');
    expect(validateXml(partial).output).toMatch(/^OK/);
  });
});
