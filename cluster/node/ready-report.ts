import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { MeterfabricError } from '../../core/errors.js';

/**
 * The node's machine-readable start reports, one JSON line each on stdout (whatever the log
 * level): `listening` once its gRPC server is bound (before it joins the cluster), `ready`
 * once it is a member. Both carry the address it really bound, so a supervisor can start a
 * node on port 0 and learn the port from the node instead of picking a "free" port itself
 * (another process can take such a port before the node binds it: EADDRINUSE).
 */
export type NodeReportEvent = 'listening' | 'ready';

export type NodeReport = { event: NodeReportEvent; nodeId: string; address: string; pid: number };

export function formatNodeReport(report: NodeReport): string {
  return `${JSON.stringify(report)}\n`;
}

/**
 * The first `event` report of `nodeId` in a log's text (lines that are not reports are
 * skipped); with `pid`, only that process's (a restarted node appends to the same log).
 */
export function findNodeReport(
  logText: string,
  nodeId: string,
  event: NodeReportEvent,
  pid?: number,
): NodeReport | undefined {
  const marker = `"event":"${event}"`;
  for (const line of logText.split('\n')) {
    if (!line.startsWith('{"event":') || !line.includes(marker)) continue;
    try {
      const report = JSON.parse(line) as Partial<NodeReport>;
      if (report.event !== event || report.nodeId !== nodeId || typeof report.address !== 'string') continue;
      if (pid === undefined || report.pid === pid) return report as NodeReport;
    } catch {
      // a torn last line: read again on the next poll
    }
  }
  return undefined;
}

/** The last lines of a node's log, for errors that must outlive the log file. */
export function logTail(logPath: string, lines = 15): string {
  try {
    return readFileSync(logPath, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(log unreadable)';
  }
}

export type AwaitReportOptions = {
  nodeId: string;
  logPath: string;
  event: NodeReportEvent;
  /** The node's process id: reports of earlier runs in the same log are not taken for this one's. */
  pid: number | undefined;
  /** True once the node's process has exited. */
  exited: () => boolean;
  timeoutMs: number;
  /** The error code thrown when the node exits or times out (callers keep their own). */
  errorCode?: string;
  pollMs?: number;
  /**
   * Where this run's output starts in the log (its size before the spawn): a restarted node
   * appends to a log that may hold megabytes of earlier runs, read on every poll otherwise.
   */
  fromByte?: number;
};

/** The log's text from `fromByte` on ('' while it does not exist yet). */
function readLogFrom(logPath: string, fromByte: number): string {
  let fd: number;
  try {
    fd = openSync(logPath, 'r');
  } catch {
    return ''; // not created yet
  }
  try {
    const sizeBytes = fstatSync(fd).size;
    if (sizeBytes <= fromByte) return '';
    const buffer = Buffer.alloc(sizeBytes - fromByte);
    const read = readSync(fd, buffer, 0, buffer.length, fromByte);
    return buffer.toString('utf8', 0, read);
  } finally {
    closeSync(fd);
  }
}

/**
 * Polls the node's log until its `event` report appears. A node that exits first or takes
 * longer than `timeoutMs` fails with `errorCode`, the log's tail in the message (callers often
 * delete the log's folder on failure, and the cause, e.g. EADDRINUSE, is in that tail).
 */
export async function awaitNodeReport(options: AwaitReportOptions): Promise<NodeReport> {
  const { nodeId, logPath, event } = options;
  const code = options.errorCode ?? 'MF_NODE_START';
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    // Checked before reading so that a report written just before exiting still counts.
    const gone = options.exited();
    const text = readLogFrom(logPath, options.fromByte ?? 0);
    const report = findNodeReport(text, nodeId, event, options.pid);
    if (report) return report;
    if (gone)
      throw new MeterfabricError(
        code,
        `node ${nodeId} exited during start (${logPath}); its log ends:\n${logTail(logPath)}`,
      );
    if (Date.now() > deadline)
      throw new MeterfabricError(
        code,
        `node ${nodeId} not ${event} after ${options.timeoutMs} ms (${logPath}); its log ends:\n${logTail(logPath)}`,
      );
    await new Promise((r) => setTimeout(r, options.pollMs ?? 100));
  }
}
