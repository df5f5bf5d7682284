/**
 * Which part file(s) a batch of encoded rows goes to. Pure: no I/O, so the size arithmetic
 * that decides part boundaries is tested without files.
 */
export type PartState = {
  /** Visible file name, e.g. `S_2026-11-22_n1.part2.csv`. */
  file: string;
  /** Committed bytes, header included (0: not started). */
  sizeBytes: number;
  rows: number;
  /**
   * `open`: rows are appended to its staging file. `full`: complete, its staging file not yet
   * renamed to the visible name. `closed`: complete and visible; no staging file.
   */
  state: 'open' | 'full' | 'closed';
  /** Bytes of the last copy published at the visible name (0: none yet). */
  publishedBytes: number;
};

export type PartChange = {
  file: string;
  sizeBefore: number;
  sizeAfter: number;
  rowsAfter: number;
  /**
   * What to write at `sizeBefore` (the header first for a new part): text, or UTF-8 bytes when
   * the batch came encoded as bytes (from the worker pool) and went to one part whole.
   */
  text: string | Uint8Array;
};

export type PlanInput = {
  parts: readonly PartState[];
  header: string;
  maxPartBytes: number;
  /**
   * The whole batch encoded (text, or its UTF-8 bytes), and each row encoded alone (only asked
   * for when it must split).
   */
  whole: string | Uint8Array;
  rowCount: number;
  encodeRow: (index: number) => string;
  nameOf: (partNumber: number) => string;
};

export function planParts(input: PlanInput): PartChange[] {
  const { parts, header, maxPartBytes, whole, rowCount } = input;
  if (rowCount === 0) return [];
  const headerBytes = Buffer.byteLength(header);
  let nextNumber = parts.length + 1;
  const last = parts[parts.length - 1];
  const target = last && last.state === 'open' ? { ...last } : undefined;
  const openNew = (): PartState => ({
    file: input.nameOf(nextNumber++),
    sizeBytes: 0,
    rows: 0,
    state: 'open',
    publishedBytes: 0,
  });
  const startOf = (p: PartState) => (p.sizeBytes === 0 ? headerBytes : p.sizeBytes);
  const wholeBytes = typeof whole === 'string' ? Buffer.byteLength(whole) : whole.byteLength;
  if (target && startOf(target) + wholeBytes <= maxPartBytes) return [change(target, whole, rowCount)];
  if (!target && headerBytes + wholeBytes <= maxPartBytes) return [change(openNew(), whole, rowCount)];
  // Slow path: fill parts row by row. A row longer than a whole part still gets a part of its own.
  const out: PartChange[] = [];
  let current = target && startOf(target) < maxPartBytes ? target : openNew();
  let size = startOf(current);
  let text = '';
  let count = 0;
  for (let i = 0; i < rowCount; i++) {
    const line = input.encodeRow(i);
    const bytes = Buffer.byteLength(line);
    if (size + bytes > maxPartBytes && (count > 0 || size > headerBytes)) {
      if (count > 0) out.push(change(current, text, count));
      current = openNew();
      size = headerBytes;
      text = '';
      count = 0;
    }
    text += line;
    size += bytes;
    count++;
  }
  out.push(change(current, text, count));
  return out;

  function change(p: PartState, rowsText: string | Uint8Array, rows: number): PartChange {
    const fresh = p.sizeBytes === 0;
    let text: string | Uint8Array;
    if (typeof rowsText === 'string') text = fresh ? header + rowsText : rowsText;
    else text = fresh ? Buffer.concat([Buffer.from(header), rowsText]) : rowsText;
    return {
      file: p.file,
      sizeBefore: p.sizeBytes,
      sizeAfter: p.sizeBytes + (typeof text === 'string' ? Buffer.byteLength(text) : text.byteLength),
      rowsAfter: p.rows + rows,
      text,
    };
  }
}
