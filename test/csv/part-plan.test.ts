import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type PartState, planParts } from '../../adapters/csv/part-plan.js';

const header = 'a;b\n';
const nameOf = (n: number) => `X_2026-01-01_n1${n === 1 ? '' : `.part${n}`}.csv`;
const plan = (parts: PartState[], lines: string[], maxPartBytes: number) =>
  planParts({
    parts,
    header,
    maxPartBytes,
    whole: lines.join(''),
    rowCount: lines.length,
    encodeRow: (i) => lines[i]!,
    nameOf,
  });
const textOf = (t: string | Uint8Array) => (typeof t === 'string' ? t : Buffer.from(t).toString('utf8'));
const open = (file: string, sizeBytes: number, rows: number): PartState => ({
  file,
  sizeBytes,
  rows,
  state: 'open',
  publishedBytes: 0,
});

describe('planParts', () => {
  it('a batch that fits goes to the open part, after the header when the part is new', () => {
    expect(plan([], ['1;2\n'], 100)).toEqual([
      { file: nameOf(1), sizeBefore: 0, sizeAfter: 8, rowsAfter: 1, text: 'a;b\n1;2\n' },
    ]);
    expect(plan([open(nameOf(1), 8, 1)], ['3;4\n'], 100)).toEqual([
      { file: nameOf(1), sizeBefore: 8, sizeAfter: 12, rowsAfter: 2, text: '3;4\n' },
    ]);
  });

  it('a closed or full last part is never appended to: the rows open the next numbered part', () => {
    for (const state of ['full', 'closed'] as const)
      expect(plan([{ ...open(nameOf(1), 8, 1), state }], ['3;4\n'], 100)[0]).toMatchObject({
        file: nameOf(2),
        sizeBefore: 0,
      });
  });

  it('rows are split over parts at the byte limit, whole rows only, each part starting with the header', () => {
    const changes = plan([open(nameOf(1), 8, 1)], ['111;1\n', '222;2\n', '333;3\n'], 16);
    expect(changes).toEqual([
      { file: nameOf(1), sizeBefore: 8, sizeAfter: 14, rowsAfter: 2, text: '111;1\n' },
      { file: nameOf(2), sizeBefore: 0, sizeAfter: 16, rowsAfter: 2, text: 'a;b\n222;2\n333;3\n' },
    ]);
  });

  it('a row longer than a whole part still gets a part of its own instead of looping or being dropped', () => {
    const long = `${'x'.repeat(40)}\n`;
    expect(plan([open(nameOf(1), 8, 1)], [long], 16)).toEqual([
      { file: nameOf(2), sizeBefore: 0, sizeAfter: 4 + 41, rowsAfter: 1, text: `a;b\n${long}` },
    ]);
  });

  it('property: every row lands exactly once, in order, and no part exceeds the limit unless it holds a single oversized row', () => {
    const line = fc.stringMatching(/^[a-z0-9;]{0,30}$/).map((s) => `${s}\n`);
    fc.assert(
      fc.property(
        fc.array(line, { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 8, max: 120 }),
        (lines, max) => {
          const changes = plan([], lines, max);
          expect(changes.map((c) => textOf(c.text).replace(/^a;b\n/, '')).join('')).toBe(lines.join(''));
          // The batch as UTF-8 bytes (as the worker pool returns it) plans the same parts and bytes.
          const fromBytes = planParts({
            parts: [],
            header,
            maxPartBytes: max,
            whole: Buffer.from(lines.join('')),
            rowCount: lines.length,
            encodeRow: (i) => lines[i]!,
            nameOf,
          });
          expect(fromBytes.map((c) => ({ ...c, text: textOf(c.text) }))).toEqual(
            changes.map((c) => ({ ...c, text: textOf(c.text) })),
          );
          for (const c of changes) {
            expect(textOf(c.text).startsWith(header)).toBe(true);
            if (c.sizeAfter > max) expect(c.rowsAfter).toBe(1);
          }
          expect(changes.reduce((n, c) => n + c.rowsAfter, 0)).toBe(lines.length);
        },
      ),
      { numRuns: 200 },
    );
  });
});
