import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseEndDeviceEventsMessage } from '../../adapters/cim/end-device-events.js';
import { parseMeterReadingsMessage } from '../../adapters/cim/meter-readings.js';
import { type ParseOutcome, parseInboundRequest } from '../../adapters/cim/requests.js';
import { cimKitDir } from './support/xsd.js';

const sample = (path: string) => readFileSync(join(cimKitDir, 'samples', path), 'utf8');
// A registry that knows the meters and usage points the change/close samples refer to.
const ctx = {
  meterExists: (id: string) => id === 'DNB-BA-000',
  usagePointExists: (id: string) => id === 'K@#Ø%!' || id === 'U,U,D,D,L,R,L,R,A,B,SELECT,START',
};

function reasons(o: ParseOutcome): string[] {
  return o.ok ? [] : o.reply.errors.map((e) => `${e.code} ${e.reason} @ ${e.xpath}`);
}

describe('the public samples in ../shared/cim-xsd/samples', () => {
  it('MasterDataLinkageConfig create and close parse into link and unlink', () => {
    const create = parseInboundRequest(
      sample('masterdatalinkageconfig/CreateMasterDataLinkageConfigRequest.xml'),
      ctx,
    );
    expect(reasons(create)).toEqual([]);
    expect(create.ok && create.request.noun === 'MasterDataLinkageConfig' && create.request.links).toEqual([
      {
        action: 'link',
        meterId: 'DNB-BA-000',
        usagePointId: 'K@#Ø%!',
        createdDateTime: '2017-07-10T00:00:00+03:00',
        effectiveDateTime: '2017-07-11T00:00:00+03:00',
      },
    ]);
    const close = parseInboundRequest(
      sample('masterdatalinkageconfig/CloseMasterDataLinkageConfigRequest.xml'),
      ctx,
    );
    expect(
      close.ok && close.request.noun === 'MasterDataLinkageConfig' && close.request.links[0]!.action,
    ).toBe('unlink');
  });

  it('UsagePointConfig change parses; create of an existing usage point is refused with the reason', () => {
    const change = parseInboundRequest(sample('usagepointconfig/ChangeUsagePointConfigRequest.xml'), ctx);
    expect(reasons(change)).toEqual([]);
    const create = parseInboundRequest(sample('usagepointconfig/CreateUsagePointConfigRequest.xml'), ctx);
    expect(reasons(create)).toEqual([
      'MF_CIM_EXISTS usage point K@#Ø%! already exists; use verb change @ /Envelope/Body/CreateUsagePointConfig/Payload/UsagePointConfig/UsagePoint[1]',
    ]);
    const fresh = parseInboundRequest(sample('usagepointconfig/CreateUsagePointConfigRequest.xml'), {
      ...ctx,
      usagePointExists: () => false,
    });
    expect(
      fresh.ok && fresh.request.noun === 'UsagePointConfig' && fresh.request.usagePoints[0],
    ).toMatchObject({ id: 'K@#Ø%!' });
  });

  it('MeterConfig create requests parse for new meters', () => {
    const none = { meterExists: () => false, usagePointExists: () => false };
    const o = parseInboundRequest(sample('meterconfig/CreateMeterConfigRequestAsync.xml'), none);
    expect(reasons(o)).toEqual([]);
    expect(o.ok && o.request.noun === 'MeterConfig' && o.request.meters[0]!.id).toBe('DEVICE-005');
    const known = parseInboundRequest(sample('meterconfig/ChangeMeterConfigRequestSync.xml'), {
      ...none,
      meterExists: () => true,
    });
    expect(reasons(known)).toEqual([]);
  });

  it('rejects the Connexo samples with a placeholder <Meter/> (no identity), naming the element', () => {
    const none = { meterExists: () => false, usagePointExists: () => false };
    for (const f of [
      'meterconfig/CreateMeterConfigRequest.xml',
      'meterconfig/CreateMeterConfigRequestSync.xml',
    ])
      expect(reasons(parseInboundRequest(sample(f), none))).toEqual([
        'MF_CIM_MISSING Meter has no mRID, name or serial number @ /Envelope/Body/CreateMeterConfig/Payload/MeterConfig/Meter[2]',
      ]);
  });

  it('rejects CreateMeterConfigWithSecurityRequest.xml (invalid per the kit README: a stray ">" in the Envelope)', () => {
    const o = parseInboundRequest(sample('meterconfig/CreateMeterConfigWithSecurityRequest.xml'), {
      meterExists: () => false,
      usagePointExists: () => false,
    });
    expect(reasons(o)).toEqual([
      'MF_CIM_MIXED_CONTENT text ">" is not allowed beside child elements @ /Envelope',
    ]);
  });

  it('GetMeterReadings: parses the request, but refuses the Connexo daily-delta ReadingType meterfabric does not produce', () => {
    const o = parseInboundRequest(sample('meterreadings/GetUsagePointReadingsRequest.xml'), ctx);
    expect(reasons(o)).toEqual([
      'MF_UNKNOWN_READING_TYPE ReadingType 11.0.0.4.1.1.12.0.0.0.0.0.0.0.0.3.72.0 is not one meterfabric can read @ /Envelope/Body/GetMeterReadings/Request/GetMeterReadings/ReadingType[1]/mRID',
    ]);
  });

  it('GetUsagePointReadingsResponse.xml (invalid per the kit README) still parses as MeterReadings data', () => {
    const parsed = parseMeterReadingsMessage(sample('meterreadings/GetUsagePointReadingsResponse.xml'));
    expect(parsed.header.verb).toBe('reply');
    const blocks = parsed.meterReadings.flatMap((m) => m.intervalBlocks);
    expect(blocks.length).toBeGreaterThan(0);
    expect(blocks.some((b) => b.readingType === '0.0.2.4.1.1.12.0.0.0.0.0.0.0.0.3.72.0')).toBe(true);
  });

  it('EndDeviceEvents samples parse as event data; as requests they are out of scope', () => {
    for (const f of [
      'enddeviceevents/CreatedEndDeviceEventsRequest.xml',
      'enddeviceevents/ClosedEndDeviceEvents.xml',
    ]) {
      const parsed = parseEndDeviceEventsMessage(sample(f));
      expect(parsed.events.length).toBeGreaterThan(0);
      expect(parsed.events.every((e) => /^\d+\.\d+\.\d+\.\d+$/.test(e.eventType))).toBe(true);
      expect(reasons(parseInboundRequest(sample(f), ctx))[0]).toMatch(
        /^MF_CIM_NOUN Noun "EndDeviceEvents" is not a request/,
      );
    }
    expect(
      reasons(parseInboundRequest(sample('getenddeviceevents/GetEndDeviceEventsRequest.xml'), ctx))[0],
    ).toMatch(/GetEndDeviceEvents/);
    expect(
      reasons(parseInboundRequest(sample('usagepointconfig/GetUsagePointConfigRequest.xml'), ctx))[0],
    ).toMatch(/Verb "get" is not accepted/);
  });

  it("cim4's EndDeviceControls (2017 wrapper): the control type 2.31.0.18 is accepted, its EndDeviceGroups are not", () => {
    const o = parseInboundRequest(sample('enddevicecontrols/CreateEndDeviceControls-cim4.xml'), ctx);
    expect(reasons(o)).toEqual([
      'MF_CIM_MISSING EndDeviceGroups are not supported; name each meter under EndDevices @ /CreateEndDeviceControls/Payload/EndDeviceControls/EndDeviceControl[1]/EndDevices',
    ]);
    expect(
      reasons(
        parseInboundRequest(sample('enddevicecontrols/EndDeviceControlsResponseMessage-cim4.xml'), ctx),
      )[0],
    ).toMatch(/Verb "reply"/);
  });
});
