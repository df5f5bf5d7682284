import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeGateway } from '../../../adapters/knx/discovery.js';
import { waitFor } from '../../support/wait.js';

/**
 * Debian's knxd as a KNXnet/IP tunnelling server on loopback (reference §4, INI variant so that
 * heartbeat-timeout can be set). knxd always binds 0.0.0.0:3671, so only one may run at a time:
 * the suites using it are *.int.test.ts (run serially). stop() kills it by PID.
 */
export type KnxdHandle = {
  pid: number;
  socketPath: string;
  dir: string;
  output: () => string;
  stop(): Promise<void>;
};

export type KnxdOptions = {
  /** Size of the tunnel/client address pool (knxtool calls take one briefly too). */
  clientAddresses?: number;
  heartbeatTimeoutS?: number;
  /** Extra [main] or server lines, e.g. a tunnelling client of another gateway. */
  extraConnections?: { name: string; lines: string[] }[];
  /** Disable the KNXnet/IP server (e.g. when knxd is only a client of our simulator). */
  noServer?: boolean;
  /**
   * Also route (ROUTING_INDICATION on 224.0.23.12:3671). knxd 0.14.54 joins the group on the
   * default-route interface whatever `interface` says, so routing leaves `interface` unset.
   */
  routing?: boolean;
};

export async function startKnxd(options: KnxdOptions = {}): Promise<KnxdHandle> {
  const dir = mkdtempSync(join(tmpdir(), 'mf-knxd-'));
  const socketPath = join(dir, 'knx.sock');
  const connections = [
    ...(options.noServer ? [] : ['server']),
    'A.unix',
    ...(options.extraConnections ?? []).map((c) => c.name),
  ];
  if (!options.extraConnections?.length) connections.push('B.dummy');
  const ini = [
    '[main]',
    'addr = 1.1.250',
    `client-addrs = 1.1.251:${options.clientAddresses ?? 8}`,
    `connections = ${connections.join(',')}`,
    'systemd = false',
    '[server]',
    'server = ets_router',
    'tunnel = tunnel',
    'discover = true',
    ...(options.routing ? ['router = router'] : ['interface = lo']),
    `heartbeat-timeout = ${options.heartbeatTimeoutS ?? 120}`,
    '[A.unix]',
    'server = knxd_unix',
    `path = ${socketPath}`,
    'systemd-ignore = true',
    '[B.dummy]',
    'driver = dummy',
    ...(options.extraConnections ?? []).flatMap((c) => [`[${c.name}]`, ...c.lines]),
    '',
  ].join('\n');
  const iniPath = join(dir, 'knxd.ini');
  writeFileSync(iniPath, ini);
  let output = '';
  const child: ChildProcess = spawn('knxd', [iniPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', (d: Buffer) => {
    output += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    output += d.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let dead = false;
  void exited.then(() => {
    dead = true;
  });
  const pid = child.pid!;
  const stop = async (): Promise<void> => {
    if (!dead) {
      process.kill(pid, 'SIGTERM');
      const timer = setTimeout(() => !dead && process.kill(pid, 'SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    if (!options.noServer) {
      await waitFor(
        async () => {
          if (dead) throw new Error(`knxd exited: ${output}`);
          return describeGateway({ host: '127.0.0.1', port: 3671 }, 300).then(
            () => true,
            () => false,
          );
        },
        'knxd to answer DESCRIPTION_REQUEST on 127.0.0.1:3671',
        15_000,
        100,
      );
    } else {
      await waitFor(
        () => {
          if (dead) throw new Error(`knxd exited: ${output}`);
          return isSocket(socketPath);
        },
        'knxd unix socket',
        15_000,
        100,
      );
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { pid, socketPath, dir, output: () => output, stop };
}

function isSocket(path: string): boolean {
  try {
    return statSync(path).isSocket();
  } catch {
    return false;
  }
}

/** Runs knxtool with the given arguments against the knxd Unix socket. */
export function knxtool(handle: KnxdHandle, command: string, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'knxtool',
      [command, `local:${handle.socketPath}`, ...args],
      { timeout: 10_000 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`knxtool ${command} ${args.join(' ')} failed: ${err.message} ${stderr}`));
        else resolve(stdout);
      },
    );
  });
}
