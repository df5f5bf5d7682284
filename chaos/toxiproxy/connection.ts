/**
 * One proxied TCP connection: the client socket, the upstream socket, and a link per
 * direction (upstream = client→server, downstream = server→client), each a chain of toxic
 * stages ending in a writer to the destination socket (Go's ToxicLink, link.go).
 *
 * Closing follows Go exactly: when a link's chain ends it closes its destination socket, and
 * closing a socket also ends the link that reads from it, so a close in either direction tears
 * down both; TCP half-close is not kept. Connections that started while a reset_peer toxic
 * existed close with RST (Go sets SO_LINGER=0 on them; Node's resetAndDestroy does the same).
 */
import type { Socket } from 'node:net';
import { type Chunk, type ChunkSink, createStage, type Stage, type StageEnv } from './stages.js';
import type { Direction, ToxicSpec } from './toxic-types.js';

/** Back-pressure bound per link: bytes held by toxics plus bytes queued for the destination. */
export const maxLinkBufferedBytes = 64 * 1024;
/** How long a gracefully closed socket may take to flush before it is destroyed anyway. */
export const closeFlushTimeoutMs = 10_000;

class SocketSink implements ChunkSink {
  constructor(
    private readonly link: Link,
    private readonly dest: Socket,
    private readonly connection: Connection,
  ) {}

  get closed(): boolean {
    return this.connection.isClosed(this.dest);
  }

  push(chunk: Chunk): void {
    if (this.closed) return;
    this.dest.write(chunk.data);
    this.link.relieve();
  }

  end(): void {
    this.connection.closeSocket(this.dest);
  }
}

export class Link {
  private stages: Stage[] = [];
  private inputDone = false;
  private paused = false;
  private readonly sink: SocketSink;

  constructor(
    readonly direction: Direction,
    private readonly source: Socket,
    private readonly dest: Socket,
    connection: Connection,
    private readonly env: StageEnv,
  ) {
    this.sink = new SocketSink(this, dest, connection);
    dest.on('drain', () => this.relieve());
  }

  private head(): ChunkSink {
    return this.stages[0] ?? this.sink;
  }

  start(specs: readonly ToxicSpec[]): void {
    for (const spec of specs) this.addToxic(spec);
    this.source.on('data', (data: Buffer) => this.onData(data));
  }

  private onData(data: Buffer): void {
    if (this.inputDone) return;
    if (this.stages.length === 0) {
      // No toxic on this link: a straight pipe (no chunk record, no clock read). It pauses
      // the source at the same bound as a toxic chain, not at the socket's 16 KiB mark as
      // `pipe()` does: fewer stop/start cycles of the read side, and 'drain' (which fires
      // because the write returned false) resumes it. A toxic added later puts its stage at
      // the head, so the next chunk already takes the toxic pipeline.
      if (this.sink.closed) return;
      this.dest.write(data);
      if (!this.paused && this.dest.writableLength > maxLinkBufferedBytes) {
        this.paused = true;
        this.source.pause();
      }
      return;
    }
    this.head().push({ data, timestampMs: this.env.nowMs() });
    if (!this.paused && this.bufferedBytes() > maxLinkBufferedBytes) {
      this.paused = true;
      this.source.pause();
    }
  }

  /** The source reached EOF, failed, or was closed: the end travels behind the queued data. */
  inputEnded(): void {
    if (this.inputDone) return;
    this.inputDone = true;
    this.head().end();
  }

  private bufferedBytes(): number {
    let held = this.dest.writableLength;
    for (const stage of this.stages) held += stage.heldBytes();
    return held;
  }

  /** Called whenever data left the link: resumes the source once the buffers have drained. */
  relieve(): void {
    if (!this.paused) return;
    // A straight pipe resumes on 'drain' (the destination flushed); a toxic chain once its
    // held bytes have gone below half the bound (checked here as data leaves the chain).
    if (this.stages.length === 0 || this.bufferedBytes() <= maxLinkBufferedBytes / 2) {
      this.paused = false;
      if (!this.inputDone) this.source.resume();
    }
  }

  addToxic(spec: ToxicSpec): void {
    const stage = createStage(spec, this.sink, this.env);
    const last = this.stages.at(-1);
    if (last) last.next = stage;
    this.stages.push(stage);
    // A link whose chain already ended keeps the toxic only for the record (Go closes its stub).
  }

  updateToxic(spec: ToxicSpec): void {
    this.stages.find((stage) => stage.name === spec.name)?.update(spec);
  }

  removeToxic(name: string): void {
    const index = this.stages.findIndex((stage) => stage.name === name);
    if (index < 0) return;
    const stage = this.stages[index] as Stage;
    // Rewire first so that anything the stage flushes and anything arriving later keep their order.
    const previous = this.stages[index - 1];
    if (previous) previous.next = stage.next;
    this.stages.splice(index, 1);
    stage.detach();
    this.relieve();
  }
}

export class Connection {
  readonly upstreamLink: Link;
  readonly downstreamLink: Link;
  private readonly closed = new Set<Socket>();
  private finished = false;

  constructor(
    readonly client: Socket,
    readonly upstream: Socket,
    toxics: { upstream: readonly ToxicSpec[]; downstream: readonly ToxicSpec[] },
    private readonly resetOnClose: boolean,
    env: StageEnv,
    private readonly onFinished: (connection: Connection) => void,
  ) {
    for (const socket of [client, upstream]) {
      // Go sets TCP_NODELAY on every TCP connection; without it Nagle would add its own delays.
      socket.setNoDelay(true);
      socket.on('end', () => this.sourceLink(socket).inputEnded());
      socket.on('error', () => this.socketGone(socket));
      socket.on('close', () => this.socketGone(socket));
    }
    this.upstreamLink = new Link('upstream', client, upstream, this, env);
    this.downstreamLink = new Link('downstream', upstream, client, this, env);
    this.upstreamLink.start(toxics.upstream);
    this.downstreamLink.start(toxics.downstream);
  }

  link(direction: Direction): Link {
    return direction === 'upstream' ? this.upstreamLink : this.downstreamLink;
  }

  private sourceLink(socket: Socket): Link {
    return socket === this.client ? this.upstreamLink : this.downstreamLink;
  }

  isClosed(socket: Socket): boolean {
    return this.closed.has(socket);
  }

  /** Go's dest.Close(): no more reads from this socket, pending writes flushed, then closed. */
  closeSocket(socket: Socket): void {
    if (this.closed.has(socket)) return;
    this.closed.add(socket);
    this.sourceLink(socket).inputEnded();
    if (this.resetOnClose && !socket.destroyed) {
      socket.resetAndDestroy();
    } else if (!socket.destroyed) {
      const timer = setTimeout(() => socket.destroy(), closeFlushTimeoutMs);
      timer.unref();
      socket.end(() => {
        clearTimeout(timer);
        socket.destroy();
      });
    }
    this.checkFinished();
  }

  private socketGone(socket: Socket): void {
    if (!this.closed.has(socket)) {
      this.closed.add(socket);
      socket.destroy();
      this.sourceLink(socket).inputEnded();
    }
    this.checkFinished();
  }

  /** Closes both sockets (proxy stopped or disabled). */
  close(): void {
    this.closeSocket(this.client);
    this.closeSocket(this.upstream);
  }

  private checkFinished(): void {
    if (!this.finished && this.closed.size === 2) {
      this.finished = true;
      this.onFinished(this);
    }
  }
}
