import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { ConfigError, MeterfabricError } from '../../core/errors.js';
import { packageRoot } from '../../core/paths.js';
import type { PartitionId } from '../replicator/contract.js';

/**
 * Service manifests: which services the cluster hosts, how each is partitioned and which
 * module implements its actors. Services are added by dropping a manifest file, not by
 * editing the runtime (the head-end ships `actors/services.json`).
 */
const serviceName = z.string().regex(/^[a-z][a-z0-9-]{0,47}$/, 'use lower-case letters, digits, dashes');

const partitioningSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('singleton') }),
  z.object({ kind: z.literal('hashed'), count: z.number().int().min(1).max(1024) }),
  z.object({
    kind: z.literal('named'),
    names: z
      .array(z.string().regex(/^[a-z0-9][a-z0-9-]{0,47}$/))
      .min(1)
      .max(256),
  }),
]);

export const serviceSchema = z
  .object({
    name: serviceName,
    partitioning: partitioningSchema,
    /** Compiled module (path from the package's dist/ root) and export of the actor definition. */
    actor: z.object({ module: z.string().min(1), export: z.string().min(1) }).optional(),
    /** Target replica count; fewer when fewer nodes are alive. */
    replicas: z.number().int().min(1).max(7).default(3),
    /**
     * Service Fabric's MinReplicaSetSize: the failover manager never commits a configuration
     * with fewer active replicas than this (writes then wait in quorum loss instead of
     * committing on too few disks). Default: a majority of `replicas` (2 of 3, 1 of 1).
     */
    minReplicas: z.number().int().min(1).max(7).optional(),
  })
  .superRefine((service, ctx) => {
    if (service.minReplicas !== undefined && service.minReplicas > service.replicas) {
      ctx.addIssue({
        code: 'custom',
        path: ['minReplicas'],
        message: `minReplicas (${service.minReplicas}) must not exceed replicas (${service.replicas}); lower minReplicas or raise replicas`,
      });
    }
  });

/** Node extensions: modules started in every node with an ActorProxy (APIs, bridges, simulators). */
export const extensionSchema = z.object({
  name: serviceName,
  module: z.string().min(1),
  export: z.string().min(1),
});

export const manifestSchema = z.object({
  services: z.array(serviceSchema).max(256),
  extensions: z.array(extensionSchema).max(32).default([]),
});

export type ExtensionSpec = z.infer<typeof extensionSchema>;

export type ServiceSpec = z.infer<typeof serviceSchema>;
export type Partitioning = ServiceSpec['partitioning'];

/** Manifests read when none is configured: the runtime's own, plus the head-end's if present. */
export function defaultManifestPaths(): string[] {
  return [
    join(packageRoot, 'cluster', 'config', 'runtime-services.json'),
    join(packageRoot, 'actors', 'services.json'),
  ].filter((p) => existsSync(p));
}

export function parseManifest(text: string, source: string): ServiceSpec[] {
  return parseManifestFile(text, source).services;
}

export function parseManifestFile(text: string, source: string): z.infer<typeof manifestSchema> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError([`manifest ${source}: not JSON (${(err as Error).message})`]);
  }
  const result = manifestSchema.safeParse(raw);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((i) => `manifest ${source}: ${i.path.join('.') || '(root)'}: ${i.message}`),
    );
  }
  return result.data;
}

/** Extensions declared in the manifests, in file order. */
export function loadExtensions(paths: readonly string[]): ExtensionSpec[] {
  return paths.flatMap((path) => {
    try {
      return parseManifestFile(readFileSync(path, 'utf8'), path).extensions;
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      throw new ConfigError([`manifest ${path}: cannot read (${(err as Error).message})`]);
    }
  });
}

/** Reads and merges manifests; a service declared twice is a configuration error. */
export function loadManifests(paths: readonly string[]): ServiceSpec[] {
  const services: ServiceSpec[] = [];
  const seen = new Map<string, string>();
  for (const path of paths) {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new ConfigError([`manifest ${path}: cannot read (${(err as Error).message})`]);
    }
    for (const service of parseManifest(text, path)) {
      const previous = seen.get(service.name);
      if (previous)
        throw new ConfigError([`service "${service.name}" is declared in ${previous} and ${path}`]);
      seen.set(service.name, path);
      services.push(service);
    }
  }
  return services;
}

/** Every partition id of a service, in a stable order. */
export function partitionIds(service: ServiceSpec): PartitionId[] {
  const p = service.partitioning;
  switch (p.kind) {
    case 'singleton':
      return [`${service.name}/0`];
    case 'hashed':
      return Array.from({ length: p.count }, (_, i) => `${service.name}/${i}`);
    case 'named':
      return p.names.map((n) => `${service.name}/${n}`);
  }
}

/** FNV-1a, 32 bit: stable across processes and versions, unlike any runtime hash. */
export function stableHash(key: string): number {
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(key)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

/** (service, key) -> partition: hashed by key, the key itself for named, `/0` for singletons. */
export function partitionFor(service: ServiceSpec, key: string): PartitionId {
  const p = service.partitioning;
  switch (p.kind) {
    case 'singleton':
      return `${service.name}/0`;
    case 'hashed':
      return `${service.name}/${stableHash(key) % p.count}`;
    case 'named':
      if (!p.names.includes(key)) {
        throw new MeterfabricError(
          'MF_UNKNOWN_PARTITION',
          `service "${service.name}" has no partition named "${key}"; declared: ${p.names.join(', ')}`,
        );
      }
      return `${service.name}/${key}`;
  }
}

/**
 * The minimum replica-set size of a service: declared, else a majority of its target, and
 * never above the target (a `replicas: 1` service keeps working on one node).
 */
export function minReplicaSetSize(service: Pick<ServiceSpec, 'replicas' | 'minReplicas'>): number {
  const declared = service.minReplicas ?? Math.floor(service.replicas / 2) + 1;
  return Math.min(declared, service.replicas);
}

export function serviceOf(partition: PartitionId): string {
  return partition.slice(0, partition.indexOf('/'));
}
