/**
 * The CIM message model: plain, structured-clone-able data (it crosses into pool workers).
 * Timestamps are kept as the xs:dateTime strings that were received or will be sent, so a
 * parsed message re-encodes with the same values.
 */
export type Verb =
  | 'cancel'
  | 'canceled'
  | 'change'
  | 'changed'
  | 'create'
  | 'created'
  | 'close'
  | 'closed'
  | 'delete'
  | 'deleted'
  | 'get'
  | 'reply'
  | 'execute'
  | 'executed';

export const verbs: readonly Verb[] = [
  'cancel',
  'canceled',
  'change',
  'changed',
  'create',
  'created',
  'close',
  'closed',
  'delete',
  'deleted',
  'get',
  'reply',
  'execute',
  'executed',
];

export type MessageProperty = { name: string; value?: string };

export type MessageHeader = {
  verb: Verb;
  noun: string;
  revision?: string;
  context?: string;
  timestamp?: string;
  source?: string;
  asyncReplyFlag?: boolean;
  replyAddress?: string;
  ackRequired?: boolean;
  user?: { userId: string; organization?: string };
  messageId?: string;
  correlationId?: string;
  comment?: string;
  properties: MessageProperty[];
};

/** An IdentifiedObject reference: mRID and/or names. */
export type ObjectRef = { mRID?: string; names: string[] };

export type CimReading = {
  readingType: string;
  timeStamp?: string;
  value?: string;
  qualities: string[];
  reason?: string;
  reportedDateTime?: string;
  source?: string;
};

export type CimIntervalReading = { timeStamp?: string; value?: string; qualities: string[] };

export type CimIntervalBlock = { readingType: string; intervalReadings: CimIntervalReading[] };

export type CimMeterReading = {
  meter?: ObjectRef;
  usagePoint?: ObjectRef;
  readings: CimReading[];
  intervalBlocks: CimIntervalBlock[];
  valuesInterval?: { start?: string; end?: string };
};

export type CimEventDetail = { name: string; value?: string };

export type CimEndDeviceEvent = {
  mRID?: string;
  createdDateTime: string;
  issuerID?: string;
  issuerTrackingID?: string;
  reason?: string;
  severity?: string;
  userID?: string;
  assets?: ObjectRef;
  details: CimEventDetail[];
  eventType: string;
  usagePoint?: ObjectRef;
};

export type ReplyResult = 'OK' | 'PARTIAL' | 'FAILED';
export type ErrorLevel = 'INFORM' | 'WARNING' | 'FATAL' | 'CATASTROPHIC';

/** One problem with an inbound message; `xpath` locates the element it concerns. */
export type ReplyError = {
  code: string;
  level: ErrorLevel;
  reason: string;
  xpath?: string;
  details?: string;
};

export type Reply = { result: ReplyResult; errors: ReplyError[] };
