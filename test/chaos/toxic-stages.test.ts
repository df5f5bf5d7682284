/**
 * Toxic stages under a manual scheduler: exact release times and order, flush on removal,
 * drop-and-close for timeout, truncation for limit_data, per-link toxicity rolls.
 */
import { describe, expect, it } from 'vitest';
import {
  type Chunk,
  type ChunkSink,
  createStage,
  type StageEnv,
  slicePoints,
} from '../../chaos/toxiproxy/stages.js';
import { parseNewToxic, type ToxicSpec } from '../../chaos/toxiproxy/toxic-types.js';

class ManualEnv implements StageEnv {
  time = 0;
  private timers: { at: number; seq: number; fn: () => void; live: boolean }[] = [];
  private seq = 0;
  constructor(private readonly rolls: number[] = []) {}
  nowMs(): number {
    return this.time;
  }
  setTimer(fn: () => void, delayMs: number) {
    const timer = { at: this.time + Math.max(0, delayMs), seq: this.seq++, fn, live: true };
    this.timers.push(timer);
    return () => {
      timer.live = false;
    };
  }
  random(): number {
    return this.rolls.shift() ?? 0.5;
  }
  advance(toMs: number): void {
    for (;;) {
      const due = this.timers
        .filter((t) => t.live && t.at <= toMs)
        .sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      due.live = false;
      this.time = due.at;
      due.fn();
    }
    this.time = toMs;
  }
}

class Recorder implements ChunkSink {
  events: { at: number; data?: string; end?: true }[] = [];
  constructor(private readonly env: ManualEnv) {}
  push(chunk: Chunk): void {
    this.events.push({ at: this.env.time, data: chunk.data.toString() });
  }
  end(): void {
    this.events.push({ at: this.env.time, end: true });
  }
}

function spec(body: Record<string, unknown>): ToxicSpec {
  return parseNewToxic(body, () => false);
}

function chunk(env: ManualEnv, text: string): Chunk {
  return { data: Buffer.from(text), timestampMs: env.time };
}

describe('toxic stages (manual clock)', () => {
  it('latency releases each chunk at arrival + latency, in order, and the end after the data', () => {
    const env = new ManualEnv();
    const out = new Recorder(env);
    const stage = createStage(spec({ type: 'latency', attributes: { latency: 100 } }), out, env);
    stage.push(chunk(env, 'a'));
    env.advance(30);
    stage.push(chunk(env, 'b'));
    stage.end();
    env.advance(1_000);
    expect(out.events).toEqual([
      { at: 100, data: 'a' },
      { at: 130, data: 'b' },
      { at: 130, end: true },
    ]);
  });

  it('removing a latency stage hands on everything it holds at once, in order', () => {
    const env = new ManualEnv();
    const out = new Recorder(env);
    const stage = createStage(spec({ type: 'latency', attributes: { latency: 500 } }), out, env);
    stage.push(chunk(env, 'a'));
    stage.push(chunk(env, 'b'));
    env.advance(10);
    stage.detach();
    expect(out.events).toEqual([
      { at: 10, data: 'a' },
      { at: 10, data: 'b' },
    ]);
    env.advance(1_000);
    expect(out.events).toHaveLength(2);
  });

  it('bandwidth sends len/rate ms per chunk and splits chunks over rate×100 bytes into 100 ms pieces', () => {
    const env = new ManualEnv();
    const out = new Recorder(env);
    const stage = createStage(spec({ type: 'bandwidth', attributes: { rate: 1 } }), out, env);
    stage.push(chunk(env, 'x'.repeat(250)));
    env.advance(10_000);
    expect(out.events.map((e) => [e.at, e.data?.length])).toEqual([
      [100, 100],
      [200, 100],
      [250, 50],
    ]);
  });

  it('timeout drops data and closes after `timeout` ms; removing it closes at once', () => {
    const env = new ManualEnv();
    const out = new Recorder(env);
    const stage = createStage(spec({ type: 'timeout', attributes: { timeout: 200 } }), out, env);
    stage.push(chunk(env, 'lost'));
    env.advance(199);
    expect(out.events).toEqual([]);
    env.advance(200);
    expect(out.events).toEqual([{ at: 200, end: true }]);

    const env2 = new ManualEnv();
    const out2 = new Recorder(env2);
    const forever = createStage(spec({ type: 'timeout', attributes: { timeout: 0 } }), out2, env2);
    forever.push(chunk(env2, 'lost'));
    env2.advance(60_000);
    expect(out2.events).toEqual([]);
    forever.detach();
    expect(out2.events).toEqual([{ at: 60_000, end: true }]);
  });

  it('limit_data truncates at the limit and closes; its count survives an update', () => {
    const env = new ManualEnv();
    const out = new Recorder(env);
    const stage = createStage(spec({ type: 'limit_data', attributes: { bytes: 5 } }), out, env);
    stage.push(chunk(env, 'abc'));
    stage.update({ ...stage.spec, attributes: { bytes: 6 } });
    stage.push(chunk(env, 'defgh'));
    stage.push(chunk(env, 'ignored'));
    expect(out.events).toEqual([
      { at: 0, data: 'abc' },
      { at: 0, data: 'def' },
      { at: 0, end: true },
    ]);
  });

  it('reset_peer drops the first chunk and ends the link `timeout` ms later', () => {
    const env = new ManualEnv();
    const out = new Recorder(env);
    const stage = createStage(spec({ type: 'reset_peer', attributes: { timeout: 50 } }), out, env);
    stage.push(chunk(env, 'hello'));
    env.advance(49);
    expect(out.events).toEqual([]);
    env.advance(50);
    expect(out.events).toEqual([{ at: 50, end: true }]);
  });

  it('toxicity is rolled per link: a roll at or above toxicity makes the stage a noop', () => {
    const env = new ManualEnv([0.9]);
    const out = new Recorder(env);
    createStage(spec({ type: 'latency', toxicity: 0.5, attributes: { latency: 100 } }), out, env).push(
      chunk(env, 'now'),
    );
    expect(out.events).toEqual([{ at: 0, data: 'now' }]);
    const env2 = new ManualEnv([0.1]);
    const out2 = new Recorder(env2);
    createStage(spec({ type: 'latency', toxicity: 0.5, attributes: { latency: 100 } }), out2, env2).push(
      chunk(env2, 'later'),
    );
    env2.advance(1_000);
    expect(out2.events).toEqual([{ at: 100, data: 'later' }]);
  });

  it('slow_close passes data at once and holds the end for `delay` ms', () => {
    const env = new ManualEnv();
    const out = new Recorder(env);
    const stage = createStage(spec({ type: 'slow_close', attributes: { delay: 300 } }), out, env);
    stage.push(chunk(env, 'd'));
    stage.end();
    env.advance(1_000);
    expect(out.events).toEqual([
      { at: 0, data: 'd' },
      { at: 300, end: true },
    ]);
  });

  it('slicer cut points cover the chunk without gaps and keep pieces near average ± variation', () => {
    const points = slicePoints(0, 1_000, 100, 20, () => 0.5);
    expect(points[0]).toBe(0);
    expect(points.at(-1)).toBe(1_000);
    for (let i = 1; i < points.length; i += 2) {
      const size = points[i]! - points[i - 1]!;
      expect(size).toBeGreaterThan(0);
      expect(size).toBeLessThanOrEqual(120);
      if (i + 1 < points.length) expect(points[i + 1]).toBe(points[i]);
    }
  });
});
