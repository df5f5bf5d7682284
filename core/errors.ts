/**
 * Typed errors with stable codes. Every error a user can see carries a `code` (MF_*) and a
 * message that says what was wrong and what to do. Boundaries (gRPC, CIM replies, CLI exit
 * codes) map codes once, in their own module, never ad hoc.
 */
export class MeterfabricError extends Error {
  readonly code: string;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: string, message: string, details: Record<string, unknown> = {}, options?: ErrorOptions) {
    super(message, options);
    this.name = 'MeterfabricError';
    this.code = code;
    this.details = details;
  }

  toJSON(): { code: string; message: string; details: Readonly<Record<string, unknown>> } {
    return { code: this.code, message: this.message, details: this.details };
  }
}

/** Configuration that failed validation at start; the message lists every problem. */
export class ConfigError extends MeterfabricError {
  constructor(problems: readonly string[]) {
    super('MF_CONFIG_INVALID', `invalid configuration:\n  - ${problems.join('\n  - ')}`, { problems });
    this.name = 'ConfigError';
  }
}

/**
 * A command line that cannot be read (an unknown flag, a flag without its value): the message
 * names the flag and where the flags are listed. Commands exit 2 on it, as on a bad command.
 */
export class UsageError extends MeterfabricError {
  constructor(message: string) {
    super('MF_USAGE', message);
    this.name = 'UsageError';
  }
}

/** An invariant that must hold did not: fail loudly rather than continue with corrupt state. */
export class InvariantViolation extends MeterfabricError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('MF_INVARIANT', `invariant violated: ${message}`, details);
    this.name = 'InvariantViolation';
  }
}

export function invariant(
  condition: unknown,
  message: string,
  details?: Record<string, unknown>,
): asserts condition {
  if (!condition) throw new InvariantViolation(message, details);
}

export function isMeterfabricError(err: unknown): err is MeterfabricError {
  return err instanceof MeterfabricError;
}
