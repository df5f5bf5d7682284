/** IEC 61968-100 / 61968-9 (2011) namespaces (ami-cim.md (b); ../shared/cim-xsd/README.md). */
export const MESSAGE_NS = 'http://iec.ch/TC57/2011/schema/message';
export const SOAP11_NS = 'http://schemas.xmlsoap.org/soap/envelope/';
export const SOAP12_NS = 'http://www.w3.org/2003/05/soap-envelope';

export type PayloadNoun =
  | 'MeterReadings'
  | 'GetMeterReadings'
  | 'EndDeviceEvents'
  | 'EndDeviceControls'
  | 'MeterConfig'
  | 'UsagePointConfig'
  | 'UsagePointLocationConfig'
  | 'MasterDataLinkageConfig';

/** Payload namespace of a noun: `http://iec.ch/TC57/2011/<Noun>#`. */
export function payloadNs(noun: PayloadNoun): string {
  return `http://iec.ch/TC57/2011/${noun}#`;
}

/** `…/2011/<Noun>Message` (and cim4's 2017 EndDeviceControlsMessage) -> noun, else undefined. */
export function nounOfWrapperNs(ns: string): string | undefined {
  const m = /^http:\/\/iec\.ch\/TC57\/(?:2011|2017)\/([A-Za-z]+)Message$/.exec(ns);
  return m?.[1];
}

/** `…/2011/<Noun>#` -> noun, else undefined. */
export function nounOfPayloadNs(ns: string): string | undefined {
  const m = /^http:\/\/iec\.ch\/TC57\/2011\/([A-Za-z]+)#$/.exec(ns);
  return m?.[1];
}
