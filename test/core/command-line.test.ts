import { describe, expect, it } from 'vitest';
import {
  dialPortRange,
  exitCodeFor,
  listenPortRange,
  maxTimerMs,
  numberEnvProblem,
  numberFlagProblem,
  parseCommandLine,
  readNumberEnv,
  readNumberFlag,
} from '../../core/command-line.js';
import { ConfigError, InvariantViolation, MeterfabricError, UsageError } from '../../core/errors.js';

describe('exitCodeFor: one mapping from typed errors to exit codes', () => {
  // Objects, not rows: in a row `%i` takes the second value (the error), which printed "exits NaN".
  it.each([
    { name: 'UsageError (MF_USAGE)', err: new UsageError('Unknown option'), code: 2 },
    {
      name: 'ConfigError (MF_CONFIG_INVALID)',
      err: new ConfigError(['--meters must be an integer 1..1000']),
      code: 2,
    },
    {
      name: 'another typed error (a command that ran and failed)',
      err: new MeterfabricError('MF_PORT_IN_USE', 'taken'),
      code: 1,
    },
    { name: 'an invariant violation', err: new InvariantViolation('epoch went back'), code: 1 },
  ])('$name exits $code', ({ err, code }) => {
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

describe('numberFlagProblem / readNumberFlag: one reader for every numeric flag', () => {
  const count = { min: 1, max: 100, meaning: 'things' };
  const scale = { integer: false, above: 0, max: 10 };

  it.each([
    ['an integer in range', '--count', '7', count, 7],
    ['the lower bound', '--count', '1', count, 1],
    ['the upper bound', '--count', '100', count, 100],
    ['port 0 where the command binds', '--port', '0', listenPortRange, 0],
    ['the highest port', '--port', '65535', dialPortRange, 65_535],
    ['a fraction where fractions are read', '--time-scale', '0.5', scale, 0.5],
    ['a fraction without its leading 0', '--time-scale', '.25', scale, 0.25],
    ['the longest Node timer', '--duration-ms', String(maxTimerMs), { min: 1, max: maxTimerMs }, maxTimerMs],
  ])('reads %s', (_name, flag, text, range, value) => {
    expect(numberFlagProblem(flag, text, range)).toBeUndefined();
    expect(readNumberFlag(flag, text, range)).toBe(value);
  });

  // Each of these passes `Number()` (as NaN, 0 or a number nobody typed) or a bare range check.
  it.each([
    ['not a number', '--count', 'abc', count, '--count must be an integer from 1 to 100 (things), not "abc"'],
    [
      'empty (Number reads 0)',
      '--count',
      '',
      count,
      '--count must be an integer from 1 to 100 (things), not ""',
    ],
    ['hex (Number reads 16)', '--count', '0x10', count, 'not "0x10"'],
    ['an exponent', '--count', '1e2', count, 'not "1e2"'],
    ['blanks around it', '--count', ' 5', count, 'not " 5"'],
    ['negative', '--count', '-1', count, 'not "-1"'],
    ['zero for a count', '--count', '0', count, 'not "0"'],
    ['a fraction for an integer', '--count', '1.5', count, 'not "1.5"'],
    ['above the bound', '--count', '101', count, 'not "101"'],
    [
      'port 0 to connect to',
      '--port',
      '0',
      dialPortRange,
      '--port must be an integer from 1 to 65535, not "0"',
    ],
    ['a port past 65535', '--port', '65536', listenPortRange, '(0: any free port), not "65536"'],
    [
      'a time scale of 0',
      '--time-scale',
      '0',
      scale,
      '--time-scale must be a number above 0 and at most 10, not "0"',
    ],
    ['a time scale past its bound', '--time-scale', '10.5', scale, 'not "10.5"'],
    [
      'a timer Node would fire at once',
      '--duration-ms',
      String(maxTimerMs + 1),
      { min: 1, max: maxTimerMs },
      'not "2147483648"',
    ],
  ])('refuses %s, naming the flag, the range and the value', (_name, flag, text, range, named) => {
    expect(numberFlagProblem(flag, text, range)).toContain(named);
    expect(numberFlagProblem(flag, text, range)).toMatch(new RegExp(`^${flag} must be `));
    let thrown: unknown;
    try {
      readNumberFlag(flag, text, range);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(UsageError);
    expect(exitCodeFor(thrown as UsageError)).toBe(2);
    expect((thrown as UsageError).message).toBe(numberFlagProblem(flag, text, range));
  });
});

describe('readNumberEnv: an MF_ number read as strictly as a flag, a bad one a configuration error', () => {
  const range = { min: 1, max: 1000, meaning: 'per concentrator' };
  // Number() read each of these: "" as 0, "abc" as NaN, "1e3" as 1000, "0x10" as 16.
  it.each(['abc', '1e3', '0x10', ' 5', '-1', '1.5', '0', '1001'])(
    'refuses "%s" with MF_CONFIG_INVALID (exit 2), naming the variable, its range and the value',
    (text) => {
      const env = { MF_DEMO_METERS: text };
      const expected = `MF_DEMO_METERS must be an integer from 1 to 1000 (per concentrator), not "${text}"`;
      expect(numberEnvProblem('MF_DEMO_METERS', env, range)).toBe(expected);
      let thrown: unknown;
      try {
        readNumberEnv('MF_DEMO_METERS', env, range);
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(ConfigError);
      expect(exitCodeFor(thrown as ConfigError)).toBe(2);
      expect((thrown as ConfigError).details.problems).toEqual([expected]);
    },
  );

  it('reads a value in range; unset or empty is undefined, so the default applies', () => {
    expect(readNumberEnv('MF_DEMO_METERS', { MF_DEMO_METERS: '20' }, range)).toBe(20);
    expect(readNumberEnv('MF_DEMO_METERS', {}, range)).toBeUndefined();
    expect(readNumberEnv('MF_DEMO_METERS', { MF_DEMO_METERS: '' }, range)).toBeUndefined();
    expect(numberEnvProblem('MF_DEMO_METERS', {}, range)).toBeUndefined();
  });
});
