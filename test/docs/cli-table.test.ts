import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../../bin/cli/index';
import { Io } from '../../bin/cli/io';

/** The README's CLI table names every command and every option each command's own `--help` lists. */

const readme = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');
const section = readme.slice(
  readme.indexOf('## The CLI'),
  readme.indexOf('\n## ', readme.indexOf('## The CLI') + 1),
);

async function run(argv: string[]): Promise<string> {
  const out: string[] = [];
  const io: Io = {
    out: (line) => void out.push(line),
    err: (line) => void out.push(line),
    readBody: () => Promise.resolve(Buffer.alloc(0)),
    env: {},
  };
  await main(argv, io);
  return out.join('\n');
}

async function commands(): Promise<string[]> {
  const help = await run(['--help']);
  return [...help.matchAll(/^ {2}([a-z][a-z-]*) {2,}/gm)].map((m) => m[1]);
}

test('the README lists every command', async () => {
  const names = await commands();
  expect(names).toEqual(expect.arrayContaining(['dev', 'send', 'sign', 'verify', 'listen']));
  for (const name of names) expect(section).toContain(`| \`${name}\``);
});

test("each command's row names every option its --help gives", async () => {
  const missing: string[] = [];
  for (const name of await commands()) {
    const row = section.split('\n').find((line) => line.startsWith(`| \`${name}\``)) ?? '';
    const options = new Set([...(await run([name, '--help'])).matchAll(/--[a-z][a-z-]*/g)].map((m) => m[0]));
    options.delete('--help');
    for (const option of options) if (!row.includes(option)) missing.push(`${name} ${option}`);
  }
  expect(missing).toEqual([]);
});
