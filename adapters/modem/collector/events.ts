import type { DeviceEvent } from '../../field-data.js';
import type { ModemErrorCode } from '../errors.js';

/** What the collector reports, for logs, tests, metrics and notifications. */
export type CollectorEvents = {
  'modem-online': [{ imei: string; port: number; registered: boolean; remote: string }];
  'modem-offline': [{ imei: string; reason: string }];
  'modem-replaced': [{ imei: string; oldRemote: string; newRemote: string }];
  'modem-rejected': [{ remote: string; code: ModemErrorCode | 'MF_MODEM_CAPACITY'; message: string }];
  'modem-status': [{ imei: string }];
  'poller-attached': [{ imei: string; port: number; remote: string; forwarded: boolean }];
  'poller-detached': [{ imei: string; port: number; remote: string }];
  'poller-rejected': [{ port: number; imei?: string; remote: string; code: string; message: string }];
  'device-event': [DeviceEvent];
};
