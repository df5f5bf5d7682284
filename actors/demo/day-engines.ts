import type { WorkerPool } from '../../cluster/pool/pool.js';
import type { Clock } from '../../core/clock.js';
import { HeadendDriver } from '../host/headend-driver.js';
import { LocalHeadend } from '../host/local-headend.js';
import type { ServicePorts } from '../host/service-ports.js';
import type { HeadendApi } from '../integration/bridge/execute.js';
import { CheckpointConsumer, type DurableWebhookQueue } from '../integration/checkpoint-consumer.js';
import type { CimPublisher } from '../integration/cim-publisher.js';
import { IntegrationConsumer } from '../integration/integration.js';
import type { RegistryCommand } from '../registry/commands.js';
import { emptyRegistry } from '../registry/types.js';
import type { SimulatedFleet } from '../simulation/fleet.js';
import type { RoutedRecord } from '../tlog/router.js';
import type { DayClock } from '../work-manager/day-clock.js';

/**
 * The two ways the demo day runs the head-end behind one small interface: every service in
 * this process (LocalHeadend + IntegrationConsumer), or every service behind ServicePorts
 * (the cluster's actors) with a HeadendDriver + CheckpointConsumer, where this process only
 * holds the field links and writes the output files.
 */
export type DayEngine = {
  api: HeadendApi;
  cim: CimPublisher;
  /** A webhook dispatcher on `cim`: written output counts as done once it is in the webhook queues. */
  attachWebhook(webhook: DurableWebhookQueue | undefined): void;
  provision(commands: readonly RegistryCommand[]): Promise<void>;
  /** The last step the services recorded as completed (driver engine), if any. */
  lastStep(): Promise<number | undefined>;
  /** Takes over from the services (driver engine), the clock set to the last step first. */
  resume(): Promise<number | undefined>;
  /** One step at the clock's instant: schedules run, everything they cause settles. */
  step(atMs: number): Promise<void>;
  /**
   * With `dayClock` (driver engine on the cluster): the work manager's durable reminders run
   * the schedule; `startDayClock` starts its clock, `follow` delivers what it produced since
   * (moving the clock to each instant) and says whether anything moved.
   */
  startDayClock?(clock: DayClock): Promise<void>;
  follow?(advance: (atMs: number) => void): Promise<boolean>;
  jobsFinished(): number;
  finish(dayMs: number): Promise<{
    rowsByFileKind: Record<string, number>;
    messagesByNoun: Record<string, number>;
    reports: string[];
    jobs: { succeeded: number; failed: number };
  }>;
};

export type EngineOptions = {
  outDir: string;
  clock: Clock;
  fleet: SimulatedFleet;
  /** Every routed batch once, as it is written (progress and summary counts). */
  onWritten: (batch: readonly RoutedRecord[]) => void;
  /** The work manager's load profile collection period (default 60). */
  loadProfileEveryMinutes?: number;
};

const organization = 'SIM';
const server = 'n1';
// Parts roll at 8 MiB: each append rewrites its part atomically, so smaller parts keep it cheap.
const maxPartBytes = 8 * 1024 * 1024;

export async function localEngine(options: EngineOptions): Promise<DayEngine> {
  const { clock, fleet } = options;
  let integration: IntegrationConsumer | undefined;
  const headend = new LocalHeadend({
    clock,
    ...(options.loadProfileEveryMinutes !== undefined
      ? { workManager: { loadProfileEveryMinutes: options.loadProfileEveryMinutes } }
      : {}),
    fieldLink: (id) => fleet.concentrator(id),
    sink: (batch) => {
      options.onWritten(batch);
      return integration?.sink(batch);
    },
  });
  integration = await IntegrationConsumer.open({
    outDir: options.outDir,
    organization,
    server,
    clock,
    registry: headend.registry,
    maxPartBytes,
  });
  const consumer = integration;
  return {
    api: headend,
    cim: consumer.cim,
    attachWebhook: (webhook) => consumer.attachWebhook(webhook),
    async provision(commands) {
      for (const command of commands) headend.applyRegistry(command);
    },
    // In process there is nothing to resume from.
    lastStep: async () => undefined,
    resume: async () => undefined,
    async step() {
      headend.tick();
      await headend.settle();
    },
    jobsFinished: () => headend.outcomes.length,
    async finish(dayMs) {
      await headend.settle();
      await consumer.flush();
      const reports = await consumer.writeReports(headend.reporting, dayMs);
      return {
        rowsByFileKind: { ...consumer.csv.rowsByKind },
        messagesByNoun: { ...consumer.cim.countsByNoun },
        reports,
        jobs: {
          succeeded: headend.outcomes.filter((o) => o.status === 'succeeded').length,
          failed: headend.outcomes.filter((o) => o.status === 'failed').length,
        },
      };
    },
  };
}

/** `name` keys the singletons and prefixes device and TLog actors (one head-end per name on a cluster). */
export async function driverEngine(
  options: EngineOptions & { ports: ServicePorts; name: string; dayClock?: boolean; pool?: WorkerPool },
): Promise<DayEngine> {
  const { clock, fleet } = options;
  let driver: HeadendDriver | undefined;
  const consumer = await CheckpointConsumer.open({
    outDir: options.outDir,
    organization,
    server,
    clock,
    registry: () => driver?.registry ?? emptyRegistry(),
    maxPartBytes,
    onWritten: options.onWritten,
    // This process is the integration host: its CSV and CIM encoding runs in the worker pool
    // (batches under 1,000 rows stay inline, where the hand-off costs more than it moves).
    ...(options.pool ? { pool: options.pool } : {}),
  });
  driver = new HeadendDriver({
    ports: options.ports,
    clock,
    name: options.name,
    fieldLink: (id) => fleet.concentrator(id),
    writeStream: consumer.write,
    ...(options.dayClock ? { followWorkManager: true } : {}),
  });
  const d = driver;
  return {
    api: d,
    cim: consumer.cim,
    attachWebhook: (webhook) => consumer.attachWebhook(webhook),
    async provision(commands) {
      // The period first: each concentrator's first slot is placed by it.
      if (options.loadProfileEveryMinutes !== undefined)
        d.configureWorkManager(options.loadProfileEveryMinutes);
      // One import call: 2,000 meters are one replicated command, not 6,000.
      d.importRegistry([...commands]);
      await d.settle();
    },
    lastStep: async () => (await d.singletonState('integration')).inner.lastStepMs,
    resume: () => d.resume(),
    async step(atMs) {
      d.tick();
      await d.settle();
      await d.stepDone(atMs);
    },
    ...(options.dayClock
      ? {
          startDayClock: (clock: DayClock) => d.startDayClock(clock),
          follow: (advance: (atMs: number) => void) => d.follow(advance),
        }
      : {}),
    jobsFinished: () => d.outcomes.length,
    async finish(dayMs) {
      // Every acknowledgement held back to ride on a later call is sent: the day leaves no
      // outbox entry for a next driver to deliver again.
      await d.settle({ acks: 'all' });
      await consumer.flush();
      const integration = (await d.singletonState('integration')).inner;
      const reports = await consumer.writeReports(integration, d.registry, dayMs);
      const jobs = Object.values((await d.singletonState('jobs-manager')).inner.outcomes);
      return {
        rowsByFileKind: { ...consumer.csv.rowsByKind },
        messagesByNoun: { ...consumer.cim.countsByNoun },
        reports,
        jobs: {
          succeeded: jobs.filter((o) => o.status === 'succeeded').length,
          failed: jobs.filter((o) => o.status === 'failed').length,
        },
      };
    },
  };
}
