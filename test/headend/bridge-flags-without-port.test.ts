import { parseArgs } from 'node:util';
import { describe, expect, it } from 'vitest';
import { bridgeFlagsWithoutPort, integrationFlags } from '../../actors/integration/bridge/cli-flags.js';
import {
  integrationHostFlags,
  readIntegrationHostFlags,
} from '../../actors/integration/bridge/host-flags.js';

/**
 * The check `meterfabric up` and `meterfabric demo` share: a flag that only acts on a bridge,
 * given without the port flag that starts that bridge, is refused instead of ignored.
 */

/** As the demo CLI parses them (no --bridge-host: its bridges are always on loopback). */
const demoValues = (args: string[]) =>
  parseArgs({
    args,
    options: { ...integrationFlags, 'http-port': { type: 'string' }, 'grpc-port': { type: 'string' } },
    strict: true,
  }).values;
const upValues = (args: string[]) =>
  parseArgs({ args, options: { ...integrationHostFlags }, strict: true }).values;

const bridgeOnly = [
  ['--token', 'x'],
  ['--token-file', '/run/secrets/token'],
  ['--tls-cert', 'cert.pem'],
  ['--tls-key', 'key.pem'],
  ['--tls-client-ca', 'ca.pem'],
  ['--tls-allowed-clients', 'dso'],
] as const;

const withoutPort = (flag: string) =>
  `${flag} configures the bridge, which only starts with --http-port and/or --grpc-port: add one, or drop ${flag} (without a port it would do nothing)`;
const withoutGrpcPort =
  '--max-subscriber-buffered-mib bounds the gRPC SubscribeEvents streams: add --grpc-port';

describe('bridge flags without the port that starts the bridge', () => {
  it.each(bridgeOnly)('%s without --http-port or --grpc-port is refused, naming both', (flag, value) => {
    expect(bridgeFlagsWithoutPort(demoValues([flag, value]))).toEqual([withoutPort(flag)]);
  });

  it('--bridge-host (up only) without a port is refused the same way', () => {
    expect(bridgeFlagsWithoutPort(upValues(['--bridge-host', '0.0.0.0']))).toEqual([
      withoutPort('--bridge-host'),
    ]);
  });

  it.each(bridgeOnly)('%s with --http-port or --grpc-port is accepted', (flag, value) => {
    expect(bridgeFlagsWithoutPort(demoValues([flag, value, '--http-port', '0']))).toEqual([]);
    expect(bridgeFlagsWithoutPort(demoValues([flag, value, '--grpc-port', '7443']))).toEqual([]);
  });

  it('every flag given is named, one problem each', () => {
    expect(
      bridgeFlagsWithoutPort(
        demoValues([
          '--token',
          'x',
          '--tls-cert',
          'c',
          '--tls-key',
          'k',
          '--max-subscriber-buffered-mib',
          '8',
        ]),
      ),
    ).toEqual([withoutPort('--token'), withoutPort('--tls-cert'), withoutPort('--tls-key'), withoutGrpcPort]);
  });

  it('--max-subscriber-buffered-mib (gRPC only) needs --grpc-port: without a port or with --http-port alone it is refused', () => {
    expect(bridgeFlagsWithoutPort(demoValues(['--max-subscriber-buffered-mib', '8']))).toEqual([
      withoutGrpcPort,
    ]);
    expect(
      bridgeFlagsWithoutPort(demoValues(['--max-subscriber-buffered-mib', '8', '--http-port', '0'])),
    ).toEqual([withoutGrpcPort]);
    expect(
      bridgeFlagsWithoutPort(demoValues(['--max-subscriber-buffered-mib', '8', '--grpc-port', '0'])),
    ).toEqual([]);
  });

  it('--max-subscribers (gRPC only) needs --grpc-port: without a port or with --http-port alone it is refused', () => {
    const withoutGrpc = '--max-subscribers bounds the gRPC SubscribeEvents streams: add --grpc-port';
    expect(bridgeFlagsWithoutPort(demoValues(['--max-subscribers', '4']))).toEqual([withoutGrpc]);
    expect(bridgeFlagsWithoutPort(demoValues(['--max-subscribers', '4', '--http-port', '0']))).toEqual([
      withoutGrpc,
    ]);
    expect(bridgeFlagsWithoutPort(demoValues(['--max-subscribers', '4', '--grpc-port', '0']))).toEqual([]);
  });

  it('--webhook-config needs no bridge: accepted without a port', () => {
    expect(bridgeFlagsWithoutPort(demoValues(['--webhook-config', 'hooks.json']))).toEqual([]);
  });

  it.each([...bridgeOnly, ['--bridge-host', '0.0.0.0'] as const])(
    '`up` refuses %s without a port with MF_CONFIG_INVALID, before reading any file',
    async (flag, value) => {
      await expect(readIntegrationHostFlags(upValues([flag, value]), { env: {} })).rejects.toMatchObject({
        code: 'MF_CONFIG_INVALID',
        message: expect.stringContaining(withoutPort(flag)),
      });
    },
  );
});
