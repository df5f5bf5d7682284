import { join, resolve } from 'node:path';
import { Etcd3 } from 'etcd3';
import { ActorProxy } from '../../cluster/actors/actor-proxy.js';
import { loadManifests } from '../../cluster/config/manifest.js';
import { ConfigError } from '../../core/errors.js';
import { packageRoot } from '../../core/paths.js';
import { ActorProxyPorts } from '../host/service-ports.js';
import type { DemoDayFlags } from './day-flags.js';
import { demoEnvProblems, readDemoSizes } from './demo-env.js';
import { OutageWaiter, OutageWaitingPorts } from './outage-wait.js';
import { type DemoOptions, formatSummary, runDemoDay } from './run-day.js';

/**
 * The head-end half of `meterfabric up` (cluster/cli/up-command.ts loads this module from
 * dist/ once the cluster is healthy): one simulated day of the demo fleet with every head-end
 * service as the cluster's replicated actors (actors/hosting/headend-services.json); this
 * process is the driver (field links to the simulated fleet, CSV and CIM under ./out).
 */

/** Service manifests the nodes must load for the demo (read by `up` before it starts them). */
export const manifests: string[] = [
  join(packageRoot, 'cluster', 'config', 'runtime-services.json'),
  join(packageRoot, 'actors', 'hosting', 'headend-services.json'),
];

/**
 * What is wrong with the MF_DEMO_* variables `up` would read (demo-env.ts): `up` lists these
 * with its own problems while it plans, before anything starts.
 */
export const envProblems: (env: Readonly<Record<string, string | undefined>>) => string[] = demoEnvProblems;

export type UpContext = {
  etcd: string;
  nodes: string[];
  signal: AbortSignal;
  /** Where progress lines go (the `up` command prefixes them). */
  say?: (line: string) => void;
  /** The integration outputs this process hosts (`up`'s bridge, webhook and metrics flags). */
  integration?: Pick<DemoOptions, 'bridges' | 'webhooks' | 'metrics'>;
  /** The day's own flags (day-flags.ts: `--load-profile-every-minutes`). */
  day?: DemoDayFlags;
  /**
   * How long the day waits out a cluster outage (a node or etcd briefly away, a partition in
   * quorum loss) before it fails with MF_CLUSTER_UNAVAILABLE (outage-wait.ts); `up
   * --max-wait-seconds`, default 300 s.
   */
  maxWaitMs?: number;
};

export async function up(ctx: UpContext): Promise<void> {
  const say = ctx.say ?? ((line: string) => void process.stdout.write(`${line}\n`));
  const outDir = resolve(process.env.MF_DEMO_OUT ?? './out');
  const { concentrators, meters, knxSites, batterySites } = readDemoSizes(process.env);
  // One head-end name per demo run: a second `npm start` on the same data directory gets
  // fresh actors instead of the first run's jobs, cursors and stream. MF_DEMO_NAME names
  // the head-end of a killed run instead: its day resumes from what the cluster holds.
  const resumeName = process.env.MF_DEMO_NAME;
  if (resumeName !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(resumeName))
    throw new ConfigError(['MF_DEMO_NAME must be 1-64 letters, digits, "-" or "_" (a name `up` printed)']);
  const name = resumeName ?? `demo-${Date.now().toString(36)}`;
  const client = new Etcd3({ hosts: ctx.etcd, dialTimeout: 2000 });
  const proxy = new ActorProxy({
    client,
    cluster: process.env.MF_CLUSTER ?? 'meterfabric',
    services: loadManifests(manifests),
    defaultDeadlineMs: 90_000,
    // A partition in quorum loss is waited out (within a call's deadline, then by the outage
    // waiter below) instead of failing the day at once: the next step needs this one.
    waitOutQuorumLoss: true,
    ...(process.env.MF_CLUSTER_TOKEN ? { token: process.env.MF_CLUSTER_TOKEN } : {}),
  });
  await proxy.start();
  try {
    say(
      `demo: ${concentrators} concentrators x ${meters} meters, ${knxSites} KNX and ${batterySites} battery sites, one simulated day, load profiles every ${ctx.day?.loadProfileEveryMinutes ?? 60} min, output in ${outDir}`,
    );
    say(
      `demo: head-end "${name}" (if this process dies, MF_DEMO_NAME=${name} with the same --data resumes its day)`,
    );
    const summary = await runDemoDay({
      outDir,
      concentrators,
      metersPerConcentrator: meters,
      knxSites,
      batterySites,
      speed: 1440,
      ...ctx.day,
      signal: ctx.signal,
      progress: (line) => say(`demo: ${line}`),
      // The work manager's durable reminders run the day on the cluster (its day clock);
      // MF_DEMO_DAY_CLOCK=0 steps it from this process instead (the driver's tick, for comparison).
      services: {
        ports: new OutageWaitingPorts(
          new ActorProxyPorts(proxy),
          new OutageWaiter({
            maxWaitMs: ctx.maxWaitMs ?? 300_000,
            say: (line) => say(`demo: ${line}`),
            signal: ctx.signal,
          }),
        ),
        name,
        resume: resumeName !== undefined,
        dayClock: process.env.MF_DEMO_DAY_CLOCK !== '0',
      },
      ...ctx.integration,
    });
    for (const line of formatSummary(summary).split('\n')) say(line);
    say(`demo finished: CSV and CIM files are under ${outDir}. The cluster keeps running; Ctrl-C stops it.`);
  } finally {
    await proxy.close();
    client.close();
  }
}
