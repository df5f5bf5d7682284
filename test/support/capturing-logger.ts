import { Writable } from 'node:stream';
import { type Logger, pino } from 'pino';

/** One JSON line pino wrote: its message and level (30 info, 40 warn, 50 error), and the rest. */
export type LogLine = Record<string, unknown> & { msg: string; level: number };

/** A pino logger at info whose output the test reads back: as text, or line by line parsed. */
export function capturingLogger(): { logger: Logger; text: () => string; lines: () => LogLine[] } {
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  const text = () => chunks.join('');
  return {
    logger: pino({ level: 'info' }, sink),
    text,
    lines: () =>
      text()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as LogLine),
  };
}
