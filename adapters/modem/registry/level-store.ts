import { ClassicLevel } from 'classic-level';
import { ModemError } from '../errors.js';
import { lowestFreePort, newModemRecord, patchedModemRecord } from './records.js';
import type { ModemRegistryStore, RegisterResult } from './store.js';
import type { ModemImport, ModemPatch, ModemRecord, Organization, PortRange } from './types.js';
import { validateImport } from './validate-import.js';

/**
 * Single-node registry on classic-level: `modem/<imei>` -> record, `port/<port>` -> imei,
 * `org/<id>` -> organization. Mutations run one at a time through a promise chain and each
 * writes one atomic batch, so a crash leaves either the old or the new state.
 */
export class LevelModemStore implements ModemRegistryStore {
  private readonly db: ClassicLevel<string, string>;
  private tail: Promise<unknown> = Promise.resolve();
  /** Ports in use, loaded at open: allocation must not scan the database per registration. */
  private readonly usedPorts = new Set<number>();

  private constructor(location: string) {
    this.db = new ClassicLevel<string, string>(location, { valueEncoding: 'utf8' });
  }

  static async open(location: string): Promise<LevelModemStore> {
    const store = new LevelModemStore(location);
    await store.db.open();
    for await (const key of store.db.keys({ gte: 'port/', lt: 'port0' }))
      store.usedPorts.add(Number(key.slice(5)));
    return store;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn, fn);
    this.tail = run.catch(() => undefined);
    return run;
  }

  async get(imei: string): Promise<ModemRecord | undefined> {
    const raw = await this.db.get(`modem/${imei}`);
    return raw === undefined ? undefined : (JSON.parse(raw) as ModemRecord);
  }

  async byPort(port: number): Promise<ModemRecord | undefined> {
    const imei = await this.db.get(`port/${port}`);
    return imei === undefined ? undefined : this.get(imei);
  }

  async list(): Promise<ModemRecord[]> {
    const out: ModemRecord[] = [];
    for await (const value of this.db.values({ gte: 'modem/', lt: 'modem0' }))
      out.push(JSON.parse(value) as ModemRecord);
    return out;
  }

  private freePort(range: PortRange, taken: ReadonlySet<number> = new Set()): number {
    return lowestFreePort(range, (p) => this.usedPorts.has(p) || taken.has(p));
  }

  register(imei: string, organization: string, range: PortRange, nowMs: number): Promise<RegisterResult> {
    return this.serial(async () => {
      const existing = await this.get(imei);
      if (existing) return { record: existing, created: false };
      const port = this.freePort(range);
      const record = newModemRecord(imei, organization, port, nowMs);
      await this.db.batch([
        { type: 'put', key: `modem/${imei}`, value: JSON.stringify(record) },
        { type: 'put', key: `port/${port}`, value: imei },
      ]);
      this.usedPorts.add(port);
      return { record, created: true };
    });
  }

  update(imei: string, patch: ModemPatch): Promise<ModemRecord> {
    return this.serial(async () => {
      const existing = await this.get(imei);
      if (!existing)
        throw new ModemError('MF_MODEM_NOT_FOUND', `no modem with IMEI ${imei} in the registry`, { imei });
      const record = patchedModemRecord(existing, patch);
      await this.db.put(`modem/${imei}`, JSON.stringify(record));
      return record;
    });
  }

  importModems(rows: readonly ModemImport[], range: PortRange, nowMs: number): Promise<ModemRecord[]> {
    return this.serial(async () => {
      const existing = new Map<string, ModemRecord>();
      const portHolders = new Map<number, string>();
      for (const row of rows) {
        const known = await this.get(row.imei);
        if (known) existing.set(row.imei, known);
        if (row.port !== undefined) {
          const holder = await this.db.get(`port/${row.port}`);
          if (holder !== undefined) portHolders.set(row.port, holder);
        }
      }
      const records = validateImport(rows, range, nowMs, existing, portHolders);
      const taken = new Set(records.filter((r) => r.port !== -1).map((r) => r.port));
      const ops: Array<{ type: 'put'; key: string; value: string }> = [];
      for (const record of records) {
        if (record.port === -1) {
          record.port = this.freePort(range, taken);
          taken.add(record.port);
        }
        ops.push({ type: 'put', key: `modem/${record.imei}`, value: JSON.stringify(record) });
        ops.push({ type: 'put', key: `port/${record.port}`, value: record.imei });
      }
      await this.db.batch(ops);
      for (const p of taken) this.usedPorts.add(p);
      return records;
    });
  }

  async getOrganization(id: string): Promise<Organization | undefined> {
    const raw = await this.db.get(`org/${id}`);
    return raw === undefined ? undefined : (JSON.parse(raw) as Organization);
  }

  putOrganization(org: Organization): Promise<void> {
    return this.serial(() => this.db.put(`org/${org.id}`, JSON.stringify(org)));
  }

  async listOrganizations(): Promise<Organization[]> {
    const out: Organization[] = [];
    for await (const value of this.db.values({ gte: 'org/', lt: 'org0' }))
      out.push(JSON.parse(value) as Organization);
    return out;
  }

  async close(): Promise<void> {
    await this.tail;
    await this.db.close();
  }
}
