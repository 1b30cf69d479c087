import fc from 'fast-check';
import { JsonArrayItems, JsonItemsError } from '../../../lambda/shared/json-items';

/**
 * The streamed listing reader against JSON.parse: the same items for every valid document however its bytes are
 * split, and a failure for everything JSON.parse refuses or that has no `data` array, never a shorter listing.
 */

type Outcome = { items: unknown[] } | { error: JsonItemsError };

function stream(chunks: Buffer[], maxItemBytes = 1 << 20): Outcome {
  const items: unknown[] = [];
  const reader = new JsonArrayItems({ key: 'data', maxItemBytes, onItem: (i) => items.push(i) });
  try {
    for (const c of chunks) reader.push(c);
    reader.end();
    return { items };
  } catch (error) {
    if (error instanceof JsonItemsError) return { error };
    throw error;
  }
}

/** What JSON.parse-based reading gives: the items, or undefined when it would not be a listing. */
function reference(bytes: Buffer): unknown[] | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
  const data = (doc as { data?: unknown } | null)?.data;
  return typeof doc === 'object' && doc !== null && !Array.isArray(doc) && Array.isArray(data)
    ? data
    : undefined;
}

/** Every split into two chunks, and one byte at a time. */
function splits(bytes: Buffer): Buffer[][] {
  const out: Buffer[][] = [[bytes]];
  for (let i = 1; i < bytes.length; i++) out.push([bytes.subarray(0, i), bytes.subarray(i)]);
  out.push([...bytes].map((b) => Buffer.from([b])));
  return out;
}

const tricky: Record<string, string> = {
  'escapes in keys and values': String.raw`{"data":[{"id":"a\"b\\c\/d\n\t\r\b\f","k\"ey":"]}"}]}`,
  'unicode, raw and escaped (a surrogate pair, a lone one)': String.raw`{"data":[{"msg":"é日本😀","e":"\u00e9\ud83d\ude00\ud800","\u00fc":1}]}`,
  'nested events': JSON.stringify({
    data: [
      {
        id: 'ft-1',
        events: [
          { type: 'checkpoint_save', step: 10, nested: { a: [1, [2, { b: '}]' }]] } },
          { type: 'job_error', message: 'bad [line] {12}', level: 'error' },
        ],
      },
      { id: 'ft-2', events: [] },
    ],
  }),
  'unknown fields before and after, with brackets in strings': JSON.stringify({
    object: 'list',
    meta: { a: ['{', '[', { '"data"': [1, 2] }], n: -1.5e-3, t: true, f: false, z: null },
    data: [{ id: 'x' }],
    after: { data2: [], s: '\\"' },
  }),
  'data not first, escaped key': String.raw`{"x":[0,{"y":"z"}] , "d\u0061ta" : [ {"id" : 1} , 2 , "s" , null , true , false , -0.5E+2 , [] , {} ] }`,
  'whitespace everywhere': ' \r\n\t{ \n"data" \t:\r [ \n1 ,\n{ "a" : [ ] } \n] \n} \n\t',
  'empty listing': '{"data":[]}',
  'numbers in skipped values':
    '{"a":[0,-0,1.25,1e5,1E-5,-12.5e+3,123456789012345678901234567890],"data":[0]}',
};

describe('valid listings: the same items as JSON.parse, split at every byte', () => {
  test.each(Object.entries(tricky))('%s', (_name, text) => {
    const bytes = Buffer.from(text, 'utf8');
    const expected = reference(bytes);
    expect(expected).toBeDefined();
    for (const chunks of splits(bytes)) expect(stream(chunks)).toEqual({ items: expected });
  });

  test('any JSON values as items and beside them, in random chunks', () => {
    fc.assert(
      fc.property(
        fc.jsonValue(),
        fc.array(fc.jsonValue(), { maxLength: 8 }),
        fc.jsonValue(),
        fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 20 }),
        (before, data, after, cuts) => {
          const bytes = Buffer.from(JSON.stringify({ before, data, after }, null, cuts[0] % 3), 'utf8');
          const chunks: Buffer[] = [];
          for (let at = 0, k = 0; at < bytes.length; k++) {
            const size = cuts[k % cuts.length];
            chunks.push(bytes.subarray(at, at + size));
            at += size;
          }
          expect(stream(chunks)).toEqual({ items: reference(bytes) });
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('anything else fails, whatever was read before', () => {
  test.each<[string, string, RegExp]>([
    [
      'malformed midway',
      '{"data":[{"id":1},{"id":2,,"x":3},{"id":4}]}',
      /item 2 of "data" .* is not valid JSON/,
    ],
    [
      'malformed after the items',
      '{"data":[{"id":1}],"x":tru}',
      /malformed JSON at byte 26: '}' where "true" was due/,
    ],
    [
      'a trailing comma in the listing',
      '{"data":[{"id":1},]}',
      /malformed JSON at byte 18: '\]' where a value/,
    ],
    ['a leading zero in a skipped value', '{"n":01,"data":[]}', /malformed JSON at byte 6: '1'/],
    ['a control character in a key', '{"a\tb":1,"data":[]}', /malformed JSON at byte 3: byte 0x9/],
    ['a bad escape', '{"a\\x":1,"data":[]}', /malformed JSON at byte 4: 'x' where an escape/],
    ['garbage after the object', '{"data":[]} {}', /malformed JSON at byte 12: '\{' where the end/],
    ['mismatched brackets outside the items', '{"a":[1},"data":[]}', /malformed JSON at byte 7/],
    ['data is an object', '{"data":{"id":1}}', /"data" is not an array/],
    ['data is null', '{"data":null}', /"data" is not an array/],
    ['no data member', '{"object":"list","items":[]}', /no "data" member/],
    ['the answer is an array', '[{"id":1}]', /the answer is not a JSON object/],
    ['data twice', '{"data":[1],"data":[2]}', /"data" appears twice/],
    ['empty', '', /empty answer/],
    ['only whitespace', '  \n', /the JSON ends early, after 3 bytes/],
  ])('%s', (_name, text, message) => {
    for (const chunks of splits(Buffer.from(text, 'utf8'))) {
      const out = stream(chunks);
      expect('error' in out && out.error.message).toMatch(message);
    }
  });

  test('a body cut short anywhere, even right after an item, never reads as a whole listing', () => {
    for (const text of Object.values(tricky)) {
      const bytes = Buffer.from(text.trimEnd(), 'utf8');
      for (let end = 0; end < bytes.length; end++) {
        const out = stream([bytes.subarray(0, end)]);
        expect({ end, ok: 'items' in out }).toEqual({ end, ok: false });
      }
    }
  });

  test('every one-byte change of a listing: the same items as JSON.parse, or a failure', () => {
    const bytes = Buffer.from(tricky['nested events'], 'utf8');
    const replacements = [0x22, 0x5c, 0x7b, 0x7d, 0x5b, 0x5d, 0x2c, 0x3a, 0x20, 0x31, 0x61, 0x00, 0xff];
    for (let at = 0; at < bytes.length; at++) {
      for (const r of replacements) {
        const changed = Buffer.from(bytes);
        changed[at] = r;
        const expected = reference(changed);
        const out = stream([changed.subarray(0, at), changed.subarray(at)]);
        if ('error' in out) {
          // JSON.parse keeps the last of two "data" members; the reader refuses the answer instead.
          if (expected !== undefined) expect(out.error.message).toMatch(/appears twice/);
        } else expect(out.items).toEqual(expected);
      }
    }
  });

  test('an item larger than the limit fails, naming it, before it is held whole', () => {
    const big = JSON.stringify({ data: [{ id: 'a' }, { id: 'b', pad: 'x'.repeat(5_000) }] });
    const out = stream([Buffer.from(big)], 1_000);
    expect('error' in out && out.error).toMatchObject({
      kind: 'size',
      message: 'item 2 of "data" is larger than 1000 bytes',
    });
  });

  test('nesting deeper than 512 outside the items is refused, not followed', () => {
    const out = stream([Buffer.from(`{"a":${'['.repeat(600)}`)]);
    expect('error' in out && out.error.message).toMatch(/nested deeper than 512/);
  });
});
