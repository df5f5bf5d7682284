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

/**
 * A batch's encoded rows: text (inline encoding), or UTF-8 bytes as one buffer or as the
 * worker pool's chunks in order. Chunks are never joined: they go to the file in one vectored
 * write (atomic-file.ts `writeAtAndSync`), so the caller's thread copies no row bytes.
 */
export type EncodedRows = string | Uint8Array | readonly Uint8Array[];

export type PartChange = {
  file: string;
  sizeBefore: number;
  sizeAfter: number;
  rowsAfter: number;
  /**
   * What to write at `sizeBefore` (the header first for a new part): text, or UTF-8 byte
   * chunks in order (the header's bytes, then the pool's chunks as they came) when the batch
   * came encoded as bytes and went to one part whole.
   */
  text: string | readonly Uint8Array[];
};

export type PlanInput = {
  parts: readonly PartState[];
  header: string;
  maxPartBytes: number;
  /**
   * The whole batch encoded (text, or its UTF-8 bytes in one or more chunks), and each row
   * encoded alone (only asked for when it must split).
   */
  whole: EncodedRows;
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
  const wholeBytes = encodedBytes(whole);
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

  function change(p: PartState, rowsText: EncodedRows, rows: number): PartChange {
    const fresh = p.sizeBytes === 0;
    let text: string | readonly Uint8Array[];
    if (typeof rowsText === 'string') text = fresh ? header + rowsText : rowsText;
    else {
      const chunks = rowsText instanceof Uint8Array ? [rowsText] : rowsText;
      // The header is its own chunk: a new part costs no copy of the rows behind it.
      text = fresh ? [Buffer.from(header), ...chunks] : chunks;
    }
    return {
      file: p.file,
      sizeBefore: p.sizeBytes,
      sizeAfter: p.sizeBytes + encodedBytes(text),
      rowsAfter: p.rows + rows,
      text,
    };
  }
}

/** UTF-8 size of encoded rows. */
export function encodedBytes(rows: EncodedRows): number {
  if (typeof rows === 'string') return Buffer.byteLength(rows);
  if (rows instanceof Uint8Array) return rows.byteLength;
  let bytes = 0;
  for (const chunk of rows) bytes += chunk.byteLength;
  return bytes;
}
