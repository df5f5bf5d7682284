import type { ControlKind } from './event-type-map.js';
import type { MessageHeader, ObjectRef } from './model.js';

/**
 * Typed inbound requests, produced only when a message passed every check. Identifiers are
 * meterfabric's keys (first name, else mRID) resolved from the ObjectRefs.
 */
export type MeterConfigItem = {
  id: string;
  ref: ObjectRef;
  serialNumber?: string;
  type?: string;
  manufacturer?: string;
  modelNumber?: string;
  amrAddress?: string;
  communicationTechnology?: string;
  isConnected?: boolean;
};

export type UsagePointItem = {
  id: string;
  ref: ObjectRef;
  connectionState?: string;
  isSdp?: boolean;
  isVirtual?: boolean;
  phaseCode?: string;
  serviceCategory?: string;
};

export type UsagePointLocationItem = {
  id: string;
  ref: ObjectRef;
  street?: string;
  town?: string;
  effectiveDateTime?: string;
};

/**
 * One MasterDataLinkageConfig: create = link, close = unlink. The meter is always present;
 * each of usage point, contract profile (CustomerAgreement name), contract state
 * (CustomerAgreement status value) and tariff profile (PricingStructure name) is linked or
 * unlinked when given.
 */
export type LinkageItem = {
  action: 'link' | 'unlink';
  meterId: string;
  usagePointId?: string;
  contractProfile?: string;
  contractState?: string;
  tariffProfile?: string;
  createdDateTime: string;
  effectiveDateTime?: string;
};

export type ControlItem = {
  mRID?: string;
  kind: ControlKind;
  /** The EndDeviceControlType code as received. */
  code: string;
  meterIds: string[];
  startDateTime?: string;
  /** Power reduction: the supply capacity limit in W (EndDeviceControlAttribute SupplyCapacityLimit). */
  supplyCapacityLimitW?: number;
  reason?: string;
};

export type InboundRequest =
  | {
      noun: 'MeterConfig';
      verb: 'create' | 'change' | 'delete';
      header: MessageHeader;
      meters: MeterConfigItem[];
    }
  | {
      noun: 'UsagePointConfig';
      verb: 'create' | 'change' | 'delete';
      header: MessageHeader;
      usagePoints: UsagePointItem[];
    }
  | {
      noun: 'UsagePointLocationConfig';
      verb: 'create' | 'change' | 'delete';
      header: MessageHeader;
      locations: UsagePointLocationItem[];
    }
  | { noun: 'MasterDataLinkageConfig'; verb: 'create' | 'close'; header: MessageHeader; links: LinkageItem[] }
  | {
      noun: 'GetMeterReadings';
      header: MessageHeader;
      meterIds: string[];
      usagePointIds: string[];
      readingTypes: string[];
      timePeriod?: { start?: string; end?: string };
      /** AsyncReplyFlag false (or absent): the synchronous OnDemandMeterReadings spot read. */
      onDemand: boolean;
    }
  | { noun: 'EndDeviceControls'; header: MessageHeader; controls: ControlItem[] };

/** What the parser may look up, injected so parsing stays pure (the registry actor answers in production). */
export type RequestContext = {
  meterExists(id: string): boolean;
  usagePointExists(id: string): boolean;
};
