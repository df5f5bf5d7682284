/**
 * What `meterfabric up` has started, in order, and the one way it is stopped: by the handle
 * each start returned (the PID it spawned), layers in reverse order of their start (the
 * head-end's metrics endpoint, then the nodes, then etcd: a node drains while etcd still
 * answers), the members of one layer together (the nodes drain at the same time). Every way
 * out of `up` (a failed start, a failed day, Ctrl-C, SIGTERM) goes through stopAll().
 */

export type Started = {
  /** For the progress and warning lines ("node n2", "etcd"). */
  name: string;
  /** The process it runs now, if it is one (a restarted node has a new PID). */
  pid?: () => number | undefined;
  /** Stops it and resolves once it is gone (a process: SIGTERM, then SIGKILL after its grace). */
  stop(): Promise<void>;
};

export class StartedStack {
  private readonly layers: { layer: string; members: Started[] }[] = [];
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly options: {
      /** Progress ("stopping nodes ..."). */
      say: (line: string) => void;
      /** A stop that failed: said, and the rest are still stopped. */
      warn: (line: string) => void;
      /** The line said before a layer stops; absent: `stopping <layer>`. */
      stoppingLine?: (layer: string) => string;
    },
  ) {}

  /** Records what was just started, under `layer`; refused once stopping began (stop it yourself). */
  add(layer: string, started: Started): void {
    if (this.stopping) throw new Error(`${started.name} was started while up is stopping`);
    const last = this.layers.at(-1);
    if (last?.layer === layer) last.members.push(started);
    else this.layers.push({ layer, members: [started] });
  }

  get isStopping(): boolean {
    return this.stopping !== undefined;
  }

  /** PIDs of what is recorded and has one now (for the exit safety net and for tests). */
  pids(): number[] {
    return this.layers.flatMap((l) => l.members.map((m) => m.pid?.())).filter((p) => p !== undefined);
  }

  /** Stops everything, last layer first; the same promise on every call. */
  stopAll(): Promise<void> {
    this.stopping ??= this.stopLayers();
    return this.stopping;
  }

  private async stopLayers(): Promise<void> {
    for (const { layer, members } of [...this.layers].reverse()) {
      this.options.say(this.options.stoppingLine?.(layer) ?? `stopping ${layer}`);
      await Promise.all(
        members.map((m) =>
          m.stop().catch((err: unknown) => {
            const pid = m.pid?.();
            this.options.warn(
              `could not stop ${m.name}${pid !== undefined ? ` (pid ${pid})` : ''}: ${err instanceof Error ? err.message : String(err)}`,
            );
          }),
        ),
      );
    }
  }

  /**
   * Last resort when `up` itself dies without stopping (an uncaught error): SIGKILL what still
   * runs, synchronously (for process.on('exit')). Drains nothing; the normal way is stopAll().
   */
  killRemaining(): void {
    for (const pid of this.pids()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}
