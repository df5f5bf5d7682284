import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { rememberArrivedC, stringifyStoredEvent } from '../../cluster/actors/arrived-json.js';
import { decodeStateOp, encodeStateOp, encodeStatePutText } from '../../cluster/replicator/state-ops.js';

/**
 * A packed command's arrived text is spliced into the persisted record instead of being
 * serialised again (cluster/actors/arrived-json.ts): the record must be the JSON of the same
 * value, byte for byte what JSON.stringify writes for payloads JSON.stringify wrote, and
 * nothing may be remembered for a payload whose text is not exactly the value JSON.parse kept.
 */

/** A nact stored event around a hosted command actor's record, as the engine serialises it. */
function storedEvent(c: unknown, extra: Record<string, unknown> = {}) {
  return {
    data: { idem: 'k-1', event: { c, nowMs: 1_700_000_000_000 }, result: { c: ['ref', 3] }, ...extra },
    tags: [],
    sequenceNumber: 7,
    key: 'worker/0|w1',
    createdAt: 1_700_000_000_123,
    isDeleted: false,
  };
}

function arrive(text: string): { parsed: { c: unknown }; remembered: boolean } {
  const parsed = JSON.parse(text) as { c: unknown };
  return { parsed, remembered: rememberArrivedC(text, parsed) };
}

describe('arrived JSON of a packed command', () => {
  it('splices the arrived text: the record is byte-identical to JSON.stringify for any JSON.stringify payload', () => {
    const container = fc.oneof(fc.array(fc.jsonValue()), fc.dictionary(fc.string(), fc.jsonValue()));
    fc.assert(
      fc.property(container, fc.option(fc.integer(), { nil: undefined }), (c, atMs) => {
        const text = JSON.stringify(atMs === undefined ? { c } : { c, atMs });
        const { parsed, remembered } = arrive(text);
        expect(remembered).toBe(true);
        const stored = storedEvent(parsed.c);
        expect(stringifyStoredEvent(stored)).toBe(JSON.stringify(stored));
      }),
      { numRuns: 300 },
    );
  });

  it('strings holding brackets, quotes and backslashes do not end the value early', () => {
    const c = { s: ['}]"\\', '\\"', '{[', 'a\\\\'], 'k"}': { '\\': '"]' } };
    const text = JSON.stringify({ c, atMs: 5 });
    const { parsed, remembered } = arrive(text);
    expect(remembered).toBe(true);
    const stored = storedEvent(parsed.c);
    expect(stringifyStoredEvent(stored)).toBe(JSON.stringify(stored));
  });

  it('another spelling of the same value is kept as it arrived and reads back as the same value', () => {
    const text = '{"c":{"v":[1.0,2.50,1e2],"u":"\\u00e9t\\u00e9"},"atMs":12}';
    const { parsed, remembered } = arrive(text);
    expect(remembered).toBe(true);
    const stored = storedEvent(parsed.c);
    const out = stringifyStoredEvent(stored);
    expect(out).toContain('{"v":[1.0,2.50,1e2],"u":"\\u00e9t\\u00e9"}');
    expect(JSON.parse(out)).toEqual(JSON.parse(JSON.stringify(stored)));
  });

  it('remembers nothing for a repeated "c" key: JSON.parse keeps the last, the record is the plain JSON', () => {
    for (const text of ['{"c":{"a":1},"c":{"a":2}}', '{"c":[1],"c":5}', '{"c":[1],"atMs":1,"c":[2]}']) {
      const { parsed, remembered } = arrive(text);
      expect(remembered, text).toBe(false);
      const stored = storedEvent(parsed.c);
      expect(stringifyStoredEvent(stored)).toBe(JSON.stringify(stored));
    }
  });

  it('remembers nothing for other shapes: whitespace, other keys, scalars, non-number atMs', () => {
    for (const text of [
      '{ "c":{"a":1}}',
      '{"c": {"a":1}}',
      '{"c":{"a":1} }',
      '{"c":{"a":1},"x":1}',
      '{"c":{"a":1},"atMs":"5"}',
      '{"c":{"a":1},"atMs":5,"x":1}',
      '{"c":5}',
      '{"c":"[]"}',
      '{"c":null}',
      '{"command":{"a":1}}',
    ]) {
      expect(arrive(text).remembered, text).toBe(false);
    }
  });

  it('a value that is not the parsed object itself is serialised as before', () => {
    const { parsed } = arrive('{"c":{"a":1.0}}');
    const copy = { ...(parsed.c as object) };
    const stored = storedEvent(copy);
    expect(stringifyStoredEvent(stored)).toBe(JSON.stringify(stored));
    // Records without a command event (plain calls, other actors) too.
    for (const data of [null, 5, { idem: 'x', event: { command: { a: 1 } } }, { event: [1] }]) {
      const s = { data, sequenceNumber: 1 };
      expect(stringifyStoredEvent(s)).toBe(JSON.stringify(s));
    }
  });

  it('keeps the key order of the record around the spliced value', () => {
    const { parsed } = arrive('{"c":[3,2,1],"atMs":9}');
    const stored = {
      key: 'k',
      data: { event: { nowMs: 1, c: parsed.c, z: 2 }, idem: 'i' },
      sequenceNumber: 1,
    };
    expect(stringifyStoredEvent(stored)).toBe(
      '{"key":"k","data":{"event":{"nowMs":1,"c":[3,2,1],"z":2},"idem":"i"},"sequenceNumber":1}',
    );
  });
});

describe('encodeStatePutText', () => {
  it('writes the same bytes as encodeStateOp of the UTF-8 text', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 40 }),
        fc.oneof(fc.string({ unit: 'binary' }), fc.constantFrom('a\uD800b', '\uDFFF', 'é€😀')),
        (key, text) => {
          const a = encodeStatePutText(key, text);
          const b = encodeStateOp({ kind: 'put', key, value: new TextEncoder().encode(text) });
          expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
          const op = decodeStateOp(a);
          expect(op.kind === 'put' && Buffer.from(op.value).toString('utf8')).toBe(
            Buffer.from(new TextEncoder().encode(text)).toString('utf8'),
          );
        },
      ),
      { numRuns: 200 },
    );
  });

  it('refuses an empty or oversized key and an oversized value with MF_STATE_OP_INVALID', () => {
    expect(() => encodeStatePutText('', 'x')).toThrow(
      expect.objectContaining({ code: 'MF_STATE_OP_INVALID' }),
    );
    expect(() => encodeStatePutText('k'.repeat(1025), 'x')).toThrow(
      expect.objectContaining({ code: 'MF_STATE_OP_INVALID' }),
    );
    expect(() => encodeStatePutText('k', 'x'.repeat(4 * 1024 * 1024 + 1))).toThrow(
      expect.objectContaining({ code: 'MF_STATE_OP_INVALID' }),
    );
  });
});
