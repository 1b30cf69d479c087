import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { API_MD, apiReference, ROOT } from '../../scripts/props-reference';

/**
 * API.md is what jsii-docgen makes of the current assembly (formatted by prettier, as `npm run docs` writes it).
 * `npm test` runs `npm run jsii` before jest; run on its own, this test compiles the assembly when it is missing or
 * older than a file in lib/.
 */

function newestLibFile(dir: string): number {
  return Math.max(
    ...readdirSync(dir, { withFileTypes: true }).map((entry) =>
      entry.isDirectory() ? newestLibFile(join(dir, entry.name)) : statSync(join(dir, entry.name)).mtimeMs,
    ),
  );
}

function ensureAssembly(): void {
  const assembly = join(ROOT, '.jsii');
  if (existsSync(assembly) && statSync(assembly).mtimeMs >= newestLibFile(join(ROOT, 'lib'))) return;
  execFileSync('npm', ['run', '--silent', 'jsii'], { cwd: ROOT, stdio: 'pipe' });
}

/** Prettier 3 is ESM-only inside jest, so format in a child process, as `npm run docs` does. */
function prettier(text: string, file: string): string {
  return execFileSync(
    process.execPath,
    [require.resolve('prettier/bin/prettier.cjs'), '--stdin-filepath', file],
    {
      input: text,
      encoding: 'utf8',
    },
  );
}

function firstDifference(expected: string, actual: string): string {
  const want = expected.split('\n');
  const got = actual.split('\n');
  const line = want.findIndex((text, i) => text !== got[i]);
  const at = line < 0 ? Math.min(want.length, got.length) : line;
  return `line ${at + 1}: generated ${JSON.stringify(want[at] ?? '(end)')}, committed ${JSON.stringify(got[at] ?? '(end)')}`;
}

test('API.md is current with the jsii assembly (npm run docs)', async () => {
  ensureAssembly();
  const generated = prettier(await apiReference(), API_MD);
  const committed = existsSync(API_MD) ? readFileSync(API_MD, 'utf8') : '';
  if (generated !== committed) {
    throw new Error(
      `API.md is not what jsii-docgen makes of the current .jsii: run \`npm run docs\` and commit API.md ` +
        `(${committed ? firstDifference(generated, committed) : 'API.md is missing'})`,
    );
  }
  // It documents what the package exports, with the doc comments.
  expect(committed).toContain('### TogetherWebhooks ');
  expect(committed).toContain('### TogetherWebhooksProps ');
  expect(committed).toContain('Props of `TogetherWebhooks`');
}, 120_000);
