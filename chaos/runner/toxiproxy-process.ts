/**
 * Our Toxiproxy server in its own process (`meterfabric chaos toxiproxy`), as a real Toxiproxy
 * would be: a busy runner must not slow the links every node depends on (etcd keepalives
 * included). Stopped by PID; tied to the process that started it (core/process/tied-spawn.ts).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { MeterfabricError } from '../../core/errors.js';
import { packageRoot } from '../../core/paths.js';
import { setprivPdeathsigUsable, tiedSpawnPlan, warnUntiedOnce } from '../../core/process/tied-spawn.js';

export type ToxiproxyProcess = { url: string; pid: number; close(): Promise<void> };

export async function startToxiproxyProcess(startTimeoutMs = 15_000): Promise<ToxiproxyProcess> {
  // Tied to this process, as the chaos cluster's nodes and etcd are: a run that crashes or is
  // killed must not leave it holding its API port and every proxy's port.
  const tied = setprivPdeathsigUsable();
  if (!tied)
    warnUntiedOnce(
      'MF_CHAOS_TOXIPROXY_UNTIED',
      'setpriv --pdeathsig is not usable here (util-linux 2.33+ is needed): the chaos toxiproxy process keeps ' +
        'running, holding its ports, if this process is killed without stopping it.',
    );
  const plan = tiedSpawnPlan(
    process.execPath,
    [join(packageRoot, 'bin', 'meterfabric.js'), 'chaos', 'toxiproxy', '--host', '127.0.0.1', '--port', '0'],
    { setprivUsable: tied, parentPid: process.pid, ownProcessGroup: false },
  );
  const child = spawn(plan.command, plan.args, {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, MF_LOG_LEVEL: 'warn' },
    detached: plan.detached,
  });
  let exited = child.exitCode !== null;
  child.once('exit', () => {
    exited = true;
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new MeterfabricError('MF_CHAOS_TOXIPROXY_START', 'the toxiproxy process did not start in time'));
    }, startTimeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new MeterfabricError('MF_CHAOS_TOXIPROXY_START', `the toxiproxy process exited with ${code}`));
    });
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      const match = /listening on (http:\/\/\S+)/.exec(line);
      if (match) {
        clearTimeout(timer);
        resolve(match[1] as string);
      }
    });
  });
  return {
    url,
    pid: child.pid as number,
    close: () =>
      new Promise<void>((resolve) => {
        if (exited) return resolve();
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}
