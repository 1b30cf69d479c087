import { checkLines, checkStream } from '../../../bin/cli/check-data/core';

/**
 * The pure core of `check-data`: lines (or bytes) in, a detected format and problems with line numbers out, for
 * the four JSONL formats Together documents (docs.together.ai/docs/fine-tuning/data-preparation).
 */

const j = (v: unknown) => JSON.stringify(v);
const chat = (...turns: Array<[string, string]>) =>
  j({ messages: turns.map(([role, content]) => ({ role, content })) });
const pair = {
  input: { messages: [{ role: 'user', content: 'Tell me about Rome.' }] },
  preferred_output: [{ role: 'assistant', content: 'Rome rose from a city-state...' }],
  non_preferred_output: [{ role: 'assistant', content: 'It got big.' }],
};

/** The problems as `line: message`, for short assertions. */
const problemsOf = (lines: string[]) => checkLines(lines).problems.map((p) => `${p.line}: ${p.message}`);

describe('valid files of each format', () => {
  test.each([
    [
      'conversational',
      [
        chat(['system', 'Be brief.'], ['user', 'Hi'], ['assistant', 'Hello!']),
        chat(['user', 'Q'], ['assistant', 'A']),
      ],
    ],
    [
      'instruction',
      [j({ prompt: 'Translate: chat', completion: 'cat' }), j({ prompt: '', completion: 'x' })],
    ],
    ['generic', [j({ text: 'Once upon a time' }), j({ text: 'é 漢字 🙂' })]],
    ['preference', [j(pair), j(pair)]],
  ])('%s: no problems, the format and the samples counted', (format, lines) => {
    const report = checkLines(lines);
    expect(report.problems).toEqual([]);
    expect(report.problemCount).toBe(0);
    expect(report.format).toBe(format);
    expect(report.samples).toBe(2);
  });

  test('function calling: tools, an assistant turn with tool_calls in place of content, tool results', () => {
    const sample = {
      messages: [
        { role: 'user', content: 'Weather in SF?' },
        {
          role: 'assistant',
          tool_calls: [{ type: 'function', function: { name: 'get_weather', arguments: '{}' } }],
        },
        { role: 'tool', content: '{"temp": 18}' },
        { role: 'assistant', content: '18 degrees.' },
      ],
      tools: [{ type: 'function', function: { name: 'get_weather' } }],
    };
    expect(problemsOf([j(sample)])).toEqual([]);
  });

  test('per-message weights of 0 and 1', () => {
    const sample = {
      messages: [
        { role: 'user', content: 'Q', weight: 0 },
        { role: 'assistant', content: 'A', weight: 1 },
      ],
    };
    expect(problemsOf([j(sample)])).toEqual([]);
  });
});

describe('broken files: each problem with its line and the value received', () => {
  test('conversational: a bad role, two turns of one role, a wrong type, a first assistant turn', () => {
    expect(
      problemsOf([
        j({
          messages: [
            { role: 'user', content: 'Hi' },
            { role: 'bot', content: 'Hello' },
          ],
        }),
        chat(['user', 'a'], ['user', 'b']),
        j({
          messages: [
            { role: 'user', content: 42 },
            { role: 'assistant', content: 'x' },
          ],
        }),
        chat(['assistant', 'Hi'], ['user', 'Q']),
        j({ messages: [] }),
        j({ messages: 'hello' }),
        j({ messages: [{ content: 'no role' }] }),
        j({
          messages: [
            { role: 'user', content: 'Q', weight: 2 },
            { role: 'assistant', content: 'A' },
          ],
        }),
      ]),
    ).toEqual([
      '1: messages[1].role must be one of system, user, assistant, tool; got "bot"',
      '2: messages[1].role is "user" again after messages[0]: user and assistant take turns',
      '3: messages[0].content must be a string; got 42',
      '4: messages[0].role is "assistant": a conversation starts with system or user',
      '5: messages is empty: an empty sample',
      '6: messages must be an array of messages; got "hello"',
      '7: messages[0] has no role',
      '8: messages[0].weight must be 0 or 1; got 2',
    ]);
  });

  test('conversational: messages whose contents are all empty is an empty sample', () => {
    expect(problemsOf([chat(['user', ' '], ['assistant', ''])])).toEqual([
      '1: an empty sample: no message in messages has content',
    ]);
  });

  test('instruction and generic: missing, mistyped and empty fields', () => {
    expect(
      problemsOf([
        j({ prompt: 'Q' }),
        j({ prompt: 'Q', completion: ['A'] }),
        j({ prompt: 'Q', completion: '' }),
      ]),
    ).toEqual([
      '1: has no "completion" (an instruction sample has prompt and completion)',
      '2: completion must be a string; got an array of 1 item',
      '3: completion is empty: an empty sample',
    ]);
    expect(problemsOf([j({ text: '' }), j({ text: null })])).toEqual([
      '1: text is empty: an empty sample',
      '2: text must be a string; got null',
    ]);
  });

  test('preference: input without messages, an output of two messages, a non-assistant output', () => {
    expect(
      problemsOf([
        j({ ...pair, input: { prompt: 'x' } }),
        j({ ...pair, preferred_output: [pair.preferred_output[0], pair.preferred_output[0]] }),
        j({ ...pair, non_preferred_output: [{ role: 'user', content: 'x' }] }),
        j({ ...pair, input: 'hi' }),
      ]),
    ).toEqual([
      '1: input has no "messages" (a preference sample\'s input is {"messages": [...]})',
      '2: preferred_output must hold exactly one message; got 2',
      '3: non_preferred_output[0].role must be "assistant"; got "user"',
      '4: input must be an object; got "hi"',
    ]);
  });

  test('a line that is no JSON, not an object, of no format, of two formats, with an extra field', () => {
    const report = checkLines([
      '{"text": "unterminated',
      '[1, 2]',
      j({ question: 'Q', answer: 'A' }),
      j({ text: 'T', messages: [] }),
      j({ text: 'T', id: 7 }),
    ]);
    const messages = report.problems.map((p) => `${p.line}: ${p.message}`);
    expect(messages[0]).toMatch(/^1: is not JSON \(.+\): got "\{\\"text\\": \\"unterminated"$/);
    expect(messages.slice(1)).toEqual([
      '2: must be a JSON object (one sample a line); got an array of 2 items',
      '3: matches no format: expected messages, prompt and completion, text, or input, preferred_output and non_preferred_output; got the fields question, answer',
      '4: has fields of two formats, conversational (messages) and generic (text): Together refuses that; keep one',
      '5: has a field "id" no format has: Together\'s check refuses extra fields; remove it',
    ]);
    expect(report.format).toBe('generic');
  });

  test("one format throughout: a sample of another format names the file's, and its first line", () => {
    const report = checkLines([j({ text: 'a' }), j({ text: 'b' }), j({ prompt: 'Q', completion: 'A' })]);
    expect(report.problems).toEqual([
      {
        line: 3,
        message: 'is instruction, but the file is generic (from line 1): Together takes one format a file',
      },
    ]);
    expect(report.format).toBe('generic');
  });

  test('a long value is shown truncated', () => {
    const [p] = checkLines([j({ messages: [{ role: 'x'.repeat(500), content: 'c' }] })]).problems;
    expect(p.message.length).toBeLessThan(160);
    expect(p.message).toMatch(/got "x{40,}\.\.\." \(500 characters\)$/);
  });
});

describe('bytes: CRLF, a BOM, blank lines, invalid UTF-8, no final newline, a line over the cap', () => {
  const bytesOf = (...parts: Array<string | Buffer>) => [
    Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p))),
  ];

  test('CRLF line ends are read as line ends', async () => {
    const report = await checkStream(bytesOf(`${j({ text: 'a' })}\r\n${j({ text: 'b' })}\r\n`));
    expect(report.problems).toEqual([]);
    expect(report.samples).toBe(2);
  });

  test('a file without a final newline: its last line is checked too', async () => {
    const report = await checkStream(bytesOf(`${j({ text: 'a' })}\n{"text": 1}`));
    expect(report.problems).toEqual([{ line: 2, message: 'text must be a string; got 1' }]);
    expect(report.lines).toBe(2);
  });

  test("a BOM is a problem (Together's check parses line 1 with it), and line 1 is checked after it", async () => {
    const report = await checkStream(bytesOf(Buffer.from([0xef, 0xbb, 0xbf]), `${j({ text: 'a' })}\n`));
    expect(report.problems).toEqual([
      {
        line: 1,
        message:
          "starts with a UTF-8 byte order mark, which Together's check refuses: save the file without it",
      },
    ]);
    expect(report.format).toBe('generic');
  });

  test('a blank line, or one of spaces, is a problem: every line is one sample', async () => {
    const report = await checkStream(bytesOf(`${j({ text: 'a' })}\n\n  \r\n${j({ text: 'b' })}\n`));
    expect(report.problems).toEqual([
      { line: 2, message: 'is blank: every line must be one JSON sample' },
      { line: 3, message: 'is blank: every line must be one JSON sample' },
    ]);
    expect(report.samples).toBe(2);
  });

  test('invalid UTF-8 names where', async () => {
    const report = await checkStream(bytesOf('{"text": "ab', Buffer.from([0xc3, 0x28]), '"}\n'));
    expect(report.problems).toEqual([{ line: 1, message: 'is not valid UTF-8 (from character 13)' }]);
  });

  test('a line over the cap is one problem, and the lines after it are checked', async () => {
    const chunks = [
      Buffer.from('{"text": "'),
      ...Array.from({ length: 8 }, () => Buffer.alloc(1024, 'x')),
      Buffer.from(`"}\n${j({ text: 1 })}\n`),
    ];
    const report = await checkStream(chunks, { maxLineBytes: 4096 });
    expect(report.problems).toEqual([
      { line: 1, message: 'is 8204 bytes, over the 4096-byte limit a line: not read' },
      { line: 2, message: 'text must be a string; got 1' },
    ]);
  });

  test('a line split across many chunks is put together again', async () => {
    const line = `${j({ text: 'é'.repeat(100) })}\n`;
    const bytes = Buffer.from(line + line);
    const chunks = Array.from({ length: bytes.length }, (_, i) => bytes.subarray(i, i + 1));
    const report = await checkStream(chunks);
    expect(report.problems).toEqual([]);
    expect(report.samples).toBe(2);
  });

  test('an empty file has no samples: a problem', async () => {
    const report = await checkStream([]);
    expect(report.problems).toEqual([{ line: 0, message: 'the file has no samples' }]);
  });
});

describe('the cap on problems kept', () => {
  test('the first N are kept, all are counted', () => {
    const report = checkLines(
      Array.from({ length: 120 }, () => j({ text: 1 })),
      { maxProblems: 50 },
    );
    expect(report.problems).toHaveLength(50);
    expect(report.problems[49].line).toBe(50);
    expect(report.problemCount).toBe(120);
    expect(report.problemLines).toBe(120);
  });
});
