import { KNX_MULTICAST_ADDRESS, KNX_PORT } from './constants.js';
import { KnxError } from './errors.js';
import { decodeFrame, encodeFrame, type KnxFrame } from './frame.js';
import type { DeviceInfoDib, Dib, Hpai } from './structures.js';
import type { Endpoint } from './tunnel-types.js';
import { bindUdp, closeUdp, localAddressFor, sendUdp } from './udp.js';

/**
 * Discovery (SEARCH_REQUEST, multicast to 224.0.23.12:3671 or unicast to a known gateway) and
 * description (DESCRIPTION_REQUEST). Responses are collected for a bounded window and count.
 */

export type DiscoveredGateway = {
  /** Where the response came from. */
  from: Endpoint;
  /** The control endpoint the gateway announces. */
  control: Hpai;
  deviceInfo?: DeviceInfoDib;
  families: { family: number; version: number }[];
  dibs: Dib[];
};

export type SearchOptions = {
  /** Unicast targets; when empty, a multicast search is sent. */
  targets?: Endpoint[];
  /** Local interface address to send from (multicast interface too). Default: route to the target. */
  localAddress?: string;
  /** Port of the multicast search (3671 by standard; tests use a free one). */
  multicastPort?: number;
  timeoutMs?: number;
  maxResponses?: number;
};

function summarize(from: Endpoint, control: Hpai, dibs: Dib[]): DiscoveredGateway {
  const deviceInfo = dibs.find((d): d is DeviceInfoDib => d.type === 'deviceInfo');
  const families = dibs.flatMap((d) => (d.type === 'supportedServices' ? d.families : []));
  return { from, control, dibs, families, ...(deviceInfo ? { deviceInfo } : {}) };
}

export async function searchGateways(options: SearchOptions = {}): Promise<DiscoveredGateway[]> {
  const multicast = { host: KNX_MULTICAST_ADDRESS, port: options.multicastPort ?? KNX_PORT };
  const targets = options.targets?.length ? options.targets : [multicast];
  const timeoutMs = options.timeoutMs ?? 3_000;
  const maxResponses = options.maxResponses ?? 64;
  const localAddress = options.localAddress ?? (await localAddressFor(targets[0]!.host, targets[0]!.port));
  const socket = await bindUdp(localAddress, 0);
  try {
    if (!options.targets?.length) socket.setMulticastInterface(localAddress);
    const found: DiscoveredGateway[] = [];
    const done = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      socket.on('message', (msg, rinfo) => {
        try {
          const frame = decodeFrame(new Uint8Array(msg));
          if (frame.service !== 'SEARCH_RESPONSE') return;
          found.push(summarize({ host: rinfo.address, port: rinfo.port }, frame.control, frame.dibs));
          if (found.length >= maxResponses || (options.targets?.length && found.length >= targets.length)) {
            clearTimeout(timer);
            resolve();
          }
        } catch {
          // A malformed response is not a gateway; keep listening.
        }
      });
    });
    const request = encodeFrame({
      service: 'SEARCH_REQUEST',
      discovery: { protocol: 'udp', ip: localAddress, port: socket.address().port },
    });
    for (const t of targets) await sendUdp(socket, request, t.host, t.port);
    await done;
    return found;
  } finally {
    await closeUdp(socket);
  }
}

/** DESCRIPTION_REQUEST to one gateway; rejects with MF_KNX_TIMEOUT when it does not answer. */
export async function describeGateway(gateway: Endpoint, timeoutMs = 3_000): Promise<DiscoveredGateway> {
  const localAddress = await localAddressFor(gateway.host, gateway.port);
  const socket = await bindUdp(localAddress, 0);
  try {
    const response = new Promise<Extract<KnxFrame, { service: 'DESCRIPTION_RESPONSE' }>>(
      (resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              new KnxError(
                'MF_KNX_TIMEOUT',
                `no DESCRIPTION_RESPONSE from ${gateway.host}:${gateway.port} in ${timeoutMs} ms`,
              ),
            ),
          timeoutMs,
        );
        socket.on('message', (msg) => {
          try {
            const frame = decodeFrame(new Uint8Array(msg));
            if (frame.service !== 'DESCRIPTION_RESPONSE') return;
            clearTimeout(timer);
            resolve(frame);
          } catch {
            // ignore malformed datagrams
          }
        });
      },
    );
    const control: Hpai = { protocol: 'udp', ip: localAddress, port: socket.address().port };
    await sendUdp(
      socket,
      encodeFrame({ service: 'DESCRIPTION_REQUEST', control }),
      gateway.host,
      gateway.port,
    );
    const frame = await response;
    return summarize(gateway, control, frame.dibs);
  } finally {
    await closeUdp(socket);
  }
}

/** Parses "host" or "host:port" (default port 3671). */
export function parseEndpoint(text: string): Endpoint {
  const match = /^([^:\s]+)(?::(\d{1,5}))?$/.exec(text.trim());
  const port = match?.[2] === undefined ? KNX_PORT : Number(match[2]);
  if (!match || port < 1 || port > 65535) {
    throw new KnxError('MF_KNX_CONFIG', `"${text}" is not a gateway address (host or host:port)`, { text });
  }
  return { host: match[1]!, port };
}
