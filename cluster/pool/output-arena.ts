import { MeterfabricError } from '../../core/errors.js';

/**
 * Shared output arenas: where a pool task writes its result bytes instead of allocating a
 * buffer per message and moving it back. Why: buffers that arrive by transfer count as
 * external memory of the caller's isolate and are still held (the batch is not complete, the
 * writer has not written them) when V8 scavenges, so they are promoted and freed only by
 * mark-compacts, which V8 starts for "external memory pressure" every ~64 MB received. With
 * 14 MB of XML per 61,440 readings the caller's thread ran a mark-compact every 4-5 batches
 * (13 ms each over a 17 MB heap, plus V8's concurrent marking on the other core): ~0.15 ms
 * CPU per 1000 readings, a third of the pool path (cluster/pool/README.md).
 *
 * An arena is an ArrayBuffer that moves to the task (transfer list), is written by the worker
 * in place (no copy, nothing allocated per message) and moves back with the offsets; the caller
 * takes what it needs out of it and gives it back to the free list for the next task. Session
 * 16 measured why not a SharedArrayBuffer (as in sessions 14-15): V8 has no fast path for
 * writes into shared memory, and the same encode cost 0.24-0.25 ms CPU per 1000 readings into
 * a SharedArrayBuffer against 0.17-0.19 into an ArrayBuffer (per-thread CPU, worker and main
 * thread alike) -- the whole of the workers' penalty against the main thread. The same arenas
 * move back and forth (a few, reused), so the caller's isolate is not handed new external
 * memory per message as with a buffer per message (4 mark-compacts in 5 s of two workers
 * encoding, against 46 in 3 s then). Safety comes with the move: while a task runs the
 * caller's handle is detached, so a failed or cancelled task's arena (a terminated worker may
 * still have been writing) is simply never seen again.
 */
export class OutputArenaError extends MeterfabricError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('MF_POOL_ARENA_INVALID', message, details);
    this.name = 'OutputArenaError';
  }
}

export type OutputArenaLimits = {
  /** Smallest arena made (bytes). */
  minArenaBytes: number;
  /**
   * Arenas grow in powers of two up to this size, then in multiples of it (bytes). Why not
   * powers of two all the way: an arena that comes back is new external memory of the caller's
   * isolate, and V8 counts what arrived since its lowest point toward the old generation's
   * limit; a 16 MiB arena for ~9 MB of XML started a mark-compact on the caller's thread for
   * nearly every returning pair (session 17, cluster/pool/README.md).
   */
  arenaStepBytes: number;
  /** Largest arena made (bytes); a task's output beyond it is returned in buffers of its own. */
  maxArenaBytes: number;
  /** Arenas kept for reuse at most (each is virtual memory; only the pages written are resident). */
  maxRetained: number;
  /**
   * A free arena not lent for this many acquires is dropped: tasks no longer need its size
   * (an arena far larger than asked for is kept but not lent, see `acquire`, so it leaves only
   * this way once tasks that size have stopped).
   */
  maxIdleAcquires: number;
};

export const defaultArenaLimits: OutputArenaLimits = {
  minArenaBytes: 64 * 1024,
  arenaStepBytes: 1024 * 1024,
  maxArenaBytes: 64 * 1024 * 1024,
  maxRetained: 8,
  maxIdleAcquires: 64,
};

/** A free list of arenas, sized in powers of two so that tasks of similar size reuse each other's. */
export class OutputArenas {
  readonly limits: OutputArenaLimits;
  /** Free arenas, each with the acquire count when it was given back (for `maxIdleAcquires`). */
  private readonly free: { arena: ArrayBuffer; releasedAt: number }[] = [];
  private createdCount = 0;
  private acquires = 0;

  constructor(limits: Partial<OutputArenaLimits> = {}) {
    this.limits = { ...defaultArenaLimits, ...limits };
  }

  /** An arena of at least `bytes` (capped at maxArenaBytes), reused when one is free. */
  acquire(bytes: number): ArrayBuffer {
    const { minArenaBytes, maxArenaBytes, arenaStepBytes, maxIdleAcquires } = this.limits;
    this.acquires++;
    let size = minArenaBytes;
    while (size < bytes && size < arenaStepBytes) size *= 2;
    if (size < bytes) size = Math.ceil(bytes / arenaStepBytes) * arenaStepBytes;
    size = Math.min(size, maxArenaBytes);
    for (let i = this.free.length - 1; i >= 0; i--)
      if (this.acquires - this.free[i]!.releasedAt > maxIdleAcquires) this.free.splice(i, 1);
    // The smallest free arena that is big enough, unless it is over 1.5x the size: lent, it
    // would come back as the external memory the size is chosen to keep small (mark-compacts).
    // Such a one stays free for the tasks of its size (tasks that alternate between small and
    // large would otherwise drop and remake a large arena at every switch) and leaves once idle.
    let best = -1;
    for (let i = 0; i < this.free.length; i++) {
      const length = this.free[i]!.arena.byteLength;
      if (length >= size && (best < 0 || length < this.free[best]!.arena.byteLength)) best = i;
    }
    if (best >= 0 && this.free[best]!.arena.byteLength <= size * 1.5)
      return this.free.splice(best, 1)[0]!.arena;
    this.createdCount++;
    return new ArrayBuffer(size);
  }

  /** Gives back an arena whose task has finished and whose bytes the caller no longer reads. */
  release(arena: ArrayBuffer): void {
    // A detached arena (moved to a task that never gave it back) has no bytes: nothing to keep.
    if (arena.byteLength === 0 || this.free.some((f) => f.arena === arena)) return;
    this.free.push({ arena, releasedAt: this.acquires });
    // Over the bound: drop the smallest (the large ones are what big tasks need).
    if (this.free.length > this.limits.maxRetained) {
      let smallest = 0;
      for (let i = 1; i < this.free.length; i++)
        if (this.free[i]!.arena.byteLength < this.free[smallest]!.arena.byteLength) smallest = i;
      this.free.splice(smallest, 1);
    }
  }

  /** Arenas made so far (a steady stream of tasks reuses them instead of making more). */
  get created(): number {
    return this.createdCount;
  }

  get retained(): number {
    return this.free.length;
  }
}

/**
 * How many bytes per item (reading) to reserve in the next arena: the most any of the last
 * `window` tasks wrote per item, plus `margin`, never above `initial` (the reservation before
 * anything was measured). An arena much larger than what is written costs the caller's
 * isolate mark-compacts (OutputArenaLimits.arenaStepBytes); one too small only makes the
 * last messages of a task come back in buffers of their own (same bytes).
 */
export class BytesPerItemEstimate {
  private readonly recent: number[] = [];

  constructor(
    readonly initial: number,
    readonly window = 16,
    readonly margin = 1.125,
  ) {}

  get bytesPerItem(): number {
    if (this.recent.length === 0) return this.initial;
    return Math.min(this.initial, Math.ceil(Math.max(...this.recent) * this.margin));
  }

  /** What a finished task wrote (all its messages, spilled ones too) for `items` items. */
  record(bytes: number, items: number): void {
    if (!(items > 0) || !(bytes >= 0)) return;
    this.recent.push(bytes / items);
    if (this.recent.length > this.window) this.recent.shift();
  }
}

/** Bytes of all messages of a layout: those in the arena and those that came back on their own. */
export function layoutBytes(layout: ArenaLayout): number {
  let bytes = 0;
  for (let i = 1; i < layout.spans.length; i += 2) bytes += layout.spans[i]!;
  for (const own of Object.values(layout.spilled)) bytes += own.byteLength;
  return bytes;
}

/**
 * Where a task's messages ended up: `spans[2i]` and `spans[2i + 1]` are message i's offset
 * and length in `arena` (the task's arena, moved back), or -1 and 0 when it did not fit and
 * its bytes are `spilled[i]`.
 */
export type ArenaLayout = { spans: number[]; spilled: Record<number, Uint8Array>; arena: ArrayBuffer };

/** Checks an arena that came over the thread boundary. */
export function checkArena(arena: unknown, maxBytes = defaultArenaLimits.maxArenaBytes): ArrayBuffer {
  if (!(arena instanceof ArrayBuffer) || arena.byteLength === 0 || arena.byteLength > maxBytes)
    throw new OutputArenaError(
      `an output arena must be a (moved, not shared) ArrayBuffer of 1 to ${maxBytes} bytes`,
    );
  return arena;
}

/**
 * Message `index` of a task's layout: a view into the arena when it fit (valid until the
 * arena is released), else the bytes of its own. Throws for a layout that does not fit the
 * arena (a task that broke its contract), so a bad offset never reads stale bytes.
 */
export function arenaMessage(arena: ArrayBuffer, layout: ArenaLayout, index: number): Uint8Array {
  const offset = layout.spans[2 * index];
  const length = layout.spans[2 * index + 1];
  if (offset === -1) {
    const own = layout.spilled[index];
    if (!(own instanceof Uint8Array))
      throw new OutputArenaError(`message ${index} is neither in the arena nor returned on its own`);
    return own;
  }
  if (
    !Number.isSafeInteger(offset) ||
    !Number.isSafeInteger(length) ||
    offset! < 0 ||
    length! < 0 ||
    offset! + length! > arena.byteLength
  )
    throw new OutputArenaError(`message ${index} lies outside its arena`, { offset, length });
  return new Uint8Array(arena, offset, length);
}
