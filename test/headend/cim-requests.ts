/** Inbound CIM requests as integrators send them: SOAP-wrapped (Connexo style) or bare RequestMessage. */

const MSG = 'http://iec.ch/TC57/2011/schema/message';

export function soapMeterConfig(
  meters: { serial: string; concentrator?: string; commissioned?: boolean; manufacturer?: string }[],
): string {
  const body = meters
    .map(
      (m) => `<met1:Meter>
        <met1:serialNumber>${m.serial}</met1:serialNumber>
        <met1:type>MF-SIM6T</met1:type>
        ${m.concentrator ? `<met1:ComFunction><met1:amrRouter>${m.concentrator}</met1:amrRouter></met1:ComFunction>` : ''}
        <met1:EndDeviceInfo><met1:AssetModel><met1:modelNumber>1</met1:modelNumber><met1:modelVersion>1.0</met1:modelVersion>
          <met1:Manufacturer><met1:Names><met1:name>${m.manufacturer ?? 'MFS'}</met1:name></met1:Names></met1:Manufacturer>
        </met1:AssetModel></met1:EndDeviceInfo>
        ${m.commissioned ? '<met1:status><met1:value>Commissioned</met1:value></met1:status>' : ''}
      </met1:Meter>`,
    )
    .join('');
  return `<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:met="http://iec.ch/TC57/2011/MeterConfigMessage" xmlns:mes="${MSG}" xmlns:met1="http://iec.ch/TC57/2011/MeterConfig#">
  <soapenv:Header/><soapenv:Body><met:CreateMeterConfig>
    <met:Header><mes:Verb>create</mes:Verb><mes:Noun>MeterConfig</mes:Noun><mes:MessageID>mc-1</mes:MessageID></met:Header>
    <met:Payload><met1:MeterConfig>${body}</met1:MeterConfig></met:Payload>
  </met:CreateMeterConfig></soapenv:Body></soapenv:Envelope>`;
}

export function usagePointConfig(pods: string[]): string {
  return `<?xml version="1.0"?>
<RequestMessage xmlns="${MSG}">
  <Header><Verb>create</Verb><Noun>UsagePointLocationConfig</Noun><MessageID>up-1</MessageID></Header>
  <Payload><UsagePointLocationConfig xmlns="http://iec.ch/TC57/2011/UsagePointLocationConfig#">
    ${pods.map((p) => `<UsagePoint><Names><name>${p}</name></Names></UsagePoint>`).join('')}
  </UsagePointLocationConfig></Payload>
</RequestMessage>`;
}

export function linkageConfig(
  meter: string,
  pod: string,
  effective: string,
  verb = 'create',
  tariff?: string,
): string {
  return `<?xml version="1.0"?>
<RequestMessage xmlns="${MSG}">
  <Header><Verb>${verb}</Verb><Noun>MasterDataLinkageConfig</Noun><MessageID>ml-1</MessageID></Header>
  <Payload><MasterDataLinkageConfig xmlns="http://iec.ch/TC57/2011/MasterDataLinkageConfig#">
    <ConfigurationEvent><createdDateTime>${effective}</createdDateTime><effectiveDateTime>${effective}</effectiveDateTime></ConfigurationEvent>
    <Meter><Names><name>${meter}</name></Names></Meter>
    <UsagePoint><Names><name>${pod}</name></Names>${tariff ? `<Names><name>${tariff}</name><NameType><name>TariffProfile</name></NameType></Names>` : ''}</UsagePoint>
  </MasterDataLinkageConfig></Payload>
</RequestMessage>`;
}

export function getMeterReadings(meter: string, correlationId: string): string {
  return `<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:get="http://iec.ch/TC57/2011/GetMeterReadingsMessage" xmlns:mes="${MSG}" xmlns:get1="http://iec.ch/TC57/2011/GetMeterReadings#">
  <soapenv:Header/><soapenv:Body><get:GetMeterReadings>
    <get:Header><mes:Verb>get</mes:Verb><mes:Noun>MeterReadings</mes:Noun><mes:CorrelationID>${correlationId}</mes:CorrelationID></get:Header>
    <get:Request><get1:GetMeterReadings><get1:EndDevice><get1:Names><get1:name>${meter}</get1:name></get1:Names></get1:EndDevice></get1:GetMeterReadings></get:Request>
  </get:GetMeterReadings></soapenv:Body></soapenv:Envelope>`;
}

export function endDeviceControl(meter: string, code: string, correlationId: string): string {
  return `<?xml version="1.0"?>
<RequestMessage xmlns="${MSG}">
  <Header><Verb>create</Verb><Noun>EndDeviceControls</Noun><CorrelationID>${correlationId}</CorrelationID></Header>
  <Payload><EndDeviceControls xmlns="http://iec.ch/TC57/2011/EndDeviceControls#">
    <EndDeviceControl><EndDeviceControlType ref="${code}"/><EndDevices><Names><name>${meter}</name></Names></EndDevices></EndDeviceControl>
  </EndDeviceControls></Payload>
</RequestMessage>`;
}
