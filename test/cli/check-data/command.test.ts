import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { capture } from '../../support/cli';

/** `together-webhooks check-data <file>`: what it prints and its exit codes (0 valid, 1 problems, 2 usage). */

const dir = mkdtempSync(join(tmpdir(), 'tw-check-data-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: string | Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

const j = (v: unknown) => JSON.stringify(v);

test('a valid file: the summary on stdout, exit 0', async () => {
  const path = file(
    'ok.jsonl',
    `${j({ prompt: 'Q', completion: 'A' })}\n${j({ prompt: 'Q2', completion: 'A2' })}\n`,
  );
  const c = capture();
  expect(await c.run('check-data', path)).toBe(0);
  expect(c.out).toEqual([`${path}: instruction, 2 samples, no problems`]);
  expect(c.err).toEqual([]);
});

test('problems: each with its line, then the summary, exit 1', async () => {
  const path = file('bad.jsonl', `${j({ text: 'a' })}\n\n${j({ text: 5 })}\n`);
  const c = capture();
  expect(await c.run('check-data', path)).toBe(1);
  expect(c.out).toEqual([
    'line 2: is blank: every line must be one JSON sample',
    'line 3: text must be a string; got 5',
    `${path}: generic, 2 samples, 2 problems on 2 lines`,
  ]);
});

test('the problems printed are capped (--max-problems), the rest counted', async () => {
  const path = file('many.jsonl', Array.from({ length: 80 }, () => j({ text: '' })).join('\n'));
  const c = capture();
  expect(await c.run('check-data', path)).toBe(1);
  expect(c.out).toHaveLength(52);
  expect(c.out[49]).toBe('line 50: text is empty: an empty sample');
  expect(c.out[50]).toBe('... and 30 more problems (--max-problems N prints more)');
  expect(c.out[51]).toBe(`${path}: generic, 80 samples, 80 problems on 80 lines`);

  const few = capture();
  expect(await few.run('check-data', path, '--max-problems', '3')).toBe(1);
  expect(few.out).toHaveLength(5);
});

test('a file of no format, and an empty file', async () => {
  const none = capture();
  expect(await none.run('check-data', file('none.jsonl', '{"q": 1}\n'))).toBe(1);
  expect(none.out.at(-1)).toMatch(/: no format found, 1 sample, 1 problem on 1 line$/);
  const empty = capture();
  expect(await empty.run('check-data', file('empty.jsonl', ''))).toBe(1);
  expect(empty.out).toEqual([
    'the file: the file has no samples',
    expect.stringMatching(/no format found, 0 samples/),
  ]);
});

describe('usage errors: exit 2, nothing on stdout', () => {
  test.each([
    [[], /^together-webhooks check-data: the file to check is required: check-data <file\.jsonl>$/],
    [['a.jsonl', 'b.jsonl'], /one file at a time, got "b\.jsonl" too/],
    [[join(dir, 'missing.jsonl')], /cannot read .*missing\.jsonl: ENOENT/],
    [[dir], /is a directory, not a file/],
    [['x.jsonl', '--max-problems', '0'], /--max-problems must be a whole number from 1 to/],
  ])('%j', async (argv, message) => {
    const c = capture();
    expect(await c.run('check-data', ...argv)).toBe(2);
    expect(c.err.join('\n')).toMatch(message);
    expect(c.out).toEqual([]);
  });

  test('a path it cannot open (a file taken for a folder): the reason named', async () => {
    // Not a chmod 000 file: this suite may run as root, which reads anything.
    const c = capture();
    expect(await c.run('check-data', join(file('plain.jsonl', '{}'), 'data.jsonl'))).toBe(2);
    expect(c.err.join('\n')).toMatch(/cannot read .*plain\.jsonl\/data\.jsonl: ENOTDIR/);
  });
});
