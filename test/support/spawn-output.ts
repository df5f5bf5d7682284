import { type ChildProcess, spawn } from 'node:child_process';

/** A child process whose output is collected as it comes (`spawnWithOutput`). */
export type ProcessWithOutput = {
  child: ChildProcess;
  /** Everything it printed so far, stdout and stderr interleaved as they arrived. */
  output(): string;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code once it has exited (null: a signal ended it, see child.signalCode). */
  exited: Promise<number | null>;
};

/**
 * `command args` with stdin closed and stdout and stderr collected. The caller owns the
 * process: kill it in `finally`/`afterEach` (by PID, so also after a failed assertion).
 */
export function spawnWithOutput(
  command: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; detached?: boolean } = {},
): ProcessWithOutput {
  const child = spawn(command, args, {
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: options.env ?? process.env,
    detached: options.detached === true,
  });
  let output = '';
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => {
    output += d.toString();
    stdout += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    output += d.toString();
    stderr += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, stdout: () => stdout, stderr: () => stderr, exited };
}
