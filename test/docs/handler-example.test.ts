import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The README's typed handler and its test (`sampleEvent`) run as written: both files are taken from the README,
 * `together-webhooks/events` pointed at lib/events.ts, and the test run with `node --test`, as a user would.
 */

const root = join(__dirname, '..', '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');

function snippet(file: string): string {
  const code = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)]
    .map((m) => m[1])
    .find((c) => c.startsWith(`// ${file}`));
  if (!code) throw new Error(`README.md has no ts snippet starting "// ${file}"`);
  return code.replace(/'together-webhooks\/events'/g, JSON.stringify(join(root, 'lib', 'events')));
}

test("the README's handler test passes against the handler", () => {
  const dir = join(root, 'build', 'readme-handler', 'src');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'on-completed.ts'), snippet('src/on-completed.ts'));
  writeFileSync(join(dir, 'on-completed.test.ts'), snippet('src/on-completed.test.ts'));
  const output = execFileSync(
    process.execPath,
    ['--import', 'tsx', '--test', join(dir, 'on-completed.test.ts')],
    {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, NODE_OPTIONS: '' },
    },
  );
  expect(output).toMatch(/^# pass 1$/m);
  expect(output).toMatch(/^# fail 0$/m);
}, 60_000);
