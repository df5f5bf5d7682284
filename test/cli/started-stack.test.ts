import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { StartedStack } from '../../cluster/cli/started-stack.js';
import { processAlive } from '../headend/support/up-process.js';
import { waitFor } from '../support/wait.js';

/** What `up` started, stopped one way: layers last-started first, a layer's members together. */

function recorder() {
  const events: string[] = [];
  const lines: string[] = [];
  const warnings: string[] = [];
  const stack = new StartedStack({ say: (l) => lines.push(l), warn: (l) => warnings.push(l) });
  /** A start that records when its stop begins and ends; `fails`: its stop rejects. */
  const started = (name: string, options: { fails?: boolean; pid?: number } = {}) => ({
    name,
    ...(options.pid !== undefined ? { pid: () => options.pid } : {}),
    stop: async () => {
      events.push(`stop ${name}`);
      await new Promise((r) => setTimeout(r, 5));
      events.push(`gone ${name}`);
      if (options.fails) throw new Error('refused');
    },
  });
  return { stack, events, lines, warnings, started };
}

describe('StartedStack', () => {
  it('stops layers in reverse order of start; the members of a layer together', async () => {
    const { stack, events, lines, started } = recorder();
    stack.add('etcd', started('etcd'));
    stack.add('nodes', started('n1'));
    stack.add('nodes', started('n2'));
    stack.add('metrics', started('metrics'));
    await stack.stopAll();
    expect(events).toEqual([
      'stop metrics',
      'gone metrics',
      'stop n1',
      'stop n2',
      'gone n1',
      'gone n2',
      'stop etcd',
      'gone etcd',
    ]);
    expect(lines).toEqual(['stopping metrics', 'stopping nodes', 'stopping etcd']);
  });

  it('a stop that fails is said, naming its PID, and the rest are still stopped', async () => {
    const { stack, events, warnings, started } = recorder();
    stack.add('etcd', started('etcd'));
    stack.add('nodes', started('n1', { fails: true, pid: 4242 }));
    await stack.stopAll();
    expect(events).toContain('gone etcd');
    expect(warnings).toEqual(['could not stop n1 (pid 4242): refused']);
  });

  it('stopAll twice stops once; nothing may be added once stopping', async () => {
    const { stack, events, started } = recorder();
    stack.add('etcd', started('etcd'));
    await Promise.all([stack.stopAll(), stack.stopAll()]);
    expect(events.filter((e) => e === 'stop etcd')).toHaveLength(1);
    expect(stack.isStopping).toBe(true);
    expect(() => stack.add('nodes', started('n1'))).toThrow('n1 was started while up is stopping');
  });

  it('killRemaining SIGKILLs the recorded processes by PID (the exit safety net)', async () => {
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)'], { stdio: 'ignore' });
    const pid = child.pid as number;
    try {
      const { stack } = recorder();
      stack.add('nodes', { name: 'n1', pid: () => pid, stop: async () => undefined });
      expect(stack.pids()).toEqual([pid]);
      stack.killRemaining();
      await waitFor(() => child.signalCode === 'SIGKILL', 'the child to be killed', 10_000);
      expect(processAlive(pid)).toBe(false);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
