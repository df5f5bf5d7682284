/**
 * KNXnet/IP identifiers (EN 13321-2 / KNX 03.08.xx), cross-checked against xknx, Calimero and
 * knxd as listed in ../shared/reference/knx.md §1.2–1.4 and §1.7.
 */

export const HEADER_SIZE_BYTES = 6;
export const PROTOCOL_VERSION = 0x10;
/** The largest KNXnet/IP datagram we accept; a cEMI frame is at most ~270 octets. */
export const MAX_FRAME_BYTES = 512;
export const KNX_PORT = 3671;
export const KNX_MULTICAST_ADDRESS = '224.0.23.12';

export const ServiceType = {
  SEARCH_REQUEST: 0x0201,
  SEARCH_RESPONSE: 0x0202,
  DESCRIPTION_REQUEST: 0x0203,
  DESCRIPTION_RESPONSE: 0x0204,
  CONNECT_REQUEST: 0x0205,
  CONNECT_RESPONSE: 0x0206,
  CONNECTIONSTATE_REQUEST: 0x0207,
  CONNECTIONSTATE_RESPONSE: 0x0208,
  DISCONNECT_REQUEST: 0x0209,
  DISCONNECT_RESPONSE: 0x020a,
  DEVICE_CONFIGURATION_REQUEST: 0x0310,
  DEVICE_CONFIGURATION_ACK: 0x0311,
  TUNNELLING_REQUEST: 0x0420,
  TUNNELLING_ACK: 0x0421,
  ROUTING_INDICATION: 0x0530,
  ROUTING_LOST_MESSAGE: 0x0531,
  ROUTING_BUSY: 0x0532,
  ROUTING_SYSTEM_BROADCAST: 0x0533,
} as const;
export type ServiceName = keyof typeof ServiceType;

const serviceNames = new Map<number, ServiceName>(
  Object.entries(ServiceType).map(([name, code]) => [code, name as ServiceName]),
);
export function serviceName(code: number): ServiceName | undefined {
  return serviceNames.get(code);
}

/** Status octet values (connection header, CONNECT_RESPONSE, CONNECTIONSTATE_RESPONSE...). */
export const ErrorCode = {
  E_NO_ERROR: 0x00,
  E_HOST_PROTOCOL_TYPE: 0x01,
  E_VERSION_NOT_SUPPORTED: 0x02,
  E_SEQUENCE_NUMBER: 0x04,
  E_ERROR: 0x0f,
  E_CONNECTION_ID: 0x21,
  E_CONNECTION_TYPE: 0x22,
  E_CONNECTION_OPTION: 0x23,
  E_NO_MORE_CONNECTIONS: 0x24,
  E_NO_MORE_UNIQUE_CONNECTIONS: 0x25,
  E_DATA_CONNECTION: 0x26,
  E_KNX_CONNECTION: 0x27,
  E_AUTHORISATION_ERROR: 0x28,
  E_TUNNELLING_LAYER: 0x29,
  E_NO_TUNNELLING_ADDRESS: 0x2d,
  E_CONNECTION_IN_USE: 0x2e,
} as const;

const errorNames = new Map<number, string>(Object.entries(ErrorCode).map(([name, code]) => [code, name]));
export function errorName(status: number): string {
  return errorNames.get(status) ?? `E_UNKNOWN_0x${status.toString(16).padStart(2, '0')}`;
}

export const ConnectionType = {
  DEVICE_MGMT: 0x03,
  TUNNEL: 0x04,
  REMLOG: 0x06,
  REMCONF: 0x07,
  OBJSVR: 0x08,
} as const;
export const TunnelLayer = { LINK: 0x02, RAW: 0x04, BUSMONITOR: 0x80 } as const;

export const DibType = {
  DEVICE_INFO: 0x01,
  SUPP_SVC_FAMILIES: 0x02,
  IP_CONFIG: 0x03,
  IP_CUR_CONFIG: 0x04,
  KNX_ADDRESSES: 0x05,
  MFR_DATA: 0xfe,
} as const;

export const ServiceFamily = { CORE: 0x02, DEVICE_MGMT: 0x03, TUNNELLING: 0x04, ROUTING: 0x05 } as const;

export const KnxMedium = { TP1: 0x02, PL110: 0x04, RF: 0x10, IP: 0x20 } as const;

export const CemiMessageCode = {
  L_DATA_REQ: 0x11,
  L_DATA_CON: 0x2e,
  L_DATA_IND: 0x29,
  L_BUSMON_IND: 0x2b,
  M_PROP_READ_REQ: 0xfc,
  M_PROP_READ_CON: 0xfb,
  M_PROP_WRITE_REQ: 0xf6,
  M_PROP_WRITE_CON: 0xf5,
  M_PROP_INFO_IND: 0xf7,
  M_RESET_REQ: 0xf1,
  M_RESET_IND: 0xf0,
} as const;

export const cemiMessageNames: Readonly<Record<number, string>> = {
  17: 'L_Data.req',
  46: 'L_Data.con',
  41: 'L_Data.ind',
  43: 'L_Busmon.ind',
  16: 'L_Raw.req',
  45: 'L_Raw.ind',
  47: 'L_Raw.con',
  19: 'L_Poll_Data.req',
  37: 'L_Poll_Data.con',
  252: 'M_PropRead.req',
  251: 'M_PropRead.con',
  246: 'M_PropWrite.req',
  245: 'M_PropWrite.con',
  247: 'M_PropInfo.ind',
  248: 'M_FuncPropCommand.req',
  249: 'M_FuncPropStateRead.req',
  250: 'M_FuncProp.con',
  241: 'M_Reset.req',
  240: 'M_Reset.ind',
};

/** APCI service values (10-bit APCI masked with 0x3C0 for the group services). */
export const Apci = { GROUP_READ: 0x000, GROUP_RESPONSE: 0x040, GROUP_WRITE: 0x080 } as const;
