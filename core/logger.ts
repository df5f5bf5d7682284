import { type Logger, pino } from 'pino';

export type { Logger };

/**
 * Structured JSON logs (pino). The level comes from MF_LOG_LEVEL (default `info`; tests set
 * `silent` or `warn`). Child loggers carry `component` and, on nodes, `nodeId`.
 */
export function createLogger(bindings: Record<string, unknown> = {}, level?: string): Logger {
  return pino({
    level: level ?? process.env.MF_LOG_LEVEL ?? 'info',
    base: { pid: process.pid, ...bindings },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}

/** A logger that writes nothing: for pure code paths under test. */
export const silentLogger: Logger = pino({ level: 'silent' });
