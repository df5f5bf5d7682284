import { createServer } from 'node:net';
import { ConfigError, MeterfabricError } from '../../core/errors.js';

/**
 * The loopback ports `meterfabric up` binds, checked before it starts anything, so a taken
 * port is a clear error naming the port and the flag to pass instead of a node that dies in
 * its log (decided in session 16; README "Quick start"):
 * - `--base-port` given: its ports are used as given; one in use is refused (MF_PORT_IN_USE)
 *   with the port, whose it is, and a free `--base-port` to pass.
 * - `--base-port` not given: the first run of free ports from 7101 up is used (and printed).
 * - etcd's client and peer ports (`--etcd host:port`, peer = port + 1) when `up` starts etcd:
 *   one in use is refused, naming it and `--etcd`.
 * A port free at the check can still be taken before the node binds it (another process in
 * between); the node's log then names it.
 */
export const defaultBasePort = 7101;
/** How far above the base `up` looks for a free run of ports (explicitly or by default). */
export const portSearchSpan = 1000;

export class PortInUseError extends MeterfabricError {
  constructor(message: string, details: Record<string, unknown>) {
    super('MF_PORT_IN_USE', message, details);
  }
}

/** Whether `host:port` can be bound now (it is closed again at once). */
export function portFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** The first of `ports` that cannot be bound on `host`, if any. */
export async function firstTakenPort(
  ports: readonly number[],
  host = '127.0.0.1',
): Promise<number | undefined> {
  for (const port of ports) if (!(await portFree(port, host))) return port;
  return undefined;
}

const range = (first: number, count: number) => Array.from({ length: count }, (_, i) => first + i);

/** The first base from `from` up (within portSearchSpan) whose `count` ports are free and not `reserved`. */
export async function freeBasePort(
  from: number,
  count: number,
  reserved: ReadonlySet<number> = new Set(),
  host = '127.0.0.1',
): Promise<number | undefined> {
  for (let base = from; base + count - 1 <= Math.min(65535, from + portSearchSpan); base++) {
    const ports = range(base, count);
    const blocked = ports.find((p) => reserved.has(p));
    if (blocked !== undefined) {
      base = blocked;
      continue;
    }
    const taken = await firstTakenPort(ports, host);
    if (taken === undefined) return base;
    base = taken; // the next candidate starts after the taken port
  }
  return undefined;
}

/**
 * The nodes' base port: `requested` as given (refused when one of its ports is taken), or
 * without one the first free run from 7101. `reserved`: ports `up` binds itself (etcd's).
 */
export async function chooseBasePort(options: {
  requested?: number;
  count: number;
  reserved?: ReadonlySet<number>;
  host?: string;
}): Promise<{ basePort: number; note?: string }> {
  const { count, host = '127.0.0.1' } = options;
  const reserved = options.reserved ?? new Set<number>();
  if (options.requested !== undefined) {
    const ports = range(options.requested, count);
    const clash = ports.find((p) => reserved.has(p));
    const taken = clash ?? (await firstTakenPort(ports, host));
    if (taken === undefined) return { basePort: options.requested };
    const node = `n${taken - options.requested + 1}`;
    const suggestion = await freeBasePort(options.requested + 1, count, reserved, host);
    throw new PortInUseError(
      `port ${taken} (node ${node}'s, from --base-port ${options.requested}) is ${clash !== undefined ? "etcd's" : 'already in use'} on ${host}; ${
        suggestion !== undefined
          ? `pass --base-port ${suggestion} (ports ${suggestion}-${suggestion + count - 1} are free)`
          : 'pass --base-port with a free range'
      }, or leave --base-port out and up picks free ports`,
      { port: taken, basePort: options.requested, ...(suggestion !== undefined ? { suggestion } : {}) },
    );
  }
  const basePort = await freeBasePort(defaultBasePort, count, reserved, host);
  if (basePort === undefined)
    throw new PortInUseError(
      `no ${count} consecutive free ports on ${host} from ${defaultBasePort} to ${defaultBasePort + portSearchSpan}; pass --base-port with a free range`,
      { from: defaultBasePort, count },
    );
  return basePort === defaultBasePort
    ? { basePort }
    : {
        basePort,
        note: `ports ${defaultBasePort}-${defaultBasePort + count - 1} are not all free; the nodes use ${basePort}-${basePort + count - 1} (pass --base-port to choose)`,
      };
}

/** Refuses etcd's client or peer port when taken (only checked when `up` starts etcd itself). */
export async function checkEtcdPorts(
  endpoint: string,
  clientPort: number,
  host = '127.0.0.1',
): Promise<void> {
  for (const [port, role] of [
    [clientPort, 'client'],
    [clientPort + 1, 'peer'],
  ] as const) {
    if (await portFree(port, host)) continue;
    throw new PortInUseError(
      `port ${port} (etcd's ${role} port, from --etcd ${endpoint}) is already in use on ${host}, and no etcd answers at ${endpoint}; pass --etcd 127.0.0.1:<port> with that port and the next one free (or point --etcd at a running etcd)`,
      { port, role, endpoint },
    );
  }
}

/** Why `host:port` cannot be bound now: undefined when it can (closed again at once), else the OS's code. */
export function bindRefusal(port: number, host: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'EUNKNOWN'));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(undefined)));
  });
}

/**
 * Refuses a port the bridge or metrics flags ask for that cannot be bound (in use, or an
 * address that is not this machine's): found when the head-end binds it, it would end an `up`
 * whose cluster is already running.
 */
export async function checkHostedPorts(
  ports: readonly { flag: string; host: string; port: number }[],
): Promise<void> {
  for (const { flag, host, port } of ports) {
    const refusal = await bindRefusal(port, host);
    if (refusal === undefined) continue;
    if (refusal === 'EADDRINUSE')
      throw new PortInUseError(
        `port ${port} (from ${flag} ${port}) is already in use on ${host}; pass another ${flag} (0: any free port)`,
        { port, host, flag },
      );
    // Not the machine's state but the flag's (an address of another machine, a privileged port).
    throw new ConfigError([
      `${flag}: cannot bind ${host}:${port} (${refusal}); ${
        refusal === 'EACCES'
          ? `pass a port from 1024 on`
          : `pass ${flag === '--metrics' ? 'a --metrics host' : 'a --bridge-host'} that is an address of this machine (127.0.0.1 for loopback only)`
      }`,
    ]);
  }
}
