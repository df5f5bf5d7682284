import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadManifests, partitionFor, partitionIds, stableHash } from '../../cluster/config/manifest.js';
import { loadNodeConfig } from '../../cluster/config/node-config.js';
import { ConfigError } from '../../core/errors.js';

const base = { nodeId: 'n1', listen: '127.0.0.1:7101', dataDir: './data/n1', etcd: ['127.0.0.1:2379'] };

describe('node configuration', () => {
  it('merges file < environment < flags and applies defaults (lease TTL 3 s)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mf-cfg-'));
    const file = join(dir, 'node.json');
    writeFileSync(file, JSON.stringify({ ...base, leaseTtlMs: 5000, cluster: 'fromfile' }));
    const config = loadNodeConfig({
      flags: { listen: '127.0.0.1:7201' },
      env: { MF_CLUSTER: 'fromenv', MF_PEER_ADDRESS_OVERRIDES: '{"n2":"127.0.0.1:17102"}' },
      file,
    });
    expect(config.listen).toBe('127.0.0.1:7201');
    expect(config.cluster).toBe('fromenv');
    expect(config.leaseTtlMs).toBe(5000);
    expect(config.peerAddressOverrides).toEqual({ n2: '127.0.0.1:17102' });
    expect(loadNodeConfig({ flags: base, env: {} }).leaseTtlMs).toBe(3000);
  });

  it('lists every problem with what to fix', () => {
    let error: unknown;
    try {
      loadNodeConfig({
        flags: { nodeId: 'N 1', listen: 'localhost', etcd: [], leaseTtlMs: 500 },
        env: { MF_PEER_ADDRESS_OVERRIDES: '{nope' },
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    expect((error as ConfigError).code).toBe('MF_CONFIG_INVALID');
    expect(message).toContain('nodeId: use 1-32 lower-case letters');
    expect(message).toContain('listen: must be host:port');
    expect(message).toContain('dataDir');
    expect(message).toContain('etcd: give at least one etcd endpoint');
    expect(message).toContain('leaseTtlMs: etcd refuses leases shorter than 2000 ms');
    expect(message).toContain('MF_PEER_ADDRESS_OVERRIDES: must be JSON');
  });

  it('names the flag, the variable or the file a refused value came from, the setting as detail', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mf-cfg-'));
    const file = join(dir, 'node.json');
    writeFileSync(file, JSON.stringify({ maxPayloadBytes: 1 }));
    const problems = (() => {
      try {
        loadNodeConfig({
          flags: { nodeId: 'N 1', listen: 'nowhere', etcd: ['127.0.0.1:2379'], leaseTtlMs: 500 },
          flagNames: { nodeId: '--id', listen: '--listen', dataDir: '--data', leaseTtlMs: '--lease-ttl-ms' },
          env: { MF_INITIAL_CLUSTER_SIZE: '0' },
          file,
        });
      } catch (err) {
        return (err as ConfigError).details.problems as string[];
      }
      return [];
    })();
    expect(problems).toEqual([
      // Read as strictly as a flag (core/command-line.ts), before the schema sees it.
      'MF_INITIAL_CLUSTER_SIZE must be an integer from 1 to 64 (setting initialClusterSize), not "0"',
      '--id (setting nodeId): use 1-32 lower-case letters, digits or dashes, e.g. n1',
      // One problem for a listen address that is no host:port, not a second about its port.
      '--listen (setting listen): must be host:port, e.g. 127.0.0.1:7101',
      'dataDir is required: give --data, or MF_DATA_DIR, or "dataDir" in a config file',
      '--lease-ttl-ms (setting leaseTtlMs): etcd refuses leases shorter than 2000 ms',
      `maxPayloadBytes in config file ${file}: Too small: expected number to be >=1024`,
    ]);
  });

  // Number() read "4e3" as 4000 and "0x1000" as 4096 (both started a node), "abc" as NaN.
  it.each([
    ['a word', 'MF_LEASE_TTL_MS', 'abc'],
    ['an exponent', 'MF_LEASE_TTL_MS', '4e3'],
    ['hex', 'MF_LEASE_TTL_MS', '0x1000'],
    ['blanks around it', 'MF_LEASE_TTL_MS', ' 3000'],
    ['a fraction', 'MF_LEASE_MARGIN_MS', '0.5'],
    ['a sign', 'MF_MAX_PAYLOAD_BYTES', '+2048'],
  ])('refuses a numeric MF_ variable holding %s, naming the variable and its range', (_n, name, text) => {
    const ranges: Record<string, string> = {
      MF_LEASE_TTL_MS: 'from 2000 to 60000 (setting leaseTtlMs)',
      MF_LEASE_MARGIN_MS: 'from 0 to 5000 (setting leaseMarginMs)',
      MF_MAX_PAYLOAD_BYTES: 'from 1024 to 16777216 (setting maxPayloadBytes)',
    };
    let error: unknown;
    try {
      loadNodeConfig({ flags: base, env: { [name]: text } });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).details.problems).toEqual([
      `${name} must be an integer ${ranges[name]}, not "${text}"`,
    ]);
  });

  it('reads a numeric MF_ variable in range, and an empty one as unset (the default)', () => {
    expect(loadNodeConfig({ flags: base, env: { MF_LEASE_TTL_MS: '4000' } }).leaseTtlMs).toBe(4000);
    expect(loadNodeConfig({ flags: base, env: { MF_LEASE_TTL_MS: '' } }).leaseTtlMs).toBe(3000);
  });

  it("lists the caller's flag problems with its own, so one run names every problem", () => {
    expect(() =>
      loadNodeConfig({
        flags: { ...base, listen: 'nowhere' },
        flagNames: { listen: '--listen' },
        flagProblems: ['--lease-ttl-ms must be an integer from 2000 to 60000, not "abc"'],
        env: {},
      }),
    ).toThrow(
      /^invalid configuration:\n {2}- --lease-ttl-ms must be an integer from 2000 to 60000, not "abc"\n {2}- --listen \(setting listen\): must be host:port, e\.g\. 127\.0\.0\.1:7101$/,
    );
  });

  it('etcdJoinTimeoutMs: 30 s by default, from MF_ETCD_JOIN_TIMEOUT_MS, refused outside 1000..600000 naming the variable', () => {
    expect(loadNodeConfig({ flags: base, env: {} }).etcdJoinTimeoutMs).toBe(30_000);
    expect(loadNodeConfig({ flags: base, env: { MF_ETCD_JOIN_TIMEOUT_MS: '5000' } }).etcdJoinTimeoutMs).toBe(
      5000,
    );
    const problems = (value: string): string[] => {
      try {
        loadNodeConfig({ flags: base, env: { MF_ETCD_JOIN_TIMEOUT_MS: value } });
      } catch (err) {
        return (err as ConfigError).details.problems as string[];
      }
      return [];
    };
    // Read as strictly as the other numeric variables (core/command-line.ts numberEnvProblem).
    const refused = (value: string) =>
      `MF_ETCD_JOIN_TIMEOUT_MS must be an integer from 1000 to 600000 (setting etcdJoinTimeoutMs), not "${value}"`;
    for (const value of ['500', '600001', '1500.5', 'abc']) expect(problems(value)).toEqual([refused(value)]);
    // From a config file the schema's own bound speaks.
    const dir = mkdtempSync(join(tmpdir(), 'mf-join-'));
    const file = join(dir, 'node.json');
    writeFileSync(file, JSON.stringify({ etcdJoinTimeoutMs: 500 }));
    expect(() => loadNodeConfig({ flags: base, env: {}, file })).toThrow(
      /give at least 1000 ms: joining takes several etcd round trips/,
    );
    rmSync(dir, { recursive: true });
  });

  it('reports an unreadable config file by name', () => {
    expect(() => loadNodeConfig({ flags: base, env: {}, file: '/nonexistent/node.json' })).toThrow(
      /config file \/nonexistent\/node.json/,
    );
  });
});

describe('service manifests', () => {
  it('reads the runtime manifest: counter hashed P=32 and a singleton', () => {
    const services = loadManifests([join(process.cwd(), 'cluster/config/runtime-services.json')]);
    const counter = services.find((s) => s.name === 'counter')!;
    expect(partitionIds(counter)).toHaveLength(32);
    expect(partitionIds(services.find((s) => s.name === 'ledger')!)).toEqual(['ledger/0']);
  });

  it('rejects a malformed manifest and a service declared twice, naming the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mf-man-'));
    const bad = join(dir, 'bad.json');
    writeFileSync(
      bad,
      JSON.stringify({ services: [{ name: 'Dev', partitioning: { kind: 'hashed', count: 0 } }] }),
    );
    expect(() => loadManifests([bad])).toThrow(/bad.json: services.0.name/);
    const one = join(dir, 'one.json');
    writeFileSync(
      one,
      JSON.stringify({ services: [{ name: 'device', partitioning: { kind: 'singleton' } }] }),
    );
    expect(() => loadManifests([one, one])).toThrow(/declared in .*one.json and .*one.json/);
  });

  it('hashes keys stably (FNV-1a test vectors) and routes named and singleton partitions', () => {
    // FNV-1a 32-bit vectors from the reference implementation's test suite (isthe.com/chongo/tech/comp/fnv).
    expect(stableHash('')).toBe(0x811c9dc5);
    expect(stableHash('a')).toBe(0xe40c292c);
    expect(stableHash('foobar')).toBe(0xbf9cf968);
    const hashed = { name: 'device', partitioning: { kind: 'hashed' as const, count: 32 }, replicas: 3 };
    expect(partitionFor(hashed, 'foobar')).toBe(`device/${0xbf9cf968 % 32}`);
    const named = {
      name: 'worker',
      partitioning: { kind: 'named' as const, names: ['reading'] },
      replicas: 3,
    };
    expect(partitionFor(named, 'reading')).toBe('worker/reading');
    expect(() => partitionFor(named, 'nope')).toThrow(/no partition named "nope"/);
  });
});
