import { ClassicLevel } from 'classic-level';
import { ModemError } from '../errors.js';
import { isValidImei } from '../identification.js';
import type { ModemRegistryStore, RegisterResult } from './store.js';
import type { ModemImport, ModemPatch, ModemRecord, Organization, PortRange } from './types.js';

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
    for (let p = range.first; p <= range.last; p++) if (!this.usedPorts.has(p) && !taken.has(p)) return p;
    throw new ModemError(
      'MF_MODEM_PORT_RANGE_EXHAUSTED',
      `every bridge port in ${range.first}-${range.last} is assigned; widen the port range`,
      { ...range },
    );
  }

  register(imei: string, organization: string, range: PortRange, nowMs: number): Promise<RegisterResult> {
    return this.serial(async () => {
      const existing = await this.get(imei);
      if (existing) return { record: existing, created: false };
      const port = this.freePort(range);
      const record: ModemRecord = {
        imei,
        organization,
        port,
        online: false,
        bytesFromModem: 0,
        bytesToModem: 0,
        createdAtMs: nowMs,
      };
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
      const record: ModemRecord = {
        ...existing,
        ...patch,
        imei,
        port: existing.port,
        createdAtMs: existing.createdAtMs,
      };
      await this.db.put(`modem/${imei}`, JSON.stringify(record));
      return record;
    });
  }

  importModems(rows: readonly ModemImport[], range: PortRange, nowMs: number): Promise<ModemRecord[]> {
    return this.serial(async () => {
      const problems: string[] = [];
      const seenImei = new Set<string>();
      const claimed = new Map<number, string>();
      const records: ModemRecord[] = [];
      for (const [i, row] of rows.entries()) {
        const where = `row ${i + 1} (${row.imei})`;
        if (!isValidImei(row.imei))
          problems.push(`${where}: IMEI must be 15 digits with a valid Luhn check digit`);
        if (seenImei.has(row.imei)) problems.push(`${where}: IMEI appears twice in the file`);
        seenImei.add(row.imei);
        if (!row.organization) problems.push(`${where}: organization is empty`);
        const existing = await this.get(row.imei);
        if (row.port !== undefined) {
          if (!Number.isInteger(row.port) || row.port < range.first || row.port > range.last) {
            problems.push(
              `${where}: port ${row.port} is outside the bridge range ${range.first}-${range.last}`,
            );
          } else if (existing && existing.port !== row.port) {
            problems.push(`${where}: already registered on port ${existing.port}; ports never move`);
          } else {
            const holder = (await this.db.get(`port/${row.port}`)) ?? claimed.get(row.port);
            if (holder !== undefined && holder !== row.imei) {
              problems.push(`${where}: port ${row.port} belongs to IMEI ${holder}`);
            }
          }
          claimed.set(row.port, row.imei);
        }
        const base: ModemRecord = existing ?? {
          imei: row.imei,
          organization: row.organization,
          port: row.port ?? -1,
          online: false,
          bytesFromModem: 0,
          bytesToModem: 0,
          createdAtMs: nowMs,
        };
        const record: ModemRecord = { ...base, organization: row.organization };
        if (row.iccid !== undefined) record.iccid = row.iccid;
        if (row.firmware !== undefined) record.firmware = row.firmware;
        if (row.note !== undefined) record.note = row.note;
        records.push(record);
      }
      if (problems.length > 0) {
        throw new ModemError(
          'MF_MODEM_IMPORT_INVALID',
          `import refused, nothing was stored:\n  - ${problems.join('\n  - ')}`,
          { problems },
        );
      }
      const taken = new Set(claimed.keys());
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
