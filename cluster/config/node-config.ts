import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { type NumberFlagRange, numberEnvProblem } from '../../core/command-line.js';
import { ConfigError } from '../../core/errors.js';

/**
 * One node's configuration: flags override environment (MF_*), which overrides the JSON
 * config file. Validated once at start; every problem is reported with what to fix.
 */
const hostPort = z
  .string()
  .regex(/^[^\s:]+:\d{1,5}$/, 'must be host:port, e.g. 127.0.0.1:7101')
  .refine((v) => {
    // Only a host:port the regex took has a port to judge: else one problem, not two.
    if (!/^[^\s:]+:\d{1,5}$/.test(v)) return true;
    const port = Number(v.slice(v.lastIndexOf(':') + 1));
    return port >= 0 && port <= 65535;
  }, 'port must be 0..65535');

/**
 * leaseTtlMs's bounds, shared with the flags that pass it on (`chaos run --lease-ttl-ms`):
 * etcd's minimum lease TTL is 2 s; past a minute a dead node holds its primaries too long.
 */
export const leaseTtlMsRange = { min: 2000, max: 60_000 } as const;
/** The other numeric settings' bounds, shared by the schema and the `MF_*` reader below. */
const leaseMarginMsRange = { min: 0, max: 5000 } as const;
const initialClusterSizeRange = { min: 1, max: 64 } as const;
const maxPayloadBytesRange = { min: 1024, max: 16 * 1024 * 1024 } as const;

/**
 * etcdJoinTimeoutMs's bounds: joining is several etcd round trips (one dial may take 2 s), so
 * under 1 s a healthy etcd on a loaded box could be called unreachable; past 10 minutes a
 * supervisor waits that long to hear that the node will never start.
 */
export const etcdJoinTimeoutMsRange = { min: 1000, max: 600_000 } as const;

/**
 * Default of etcdJoinTimeoutMs. With etcd answering, a join takes a few round trips
 * (milliseconds; a dial that fails is retried within etcd3's 2 s dial timeout), so 30 s is
 * generous for an etcd that is itself still starting or electing a leader on a loaded box,
 * and still fails well within systemd's default start timeout (90 s), which would otherwise
 * kill the node with no word about etcd. Not derived from the lease TTL: the TTL is how soon
 * a dead node is noticed, not how long etcd may take to come up.
 */
export const defaultEtcdJoinTimeoutMs = 30_000;

export const nodeConfigSchema = z.object({
  nodeId: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]{0,31}$/, 'use 1-32 lower-case letters, digits or dashes, e.g. n1'),
  cluster: z.string().regex(/^[a-z0-9][a-z0-9-]{0,31}$/, 'use 1-32 lower-case letters, digits or dashes'),
  /** Where the gRPC server listens. */
  listen: hostPort,
  /** What other nodes dial to reach this node (defaults to `listen`). */
  advertise: hostPort.optional(),
  dataDir: z.string().min(1, 'give a data directory, e.g. ./data/n1'),
  /** etcd client endpoints (host:port); a proxy in front of etcd is fine. */
  etcd: z.array(hostPort).min(1, 'give at least one etcd endpoint, e.g. 127.0.0.1:2379'),
  /** etcd's minimum lease TTL is 2 s; below 3 s a loaded 2-core box risks false failovers. */
  leaseTtlMs: z
    .number()
    .int()
    .min(leaseTtlMsRange.min, `etcd refuses leases shorter than ${leaseTtlMsRange.min} ms`)
    .max(leaseTtlMsRange.max)
    .default(3000),
  /**
   * How long start() waits for etcd to let the node join (lease grant, registration, the
   * watches, the FM candidacy) before it gives up with MF_ETCD_UNREACHABLE and exits 1
   * (cluster/node/start-steps.ts). Default: see defaultEtcdJoinTimeoutMs.
   */
  etcdJoinTimeoutMs: z
    .number()
    .int()
    .min(
      etcdJoinTimeoutMsRange.min,
      `give at least ${etcdJoinTimeoutMsRange.min} ms: joining takes several etcd round trips`,
    )
    .max(etcdJoinTimeoutMsRange.max)
    .default(defaultEtcdJoinTimeoutMs),
  /** Self-fencing margin subtracted from every lease validity (clock drift, event-loop lag). */
  leaseMarginMs: z.number().int().min(leaseMarginMsRange.min).max(leaseMarginMsRange.max).default(500),
  /** Prometheus /metrics and /health; port 0 picks a free one. */
  metricsListen: hostPort.default('127.0.0.1:0'),
  /** Service manifests (JSON) to read; relative paths are from the working directory. */
  manifests: z.array(z.string()).default([]),
  /** node id -> host:port to dial instead of its advertised address (chaos proxies). */
  peerAddressOverrides: z.record(z.string(), hostPort).default({}),
  /** Append-only role history (JSON lines); defaults to <dataDir>/roles.jsonl. */
  roleLogPath: z.string().optional(),
  /** Test-only fault switches; see cluster/node/README.md. */
  faultInject: z.array(z.string()).default([]),
  /** The FM first places partitions once this many nodes are up (so primaries spread at once). */
  initialClusterSize: z
    .number()
    .int()
    .min(initialClusterSizeRange.min)
    .max(initialClusterSizeRange.max)
    .default(3),
  /**
   * Shared secret for production: when set, every call to this node's Node and Admin gRPC
   * services must carry it (metadata `mf-token`); nodes, ActorProxy and `status` send it.
   */
  clusterToken: z.string().min(16, 'use at least 16 characters').optional(),
  /** Bounds on what callers may send. */
  maxPayloadBytes: z
    .number()
    .int()
    .min(maxPayloadBytesRange.min)
    .max(maxPayloadBytesRange.max)
    .default(1024 * 1024),
});

export type NodeConfig = z.infer<typeof nodeConfigSchema>;
export type NodeConfigInput = z.input<typeof nodeConfigSchema>;

export type ConfigSources = {
  /** Parsed command-line flags (already in schema shape). */
  flags: Partial<Record<keyof NodeConfig, unknown>>;
  /**
   * How the user spells each of `flags` on the command line (`leaseTtlMs: '--lease-ttl-ms'`):
   * a problem with a value that came from a flag names the flag, the setting as detail.
   */
  flagNames?: Partial<Record<keyof NodeConfig, string>>;
  /**
   * Problems the caller found reading its flags (a number that is no number), listed with the
   * configuration's own so that one run names every problem; the flag is then left out.
   */
  flagProblems?: readonly string[];
  env: NodeJS.ProcessEnv;
  /** Path of a JSON config file, if any. */
  file?: string | undefined;
};

const envKeys: Record<string, keyof NodeConfig> = {
  MF_NODE_ID: 'nodeId',
  MF_CLUSTER: 'cluster',
  MF_LISTEN: 'listen',
  MF_ADVERTISE: 'advertise',
  MF_DATA_DIR: 'dataDir',
  MF_ETCD: 'etcd',
  MF_LEASE_TTL_MS: 'leaseTtlMs',
  MF_LEASE_MARGIN_MS: 'leaseMarginMs',
  MF_ETCD_JOIN_TIMEOUT_MS: 'etcdJoinTimeoutMs',
  MF_METRICS_LISTEN: 'metricsListen',
  MF_MANIFESTS: 'manifests',
  MF_PEER_ADDRESS_OVERRIDES: 'peerAddressOverrides',
  MF_ROLE_LOG: 'roleLogPath',
  MF_FAULT_INJECT: 'faultInject',
  MF_MAX_PAYLOAD_BYTES: 'maxPayloadBytes',
  MF_INITIAL_CLUSTER_SIZE: 'initialClusterSize',
  MF_CLUSTER_TOKEN: 'clusterToken',
};

const listKeys = new Set<keyof NodeConfig>(['etcd', 'manifests', 'faultInject']);
/**
 * The numeric settings and their bounds. Their `MF_*` variables are read as strictly as the
 * flags (core/command-line.ts): `Number()` passed "1e3" as 1000 and "0x1000" as 4096, and "abc"
 * reached the schema as NaN ("expected number, received nan").
 */
const numberRanges: Partial<Record<keyof NodeConfig, NumberFlagRange>> = {
  leaseTtlMs: leaseTtlMsRange,
  leaseMarginMs: leaseMarginMsRange,
  etcdJoinTimeoutMs: etcdJoinTimeoutMsRange,
  maxPayloadBytes: maxPayloadBytesRange,
  initialClusterSize: initialClusterSizeRange,
};

/** Converts one environment string to the schema's shape, reporting what is malformed. */
function fromEnv(key: keyof NodeConfig, name: string, raw: string, problems: string[]): unknown {
  if (listKeys.has(key))
    return raw
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  const range = numberRanges[key];
  if (range) {
    const problem = numberEnvProblem(name, { [name]: raw }, { ...range, meaning: `setting ${key}` });
    // Refused here, then left out: the schema would add a second, vaguer line for it.
    if (problem !== undefined) problems.push(problem);
    return problem !== undefined || raw === '' ? undefined : Number(raw);
  }
  if (key === 'peerAddressOverrides') {
    try {
      return JSON.parse(raw) as unknown;
    } catch {
      problems.push(`${name}: must be JSON like {"n2":"127.0.0.1:17102"}`);
      return undefined;
    }
  }
  return raw;
}

/** Merges file < environment < flags and validates; throws ConfigError listing every problem. */
export function loadNodeConfig(sources: ConfigSources): NodeConfig {
  const problems: string[] = [...(sources.flagProblems ?? [])];
  let fromFile: Record<string, unknown> = {};
  if (sources.file) {
    try {
      const parsed = JSON.parse(readFileSync(sources.file, 'utf8')) as unknown;
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        problems.push(`config file ${sources.file}: must hold a JSON object`);
      } else {
        fromFile = parsed as Record<string, unknown>;
      }
    } catch (err) {
      problems.push(`config file ${sources.file}: ${(err as Error).message}`);
    }
  }
  const fromEnvironment: Record<string, unknown> = {};
  const envNameOf = new Map<string, string>();
  for (const [name, key] of Object.entries(envKeys)) {
    const raw = sources.env[name];
    if (raw === undefined) continue;
    fromEnvironment[key] = fromEnv(key, name, raw, problems);
    envNameOf.set(key, name);
  }
  const flags = Object.fromEntries(Object.entries(sources.flags).filter(([, v]) => v !== undefined));
  const merged: Record<string, unknown> = {
    cluster: 'meterfabric',
    ...fromFile,
    ...fromEnvironment,
    ...flags,
  };
  const result = nodeConfigSchema.safeParse(merged);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const setting = issue.path.join('.') || '(root)';
      const key = String(issue.path[0] ?? '');
      problems.push(
        settingProblem(key, setting, issue.message, { merged, flags, envNameOf, fromFile, sources }),
      );
    }
  }
  if (problems.length > 0 || !result.success) throw new ConfigError(problems);
  return result.data;
}

/**
 * A refused setting, named where the user gave it: the flag (`--lease-ttl-ms`), the
 * environment variable or the config file, whichever won the merge, the setting's name as
 * detail. A required setting given nowhere is named with the places it can be given.
 */
function settingProblem(
  key: string,
  setting: string,
  message: string,
  from: {
    merged: Record<string, unknown>;
    flags: Record<string, unknown>;
    envNameOf: ReadonlyMap<string, string>;
    fromFile: Record<string, unknown>;
    sources: ConfigSources;
  },
): string {
  const flag = from.sources.flagNames?.[key as keyof NodeConfig];
  if (key in from.flags) return flag ? `${flag} (setting ${setting}): ${message}` : `${setting}: ${message}`;
  const env = from.envNameOf.get(key);
  if (env) return `${env} (setting ${setting}): ${message}`;
  if (key in from.fromFile) return `${setting} in config file ${from.sources.file}: ${message}`;
  if (from.merged[key] !== undefined) return `${setting}: ${message}`;
  const envName = Object.entries(envKeys).find(([, k]) => k === key)?.[0];
  const places = [flag, envName, `"${key}" in a config file`].filter((place) => place !== undefined);
  return `${setting} is required: give ${places.join(', or ')}`;
}

/** The address other nodes dial. */
export function advertisedAddress(config: NodeConfig): string {
  return config.advertise ?? config.listen;
}
