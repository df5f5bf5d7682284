import { EventEmitter } from 'node:events';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { WorkerPool } from '../../cluster/pool/pool.js';

/**
 * Piscina emits 'error' on its instance for what belongs to no task: a result posted by a worker
 * for a task cancelled a moment before (seen here as "Unexpected message from Worker" when a
 * grouped encode was aborted), or an idle worker that died. An 'error' event nobody listens to
 * is thrown by EventEmitter and would take the node down. The pool hears it, logs it, counts it.
 */
describe('worker pool: piscina errors outside any task', () => {
  it('are logged and counted, not thrown, and the pool keeps running tasks', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) });
    const pool = new WorkerPool({ threads: 1, logger });
    try {
      // The piscina instance the pool made (private): what piscina itself would emit on.
      const piscina = (pool as unknown as { piscina: EventEmitter }).piscina;
      expect(piscina).toBeInstanceOf(EventEmitter);
      expect(() =>
        piscina.emit('error', new Error('Unexpected message from Worker: { taskId: 39 }')),
      ).not.toThrow();
      expect(pool.strayErrors).toBe(1);
      const logged = JSON.parse(lines.join('')) as { level: number; msg: string; err: { message: string } };
      expect(logged.level).toBe(40);
      expect(logged.msg).toMatch(/outside any task/);
      expect(logged.err.message).toMatch(/^Unexpected message from Worker/);
      expect(
        await pool.run({ module: 'cluster/pool/pool-tasks', fn: 'doubleAll', payload: [1, 2, 3] }),
      ).toEqual([2, 4, 6]);
    } finally {
      await pool.close();
    }
  });
});
