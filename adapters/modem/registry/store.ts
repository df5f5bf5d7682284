import type { ModemImport, ModemPatch, ModemRecord, Organization, PortRange } from './types.js';

/**
 * Persistence of the modem registry behind one small interface, so it can move from the
 * single-node classic-level store onto the runtime's reliable collections without touching
 * the collector. Implementations serialise their own mutations.
 */
export interface ModemRegistryStore {
  get(imei: string): Promise<ModemRecord | undefined>;
  byPort(port: number): Promise<ModemRecord | undefined>;
  list(): Promise<ModemRecord[]>;
  /**
   * The record of `imei`, registering it with the lowest free port of `range` when it is new.
   * A known IMEI always gets its stored port back.
   */
  register(imei: string, organization: string, range: PortRange, nowMs: number): Promise<RegisterResult>;
  update(imei: string, patch: ModemPatch): Promise<ModemRecord>;
  /** All or nothing: either every row is stored or none is (and the error names the bad rows). */
  importModems(rows: readonly ModemImport[], range: PortRange, nowMs: number): Promise<ModemRecord[]>;
  getOrganization(id: string): Promise<Organization | undefined>;
  putOrganization(org: Organization): Promise<void>;
  listOrganizations(): Promise<Organization[]>;
  close(): Promise<void>;
}

export type RegisterResult = { record: ModemRecord; created: boolean };
