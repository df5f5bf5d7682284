import { describe, expect, it } from 'vitest';
import { exitCodeFor, parseCommandLine } from '../../core/command-line.js';
import { ConfigError, InvariantViolation, MeterfabricError, UsageError } from '../../core/errors.js';

describe('exitCodeFor: one mapping from typed errors to exit codes', () => {
  it.each([
    ['UsageError (MF_USAGE)', new UsageError('Unknown option'), 2],
    ['ConfigError (MF_CONFIG_INVALID)', new ConfigError(['--meters must be an integer 1..1000']), 2],
    [
      'another typed error (a command that ran and failed)',
      new MeterfabricError('MF_PORT_IN_USE', 'taken'),
      1,
    ],
    ['an invariant violation', new InvariantViolation('epoch went back'), 1],
  ])('%s exits %i', (_name, err, code) => {
    expect(exitCodeFor(err)).toBe(code);
  });
});

describe('parseCommandLine: node:util parse errors become a UsageError naming the flag', () => {
  const options = { out: { type: 'string' }, help: { type: 'boolean' } } as const;

  it('returns the values of a command line it can read', () => {
    expect(parseCommandLine('demo', { args: ['--out', 'x'], options }).values).toEqual({ out: 'x' });
  });

  it.each([
    ['an unknown flag', ['--bogus'], "Unknown option '--bogus'"],
    ['a flag without its value', ['--out'], "Option '--out <value>' argument missing"],
    ['a stray argument', ['extra'], "Unexpected argument 'extra'"],
  ])('%s: MF_USAGE, the flag named, --help pointed at', (_name, args, named) => {
    let thrown: unknown;
    try {
      parseCommandLine('chaos run', { args, options });
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(UsageError);
    expect((thrown as UsageError).code).toBe('MF_USAGE');
    expect((thrown as UsageError).message).toContain(named);
    expect((thrown as UsageError).message).toMatch(/; `meterfabric chaos run --help` lists the flags$/);
  });

  it('lists the flags where the command has no --help', () => {
    expect(() =>
      parseCommandLine('cim validate', { args: ['--bogus'], options: { xsd: { type: 'string' } } }),
    ).toThrow(/Unknown option '--bogus'.*; the flags of `meterfabric cim validate`: --xsd$/);
  });

  it('leaves a malformed configuration (our bug, not the command line) as it is', () => {
    let thrown: unknown;
    try {
      parseCommandLine('x', { args: [], options: { bad: { type: 'number' as 'string' } } });
    } catch (err) {
      thrown = err;
    }
    expect(thrown).not.toBeInstanceOf(UsageError);
    expect((thrown as { code?: string }).code).toMatch(/^ERR_INVALID_ARG_/);
  });
});
