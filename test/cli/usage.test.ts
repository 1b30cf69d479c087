import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { COMMANDS } from '../../bin/cli';
import { version } from '../../bin/cli/version';
import { EVENT_TYPES } from '../../lib/events';
import { capture } from '../support/cli';

/**
 * What a person reads: `--version`, each command's usage line against the flags its parser takes (so the two
 * cannot drift apart), `send --help` naming every event type, and one prefix on every error a command prints.
 */

const NAMES = Object.keys(COMMANDS);
const packageVersion = (
  JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as {
    version: string;
  }
).version;

/** The usage line: what `<command> --help` prints before its first blank line (it may wrap). */
const synopsis = (name: string) => COMMANDS[name].usage.split('\n\n')[0];

describe('--version', () => {
  test.each([['--version'], ['-v']])('%s prints the version in package.json, exit 0', async (arg) => {
    const c = capture();
    expect(await c.run(arg)).toBe(0);
    expect(c.out).toEqual([packageVersion]);
    expect(c.err).toEqual([]);
  });

  test('the command list says how to ask for the version', async () => {
    const c = capture();
    await c.run('--help');
    expect(c.out.join('\n')).toContain('together-webhooks --version');
  });
});

describe('usage lines', () => {
  test('the table has the ten commands', () => {
    expect(NAMES).toEqual([
      'dev',
      'send',
      'sign',
      'verify',
      'listen',
      'track',
      'replay',
      'trace',
      'status',
      'check-data',
    ]);
  });

  test.each(NAMES)(
    '%s: its usage line starts with its name and shows every flag its parser takes',
    (name) => {
      const line = synopsis(name);
      expect(line.startsWith(`together-webhooks ${name}`)).toBe(true);
      const { values, switches = [] } = COMMANDS[name].spec;
      // A flag that takes a value is shown with it (`--port N`); a switch alone, in brackets (`[--once]`).
      const missing = [
        ...values.filter((v) => !new RegExp(`--${v} [A-Z]`).test(line)).map((v) => `--${v} <VALUE>`),
        ...switches.filter((s) => !line.includes(`[--${s}]`)).map((s) => `[--${s}]`),
      ];
      expect(missing).toEqual([]);
    },
  );

  test.each(NAMES)('%s: every flag its usage line shows is one its parser takes', (name) => {
    const { values, switches = [] } = COMMANDS[name].spec;
    const shown = [...synopsis(name).matchAll(/--([a-z][a-z-]*)/g)].map((m) => m[1]);
    expect(shown.filter((f) => !values.includes(f) && !switches.includes(f))).toEqual([]);
  });

  test.each(NAMES)('%s --help: each flag its parser takes has a line saying what it does', (name) => {
    const { values, switches = [] } = COMMANDS[name].spec;
    const help = COMMANDS[name].usage;
    expect([...values, ...switches].filter((f) => !new RegExp(`^  --${f}\\b`, 'm').test(help))).toEqual([]);
  });

  test.each(NAMES)('%s --help: the usage, exit 0, nothing on stderr', async (name) => {
    const c = capture();
    expect(await c.run(name, '--help')).toBe(0);
    expect(c.out.join('\n')).toBe(COMMANDS[name].usage);
    expect(c.err).toEqual([]);
  });

  test('send --help lists every event type of the catalogue', async () => {
    const c = capture();
    await c.run('send', '--help');
    const help = c.out.join('\n');
    expect(
      EVENT_TYPES.filter((type) => !new RegExp(`^\\s+${type.replace('.', '\\.')}\\*?\\s`, 'm').test(help)),
    ).toEqual([]);
  });
});

describe('every error a command prints starts with "together-webhooks <command>: "', () => {
  const usageErrors: Record<string, string[][]> = {
    dev: [['--bogus'], ['--port', 'x'], ['--scheme', 'md5'], ['--interval', '0'], ['--api-base-url', 'nope']],
    send: [
      ['--bogus'],
      [],
      ['fine_tune.complete'],
      ['batch.done', '--secret', 's'],
      ['batch.done', '--url', 'http://127.0.0.1:1/'],
      ['batch.done', '--url', 'http://example.com/', '--secret', 's'],
      ['batch.done', '--url', 'http://127.0.0.1:1/', '--secret', 's', '--repeat', '0'],
      ['batch.done', '--url', 'http://127.0.0.1:1/', '--secret', 's', '--data', 'oops'],
      ['batch.done', '--url'],
    ],
    sign: [['--bogus'], [], ['--secret', 's', '--scheme', 'md5'], ['--once']],
    verify: [
      ['--bogus'],
      ['--secret', 's'],
      ['--secret', 'whsec_AAAA', '--signature', 'x', '--scheme', 'standard-webhooks'],
    ],
    listen: [['--bogus'], [], ['--once=yes'], ['--track-queue', 'r']],
    track: [['--bogus'], [], ['video'], ['queue', 'r', '--state', 'f'], ['video', 'v', '--table', 't']],
    replay: [['--bogus'], [], ['--since', 'soon'], ['--since', '1h'], ['--since', '1h', '--type', 'x.y']],
    trace: [['--bogus'], [], ['ft-1'], ['--peek=yes']],
    status: [['--bogus'], [], ['--table', 't'], ['--lookback', 'x']],
    'check-data': [['--bogus'], [], ['/nonexistent/data.jsonl'], ['f.jsonl', '--max-problems', 'x']],
  };

  test('each command has usage errors here', () => {
    expect(Object.keys(usageErrors)).toEqual(NAMES);
  });

  test.each(NAMES.flatMap((name) => usageErrors[name].map((argv) => [name, argv] as const)))(
    '%s %j exits 2 with the prefix',
    async (name, argv) => {
      const c = capture(name === 'listen' && argv.length ? { TOGETHER_API_KEY: 'k' } : {});
      expect(await c.run(name, ...argv)).toBe(2);
      expect(c.err.length).toBeGreaterThan(0);
      for (const line of c.err
        .join('\n')
        .split('\n')
        .filter((l) => l && !l.startsWith(' ')))
        expect(line).toMatch(new RegExp(`^together-webhooks ${name}: `));
      expect(c.out).toEqual([]);
    },
  );

  test('send to an unreachable --url: exit 1, with the prefix', async () => {
    const c = capture();
    expect(await c.run('send', 'batch.done', '--url', 'http://127.0.0.1:9/hook', '--secret', 's')).toBe(1);
    expect(c.err).toHaveLength(1);
    expect(c.err[0]).toMatch(
      /^together-webhooks send: could not reach http:\/\/127\.0\.0\.1:9\/hook: ECONNREFUSED\./,
    );
  });

  test('an unknown command: exit 2, prefixed with the program, then the list of commands', async () => {
    const c = capture();
    expect(await c.run('nope')).toBe(2);
    expect(c.err.join('\n')).toMatch(
      /^together-webhooks: unknown command "nope"\n\ntogether-webhooks <command>/,
    );
  });
});

describe('version(): the package.json two folders up', () => {
  const made: string[] = [];
  afterAll(() => made.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

  function packageWith(json: string | undefined): string {
    const root = mkdtempSync(join(tmpdir(), 'tw-version-'));
    made.push(root);
    mkdirSync(join(root, 'assets', 'cli'), { recursive: true });
    if (json !== undefined) writeFileSync(join(root, 'package.json'), json);
    return join(root, 'assets', 'cli');
  }

  test('reads the version of the package it sits in', () => {
    expect(version(packageWith('{"name":"together-webhooks","version":"3.2.1"}'))).toBe('3.2.1');
  });

  test.each([
    [undefined, /cannot read the version from .*package\.json: ENOENT/],
    [
      '{"name":"someone-else","version":"1.0.0"}',
      /is not together-webhooks' package\.json \(name "someone-else"/,
    ],
    ['not json', /cannot read the version from .*package\.json: /],
  ])('%j: an error naming the file and what it found', (json, message) => {
    expect(() => version(packageWith(json))).toThrow(message);
  });
});
