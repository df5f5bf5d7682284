import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { MeterfabricError } from '../../core/errors.js';
import { distPath, packageRoot } from '../../core/paths.js';
import { isWithTransfer } from './transfer.js';

/**
 * Resolves a pool task address (module path relative to the package root, without extension,
 * plus an export name) to a function. Shared by the worker and the inline mode so both run
 * exactly the same code. The allow-list keeps a task message from importing arbitrary files:
 * only modules under adapters/ or cluster/ whose file name ends in `pool-tasks`.
 */
export type TaskAddress = { module: string; fn: string };
export type TaskFunction = (payload: unknown) => unknown;

const allowedModule = /^(adapters|cluster)\/(?:[a-z0-9_-]+\/)*[a-z0-9_-]*pool-tasks$/;
const allowedExport = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

export class PoolTaskError extends MeterfabricError {
  constructor(code: string, message: string, details: Record<string, unknown> = {}) {
    super(code, message, details);
    this.name = 'PoolTaskError';
  }
}

export function checkTaskAddress(address: TaskAddress): void {
  if (typeof address.module !== 'string' || !allowedModule.test(address.module))
    throw new PoolTaskError(
      'MF_POOL_TASK_FORBIDDEN',
      `pool task module "${String(address.module)}" is not allowed: only adapters/** or cluster/** modules named *pool-tasks (no extension) may run in the pool`,
      { module: address.module },
    );
  if (typeof address.fn !== 'string' || !allowedExport.test(address.fn))
    throw new PoolTaskError(
      'MF_POOL_TASK_FORBIDDEN',
      `pool task export "${String(address.fn)}" is not a valid name`,
      {
        fn: address.fn,
      },
    );
}

/** 'dist' resolves compiled JS (workers); 'source' the TypeScript file (inline mode under vitest). */
export type ModuleFlavour = 'dist' | 'source';

export function modulePath(module: string, flavour: ModuleFlavour): string {
  return flavour === 'dist' ? distPath(`${module}.js`) : join(packageRoot, `${module}.ts`);
}

const cache = new Map<string, Promise<Record<string, unknown>>>();

export async function resolveTask(address: TaskAddress, flavour: ModuleFlavour): Promise<TaskFunction> {
  checkTaskAddress(address);
  const file = modulePath(address.module, flavour);
  let loaded = cache.get(file);
  if (!loaded) {
    if (!existsSync(file))
      throw new PoolTaskError(
        'MF_POOL_TASK_MISSING',
        `pool task module ${address.module} not found at ${file}${flavour === 'dist' ? '; run `npm run build` first' : ''}`,
        { module: address.module, file },
      );
    loaded = import(pathToFileURL(file).href) as Promise<Record<string, unknown>>;
    cache.set(file, loaded);
    loaded.catch(() => cache.delete(file));
  }
  const exports = await loaded;
  const fn = exports[address.fn];
  if (typeof fn !== 'function')
    throw new PoolTaskError(
      'MF_POOL_TASK_MISSING',
      `pool task module ${address.module} exports no function "${address.fn}"`,
      {
        module: address.module,
        fn: address.fn,
      },
    );
  return fn as TaskFunction;
}

/** What crosses the worker boundary: errors as plain data so their code survives the clone. */
export type TaskOutcome =
  | { ok: true; value: unknown }
  | { ok: false; error: { code: string; message: string; details: Record<string, unknown>; name: string } };

export function outcomeOfError(err: unknown): TaskOutcome {
  if (err instanceof MeterfabricError)
    return {
      ok: false,
      error: { code: err.code, message: err.message, details: { ...err.details }, name: err.name },
    };
  const e = err instanceof Error ? err : new Error(String(err));
  return { ok: false, error: { code: 'MF_POOL_TASK_FAILED', message: e.message, details: {}, name: e.name } };
}

export function errorOfOutcome(outcome: Extract<TaskOutcome, { ok: false }>): MeterfabricError {
  // Details may hold non-cloneable things in theory; they were copied shallowly above.
  return new PoolTaskError(outcome.error.code, outcome.error.message, {
    ...outcome.error.details,
    originalName: outcome.error.name,
  });
}

/** A task's outcome and the buffers of its result that may move to the caller instead of being copied. */
export type TaskRun = { outcome: TaskOutcome; transfer: ArrayBuffer[] };

export async function runTask(
  address: TaskAddress,
  payload: unknown,
  flavour: ModuleFlavour,
): Promise<TaskRun> {
  try {
    const fn = await resolveTask(address, flavour);
    const result = await fn(payload);
    if (isWithTransfer(result))
      return { outcome: { ok: true, value: result.value }, transfer: result.transfer };
    return { outcome: { ok: true, value: result }, transfer: [] };
  } catch (err) {
    return { outcome: outcomeOfError(err), transfer: [] };
  }
}
