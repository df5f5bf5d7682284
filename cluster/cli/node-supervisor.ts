import type { ChildProcess } from 'node:child_process';
import { invariant } from '../../core/errors.js';
import { launchNode } from '../node/node-launcher.js';
import { watchCatchUp } from './catch-up-watch.js';
import type { RestartDecision, RestartPolicy } from './restart-policy.js';
import type { StatusReport } from './status-report.js';
import { portFree } from './up-ports.js';

/**
 * The thin driver of restart-policy.ts: one node process `up` started, restarted with the same
 * id, port and data directory when it exits on its own, as the policy decides. At most one
 * process per node id: a restart begins only after the old process's exit was seen and its
 * port can be bound again, and never once `up` is stopping (`halt`). A restarted process is
 * reported back when it registers, and caught up once catch-up.ts says its replicas are in sync.
 * Each process is tied to `up` (node-launcher.ts `tiedToLauncher`): SIGTERM if `up` dies.
 */
export type SupervisedNodeOptions = {
  id: string;
  host: string;
  port: number;
  dataDir: string;
  logPath: string;
  etcd: string;
  env: Record<string, string>;
  policy: RestartPolicy;
  /** Progress lines (stdout). */
  say: (line: string) => void;
  /** Lines that need a person (stderr): the bound reached, a restart that is not serving. */
  warn: (line: string) => void;
  /** How long a restarted node may take to become a member before it is killed (a failed start). */
  readyTimeoutMs: number;
  /** `meterfabric status`'s report of the cluster: what tells a restarted node caught up. */
  status: () => Promise<StatusReport>;
  /** The target replica count of a service (its manifest's `replicas`), undefined if unknown. */
  targetReplicas: (service: string) => number | undefined;
  /**
   * How long a registered restart may take to catch up before `up` says so on stderr (the
   * node is left running: catching up may just be slow).
   */
  catchUpTimeoutMs: number;
  /** Pause between status polls while waiting for the catch-up; default 1,000. */
  catchUpPollMs?: number;
  /** How long a restart waits for the old process's port to be free; default 10,000. */
  portFreeTimeoutMs?: number;
  /** Pause between port checks; default 250. */
  portPollMs?: number;
};

export class SupervisedNode {
  private child: ChildProcess | null = null;
  private backoff: NodeJS.Timeout | null = null;
  private wakeBackoff: (() => void) | null = null;
  private stopCatchUpWatch: (() => void) | null = null;
  private lastExitAtMs = 0;

  constructor(private readonly options: SupervisedNodeOptions) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts the node's first process; returns its PID. */
  start(): number {
    return this.spawn();
  }

  /** `up` is stopping: no restart begins from now on (synchronous, for signal handlers). */
  halt(): void {
    this.options.policy.stop();
    if (this.backoff) clearTimeout(this.backoff);
    this.backoff = null;
    this.wakeBackoff?.();
    this.stopCatchUpWatch?.();
  }

  /** Halts, then stops the running process (SIGTERM: it drains; SIGKILL after 15 s) and waits for its exit. */
  async stop(): Promise<void> {
    this.halt();
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((done) => {
      const kill = setTimeout(() => child.kill('SIGKILL'), 15_000);
      child.once('exit', () => {
        clearTimeout(kill);
        done();
      });
      child.kill('SIGTERM');
    });
  }

  private spawn(restart?: { restart: number; maxRestarts: number }): number {
    const { id, host, port } = this.options;
    invariant(this.child === null, `node ${id} already has a process; a second one must not start`, {
      pid: this.child?.pid,
    });
    let spawned: ChildProcess | undefined;
    const launched = launchNode({
      id,
      listen: `${host}:${port}`,
      dataDir: this.options.dataDir,
      etcd: this.options.etcd,
      logPath: this.options.logPath,
      env: this.options.env,
      startTimeoutMs: this.options.readyTimeoutMs,
      // A SIGKILLed `up` cannot stop its nodes: the kernel sends them SIGTERM (they drain and
      // exit) instead of leaving them to hold their ports and leases. In `up`'s process group.
      tiedToLauncher: true,
      onSpawn: (child) => {
        spawned = child;
        this.child = child;
        child.once('exit', (code, signal) => this.exited(child, signal ?? `code ${code}`));
      },
    });
    invariant(spawned?.pid !== undefined, `node ${id} was not spawned`);
    const pid = spawned.pid;
    launched.then(
      () => {
        if (!restart || this.child !== spawned) return;
        this.options.say(
          `node ${id} back: pid ${pid} registered in etcd ${seconds(Date.now() - this.lastExitAtMs)} s after the exit; its replicas are catching up`,
        );
        this.watchCatchUp(spawned);
      },
      // An exit during the start is reported by exited(); a start past the bound was killed
      // by launchNode, and its exit is handled (and counted) like any other.
      () => undefined,
    );
    return pid;
  }

  /** The restarted process registered: reports its catch-up (or, past the bound, its lack). */
  private watchCatchUp(child: ChildProcess): void {
    const { id, logPath, catchUpTimeoutMs } = this.options;
    const exitAtMs = this.lastExitAtMs;
    const watch = new AbortController();
    this.stopCatchUpWatch = () => watch.abort();
    child.once('exit', () => watch.abort());
    void watchCatchUp({
      node: id,
      status: this.options.status,
      targetReplicas: this.options.targetReplicas,
      timeoutMs: catchUpTimeoutMs,
      pollMs: this.options.catchUpPollMs ?? 1000,
      signal: watch.signal,
      caughtUp: ({ replicas, primaries }) =>
        this.options.say(
          `node ${id} caught up: its ${replicas} replicas are in sync${primaries > 0 ? `, primary for ${primaries} of them` : ''}, ${seconds(Date.now() - exitAtMs)} s after the exit`,
        ),
      notCaughtUp: (missing) =>
        this.options.warn(
          `node ${id} is back but not caught up ${seconds(catchUpTimeoutMs)} s after it registered (--max-wait-seconds): ${missing}. It keeps running; \`meterfabric status\` shows its replicas (persisted/committed LSNs, * = building); its log: ${logPath}`,
        ),
    });
  }

  private exited(child: ChildProcess, how: string): void {
    if (this.child !== child) return;
    this.child = null;
    this.lastExitAtMs = Date.now();
    this.decide(this.options.policy.exited(), `exited (${how})`);
  }

  private decide(decision: RestartDecision, what: string): void {
    const { id, logPath } = this.options;
    switch (decision.action) {
      case 'stopping':
        return;
      case 'disabled':
        this.options.say(
          `node ${id} ${what}; not restarting it (restarts are off: --no-restart); see ${logPath}`,
        );
        return;
      case 'give-up':
        this.options.warn(
          `node ${id} ${what} after ${decision.restarts} restarts within ${decision.windowMs / 60_000} min, the bound (--max-node-restarts); not restarting it again. Its log says why: ${logPath}. The cluster carries on with the other nodes; restart up to bring ${id} back.`,
        );
        return;
      case 'restart':
        this.options.say(
          `node ${id} ${what}; restarting in ${seconds(decision.delayMs)} s (restart ${decision.restart} of ${decision.maxRestarts})`,
        );
        void this.restartAfter(decision);
    }
  }

  private async restartAfter(decision: Extract<RestartDecision, { action: 'restart' }>): Promise<void> {
    const { policy, port, host, id } = this.options;
    await new Promise<void>((resume) => {
      this.wakeBackoff = resume;
      this.backoff = setTimeout(resume, decision.delayMs);
    });
    this.backoff = null;
    this.wakeBackoff = null;
    const deadlineMs = Date.now() + (this.options.portFreeTimeoutMs ?? 10_000);
    for (;;) {
      if (policy.stopping) return;
      if (await portFree(port, host)) break;
      if (Date.now() > deadlineMs) {
        this.decide(
          policy.exited(),
          `could not restart: port ${host}:${port} is still in use ${seconds(this.options.portFreeTimeoutMs ?? 10_000)} s after its process exited (another process holds it?)`,
        );
        return;
      }
      await new Promise((r) => setTimeout(r, this.options.portPollMs ?? 250));
    }
    // Checked again right before the spawn: a halt while the port was being checked wins.
    if (policy.stopping) return;
    const pid = this.spawn(decision);
    this.options.say(
      `restarted node ${id} on ${host}:${port} (pid ${pid}, restart ${decision.restart} of ${decision.maxRestarts}, same data ${this.options.dataDir})`,
    );
  }
}

const seconds = (ms: number) => (ms / 1000).toFixed(1);
