import { appendFileSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { awaitNodeReport, formatNodeReport } from '../../cluster/node/ready-report.js';

/** A node's ready line read from its log (cluster/node/ready-report.ts), after earlier runs' lines. */
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function logFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'mf-ready-'));
  dirs.push(dir);
  return join(dir, 'n2.log');
}

describe('awaitNodeReport', () => {
  it('with fromByte reads only what this run wrote: an earlier run of the same pid is not taken for it', async () => {
    const logPath = logFile();
    // An earlier process of n2 with the same (reused) pid, on another port.
    writeFileSync(
      logPath,
      `some log line\n${formatNodeReport({ event: 'ready', nodeId: 'n2', address: '127.0.0.1:1111', pid: 42 })}`,
    );
    const fromByte = statSync(logPath).size;
    const waiting = awaitNodeReport({
      nodeId: 'n2',
      logPath,
      event: 'ready',
      pid: 42,
      fromByte,
      exited: () => false,
      timeoutMs: 10_000,
      pollMs: 10,
    });
    let settled = false;
    void waiting.then(() => {
      settled = true;
    });
    await new Promise((r) => setTimeout(r, 100));
    expect(settled).toBe(false);
    appendFileSync(
      logPath,
      formatNodeReport({ event: 'ready', nodeId: 'n2', address: '127.0.0.1:2222', pid: 42 }),
    );
    expect((await waiting).address).toBe('127.0.0.1:2222');
  });

  it('without fromByte the whole log is read (the first matching report)', async () => {
    const logPath = logFile();
    writeFileSync(
      logPath,
      formatNodeReport({ event: 'ready', nodeId: 'n2', address: '127.0.0.1:1111', pid: 7 }),
    );
    const report = await awaitNodeReport({
      nodeId: 'n2',
      logPath,
      event: 'ready',
      pid: 7,
      exited: () => false,
      timeoutMs: 1_000,
    });
    expect(report.address).toBe('127.0.0.1:1111');
  });

  it('a node that exits before its report fails with the log tail, also when nothing is past fromByte', async () => {
    const logPath = logFile();
    writeFileSync(logPath, 'Error: listen EADDRINUSE 127.0.0.1:2222\n');
    const err = await awaitNodeReport({
      nodeId: 'n2',
      logPath,
      event: 'ready',
      pid: 9,
      fromByte: statSync(logPath).size,
      exited: () => true,
      timeoutMs: 1_000,
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'MF_NODE_START' });
    expect((err as Error).message).toContain('EADDRINUSE');
  });
});
