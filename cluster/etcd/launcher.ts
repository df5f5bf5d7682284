import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { isMeterfabricError, MeterfabricError } from '../../core/errors.js';
import { makeDirectorySync } from '../../core/fs/make-directory.js';
import { setprivPdeathsigUsable, warnUntiedOnce } from '../../core/process/tied-spawn.js';
import { etcdSpawnPlan } from './etcd-spawn.js';

export type EtcdOptions = {
  /** Directory for etcd's data; its log goes to `<dataDir>.log`. */
  dataDir: string;
  host?: string;
  clientPort: number;
  peerPort: number;
  /** How long to wait for /health to answer before giving up. */
  startTimeoutMs?: number;
};

export type EtcdHandle = {
  endpoint: string;
  pid: number;
  stop(): Promise<void>;
};

/** True when `etcd` (Debian's etcd-server) is on PATH. */
export function etcdAvailable(): boolean {
  return spawnSync('etcd', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** True when the etcd answering at `endpoint` has a member with `peerUrl` (v3 JSON gateway). */
async function servesPeerUrl(endpoint: string, peerUrl: string, timeoutMs = 2000): Promise<boolean> {
  try {
    const res = await fetch(`http://${endpoint}/v3/cluster/member/list`, {
      method: 'POST',
      body: '{}',
      signal: AbortSignal.timeout(timeoutMs),
    });
    const body = (await res.json()) as { members?: Array<{ peerURLs?: string[] }> };
    return (body.members ?? []).some((m) => m.peerURLs?.includes(peerUrl));
  } catch {
    return false;
  }
}

/** True when an etcd answers /health at `endpoint` (host:port) within `timeoutMs`. */
export async function etcdHealthy(endpoint: string, timeoutMs = 1000): Promise<boolean> {
  // A timer of our own, raced and kept referenced: against a listener that is not etcd and
  // closes each connection at once, Node 20's fetch can stay pending even after an abort, and
  // AbortSignal.timeout's timer is unreferenced, so `up` ran out of work and exited 13 with no
  // message instead of answering "no etcd there".
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => {
    timer = setTimeout(() => {
      controller.abort();
      resolve(false);
    }, timeoutMs);
  });
  const asked = (async () => {
    try {
      const res = await fetch(`http://${endpoint}/health`, { signal: controller.signal });
      if (!res.ok) return false;
      const body = (await res.json()) as { health?: string };
      return body.health === 'true';
    } catch {
      return false;
    }
  })();
  try {
    return await Promise.race([asked, timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

/** Said once per process: etcd then runs as before the tie (etcd-spawn.ts), with both risks. */
function warnUntied(): void {
  warnUntiedOnce(
    'MF_ETCD_UNTIED',
    'setpriv --pdeathsig is not usable here (util-linux 2.33+ is needed): etcd runs in this process group, ' +
      "so a terminal's Ctrl-C stops it before the nodes have drained, and it is not stopped if this process is killed. " +
      'Install util-linux (apt-get install -y util-linux) to avoid both.',
  );
}

/**
 * Starts a single-member etcd on loopback. The process is ours: stop() kills it by PID
 * (SIGTERM, then SIGKILL after 5 s). It runs in its own process group, so a terminal's Ctrl-C
 * does not reach it, and gets SIGTERM from the kernel if the starting process dies without
 * stopping it (etcd-spawn.ts; without setpriv: neither, with a warning). Used by
 * `meterfabric up` and by tests.
 */
export async function startEtcd(options: EtcdOptions): Promise<EtcdHandle> {
  if (!etcdAvailable()) {
    throw new MeterfabricError(
      'MF_ETCD_MISSING',
      'etcd was not found on PATH. Install it with `apt-get install -y etcd-server` or point --etcd at a running etcd.',
    );
  }
  const host = options.host ?? '127.0.0.1';
  const endpoint = `${host}:${options.clientPort}`;
  makeDirectorySync(options.dataDir);
  const logFd = openSync(`${options.dataDir}.log`, 'a');
  const etcdArgs = [
    '--name',
    'meterfabric',
    '--data-dir',
    options.dataDir,
    '--listen-client-urls',
    `http://${endpoint}`,
    '--advertise-client-urls',
    `http://${endpoint}`,
    '--listen-peer-urls',
    `http://${host}:${options.peerPort}`,
    '--initial-advertise-peer-urls',
    `http://${host}:${options.peerPort}`,
    '--initial-cluster',
    `meterfabric=http://${host}:${options.peerPort}`,
    '--initial-cluster-state',
    'new',
    '--log-level',
    'warn',
    '--logger',
    'zap',
  ];
  const tied = setprivPdeathsigUsable();
  if (!tied) warnUntied();
  const plan = etcdSpawnPlan(etcdArgs, { setprivUsable: tied, parentPid: process.pid });
  let child: ChildProcess;
  try {
    child = spawn(plan.command, plan.args, {
      stdio: ['ignore', logFd, logFd],
      detached: plan.detached,
    });
  } finally {
    // etcd has its own copy of the descriptor; ours would stay open for the life of this
    // process, one per start (a test process starts dozens).
    closeSync(logFd);
  }
  const pid = child.pid;
  if (pid === undefined) throw new MeterfabricError('MF_ETCD_START', 'etcd could not be spawned');
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });

  const deadline = Date.now() + (options.startTimeoutMs ?? 15_000);
  while (!(await etcdHealthy(endpoint, 500))) {
    if (exited) {
      throw new MeterfabricError(
        'MF_ETCD_START',
        `etcd exited during start; see ${join(options.dataDir)}.log`,
      );
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new MeterfabricError(
        'MF_ETCD_START',
        `etcd did not become healthy at ${endpoint}; see ${options.dataDir}.log`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  // A healthy answer may come from another etcd that took our client port first (ours then
  // exits with EADDRINUSE): only ours lists our peer URL.
  if (!(await servesPeerUrl(endpoint, `http://${host}:${options.peerPort}`))) {
    child.kill('SIGKILL');
    throw new MeterfabricError(
      'MF_ETCD_PORT_TAKEN',
      `another etcd answers at ${endpoint} (the port was taken before ours could bind it); start again on other ports`,
    );
  }

  return {
    endpoint,
    pid,
    stop: () =>
      new Promise<void>((resolve) => {
        if (exited) return resolve();
        const killTimer = setTimeout(() => child.kill('SIGKILL'), 5000);
        child.once('exit', () => {
          clearTimeout(killTimer);
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}

/**
 * startEtcd on two ports picked free just before (etcd cannot bind port 0 and report the
 * port), started again on fresh ports when another process took one of them first: bounded
 * by `attempts`. For harnesses that start a fresh etcd: `dataDir` is removed before a retry.
 */
export async function startEtcdOnFreePorts(
  options: Omit<EtcdOptions, 'clientPort' | 'peerPort'> & {
    freePorts: (count: number) => Promise<number[]>;
    attempts?: number;
  },
): Promise<EtcdHandle & { clientPort: number; peerPort: number }> {
  const attempts = options.attempts ?? 3;
  for (let attempt = 1; ; attempt++) {
    const [clientPort, peerPort] = (await options.freePorts(2)) as [number, number];
    try {
      return { ...(await startEtcd({ ...options, clientPort, peerPort })), clientPort, peerPort };
    } catch (err) {
      const logPath = `${options.dataDir}.log`;
      const log = existsSync(logPath) ? readFileSync(logPath, 'utf8') : '';
      const portTaken =
        isMeterfabricError(err) &&
        (err.code === 'MF_ETCD_PORT_TAKEN' ||
          (err.code === 'MF_ETCD_START' && log.includes('address already in use')));
      if (!portTaken || attempt >= attempts) throw err;
      rmSync(options.dataDir, { recursive: true, force: true });
    }
  }
}
