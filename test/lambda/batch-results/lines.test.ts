import { BatchTally, LineSplitter } from '../../../lambda/batch-results/lines';

/** Lines and tokens: split without mangling a character or holding an oversize line, counted like OpenAI results. */

test('past 50 models in one batch, the rest of the tokens count as "other" (a metric dimension each costs)', () => {
  const t = new BatchTally();
  for (let m = 0; m < 60; m++)
    t.outputLine(JSON.stringify({ body: { model: `model-${m}`, usage: { total_tokens: 10 } } }));
  t.outputLine(JSON.stringify({ body: { model: 'model-0', usage: { total_tokens: 5 } } }));
  expect(t.tokensByModel.size).toBe(51);
  expect(t.tokensByModel.get('other')).toBe(100);
  expect(t.tokensByModel.get('model-0')).toBe(15);
  expect(t.totalTokens).toBe(605);
});

const sample = [
  JSON.stringify({
    response: {
      status_code: 200,
      body: { model: 'm-ü', usage: { prompt_tokens: 3, completion_tokens: 4 } },
    },
  }),
  '',
  JSON.stringify({
    body: { model: '日本', usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 5 } },
    note: '🎉',
  }),
  '{"broken": "日本',
  JSON.stringify({ usage: { prompt_tokens: 2, completion_tokens: 2 }, error: { message: 'x' } }),
  JSON.stringify({ response: { status_code: '503' } }),
  '42',
].join('\r\n');

function tally(bytes: Buffer, feed: (s: LineSplitter) => void) {
  const t = new BatchTally();
  const s = new LineSplitter(
    (line) => t.outputLine(line),
    () => t.oversizeOutputLine(),
  );
  feed(s);
  s.end();
  expect(bytes.length).toBeGreaterThan(0);
  return t;
}

test('fed one byte at a time (every multi-byte character split), the counts match the whole', () => {
  const bytes = Buffer.from(sample, 'utf8');
  const whole = tally(bytes, (s) => s.push(bytes));
  const bytewise = tally(bytes, (s) => {
    for (let i = 0; i < bytes.length; i++) s.push(bytes.subarray(i, i + 1));
  });
  for (const t of [whole, bytewise]) {
    expect({
      lines: t.lines,
      failed: t.failedLines,
      prompt: t.promptTokens,
      completion: t.completionTokens,
      total: t.totalTokens,
      models: Object.fromEntries(t.tokensByModel),
    }).toEqual({
      lines: 6,
      failed: 4,
      prompt: 6,
      completion: 7,
      total: 16,
      models: { 'm-ü': 7, 日本: 5, unknown: 4 },
    });
  }
});

test('a line over the limit is counted as failed without being held', () => {
  const seen: string[] = [];
  const oversize: number[] = [];
  const s = new LineSplitter(
    (line) => seen.push(line),
    (n) => oversize.push(n),
    64,
  );
  let most = 0;
  const long = Buffer.from('é'.repeat(500));
  for (let i = 0; i < long.length; i += 7) {
    s.push(long.subarray(i, i + 7));
    most = Math.max(most, s.heldBytes);
  }
  s.push(Buffer.from('\nnext\nlast'));
  s.end();
  expect(most).toBeLessThanOrEqual(64);
  expect(oversize).toEqual([1000]);
  expect(seen).toEqual(['next', 'last']);
});
