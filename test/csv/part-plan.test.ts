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
const textOf = (t: string | readonly Uint8Array[]) =>
  typeof t === 'string' ? t : Buffer.concat(t.map((c) => Buffer.from(c))).toString('utf8');
/** `bytes` cut at the given offsets (sorted, deduplicated): the pool's chunks as they come back. */
const cutAt = (bytes: Buffer, cuts: number[]): Uint8Array[] => {
  const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  return [0, ...at].map((from, i) => bytes.subarray(from, at[i] ?? bytes.length));
};
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
        fc.array(fc.nat(), { maxLength: 5 }),
        (lines, max, cuts) => {
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
          // The same bytes in chunks (how the pool returns them, written by one writev): the same
          // parts and bytes, and the chunks are passed on as they are, never joined.
          const chunks = cutAt(Buffer.from(lines.join('')), cuts);
          const fromChunks = planParts({
            parts: [],
            header,
            maxPartBytes: max,
            whole: chunks,
            rowCount: lines.length,
            encodeRow: (i) => lines[i]!,
            nameOf,
          });
          expect(fromChunks.map((c) => ({ ...c, text: textOf(c.text) }))).toEqual(
            changes.map((c) => ({ ...c, text: textOf(c.text) })),
          );
          const [only] = fromChunks;
          // Fast path (the batch fits one part): the header's chunk, then the pool's chunks as they are.
          if (fromChunks.length === 1 && typeof only!.text !== 'string')
            expect(only!.text.slice(1)).toEqual(chunks);
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
