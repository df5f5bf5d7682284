import type { Etcd3, Namespace } from 'etcd3';
import { ModemError } from '../errors.js';
import { lowestFreePort, newModemRecord, patchedModemRecord } from './records.js';
import type { ModemRegistryStore, RegisterResult } from './store.js';
import type { ModemImport, ModemPatch, ModemRecord, Organization, PortRange } from './types.js';
import { validateImport } from './validate-import.js';

/**
 * Cluster-wide registry in etcd: `imei/<imei>` -> record, `port/<port>` -> imei, `org/<id>`.
 * Ports are allocated with compare-create transactions, so two nodes registering at once can
 * never hand out one port twice, and every node sees the same IMEI -> port mapping across
 * restarts and failovers. Kept until the runtime's reliable collections can hold it.
 */
const maxTxnAttempts = 32;
/** etcd refuses transactions with more than 128 operations by default; an import row takes 2. */
const importRowsPerTxn = 60;

export class EtcdModemStore implements ModemRegistryStore {
  private readonly ns: Namespace;

  constructor(client: Etcd3, cluster: string) {
    this.ns = client.namespace(`/${cluster}/modems/`);
  }

  async get(imei: string): Promise<ModemRecord | undefined> {
    const raw = await this.ns.get(`imei/${imei}`).string();
    return raw === null ? undefined : (JSON.parse(raw) as ModemRecord);
  }

  async byPort(port: number): Promise<ModemRecord | undefined> {
    const imei = await this.ns.get(`port/${port}`).string();
    return imei === null ? undefined : this.get(imei);
  }

  async list(): Promise<ModemRecord[]> {
    const all = await this.ns.getAll().prefix('imei/').strings();
    return Object.values(all)
      .map((v) => JSON.parse(v) as ModemRecord)
      .sort((a, b) => a.imei.localeCompare(b.imei));
  }

  private async usedPorts(): Promise<Set<number>> {
    const keys = await this.ns.getAll().prefix('port/').keys();
    return new Set(keys.map((k) => Number(k.slice(5))));
  }

  private static freePort(range: PortRange, used: ReadonlySet<number>): number {
    return lowestFreePort(range, (p) => used.has(p));
  }

  async register(
    imei: string,
    organization: string,
    range: PortRange,
    nowMs: number,
  ): Promise<RegisterResult> {
    for (let attempt = 0; attempt < maxTxnAttempts; attempt++) {
      const existing = await this.get(imei);
      if (existing) return { record: existing, created: false };
      const port = EtcdModemStore.freePort(range, await this.usedPorts());
      const record = newModemRecord(imei, organization, port, nowMs);
      const result = await this.ns
        .if(`imei/${imei}`, 'Create', '==', 0)
        .and(`port/${port}`, 'Create', '==', 0)
        .then(
          this.ns.put(`imei/${imei}`).value(JSON.stringify(record)),
          this.ns.put(`port/${port}`).value(imei),
        )
        .commit();
      if (result.succeeded) return { record, created: true };
    }
    throw new ModemError(
      'MF_MODEM_PORT_RANGE_EXHAUSTED',
      `could not allocate a port for ${imei}: too much contention`,
    );
  }

  async update(imei: string, patch: ModemPatch): Promise<ModemRecord> {
    for (let attempt = 0; attempt < maxTxnAttempts; attempt++) {
      const res = await this.ns.get(`imei/${imei}`).exec();
      const kv = res.kvs[0];
      if (!kv)
        throw new ModemError('MF_MODEM_NOT_FOUND', `no modem with IMEI ${imei} in the registry`, { imei });
      const existing = JSON.parse(kv.value.toString()) as ModemRecord;
      const record = patchedModemRecord(existing, patch);
      const result = await this.ns
        .if(`imei/${imei}`, 'Mod', '==', kv.mod_revision)
        .then(this.ns.put(`imei/${imei}`).value(JSON.stringify(record)))
        .commit();
      if (result.succeeded) return record;
    }
    throw new ModemError('MF_MODEM_BUSY', `could not update ${imei}: too much contention`);
  }

  async importModems(rows: readonly ModemImport[], range: PortRange, nowMs: number): Promise<ModemRecord[]> {
    const existing = new Map<string, ModemRecord>();
    for (const row of rows) {
      const r = await this.get(row.imei);
      if (r) existing.set(row.imei, r);
    }
    const portHolders = new Map<number, string>();
    for (const row of rows) {
      if (row.port === undefined) continue;
      const holder = await this.ns.get(`port/${row.port}`).string();
      if (holder !== null) portHolders.set(row.port, holder);
    }
    const records = validateImport(rows, range, nowMs, existing, portHolders);
    const used = await this.usedPorts();
    for (const r of records) if (r.port !== -1) used.add(r.port);
    for (const r of records) {
      if (r.port === -1) {
        r.port = EtcdModemStore.freePort(range, used);
        used.add(r.port);
      }
    }
    // Validated as a whole above; committed in transactions of at most importRowsPerTxn rows.
    for (let i = 0; i < records.length; i += importRowsPerTxn) {
      const chunk = records.slice(i, i + importRowsPerTxn);
      // Version > -1 always holds: it only opens the builder the real compares hang on.
      let txn = this.ns.if(`imei/${chunk[0]!.imei}`, 'Version', '>', -1);
      for (const r of chunk) {
        if (!existing.has(r.imei)) txn = txn.and(`port/${r.port}`, 'Create', '==', 0);
      }
      const ops = chunk.flatMap((r) => [
        this.ns.put(`imei/${r.imei}`).value(JSON.stringify(r)),
        this.ns.put(`port/${r.port}`).value(r.imei),
      ]);
      const result = await txn.then(...ops).commit();
      if (!result.succeeded) {
        throw new ModemError(
          'MF_MODEM_IMPORT_INVALID',
          `import rows ${i + 1}-${i + chunk.length} lost a port race with another node; rows before them are stored, run the import again`,
        );
      }
    }
    return records;
  }

  async getOrganization(id: string): Promise<Organization | undefined> {
    const raw = await this.ns.get(`org/${id}`).string();
    return raw === null ? undefined : (JSON.parse(raw) as Organization);
  }

  async putOrganization(org: Organization): Promise<void> {
    await this.ns.put(`org/${org.id}`).value(JSON.stringify(org));
  }

  async listOrganizations(): Promise<Organization[]> {
    const all = await this.ns.getAll().prefix('org/').strings();
    return Object.values(all).map((v) => JSON.parse(v) as Organization);
  }

  async close(): Promise<void> {}
}
