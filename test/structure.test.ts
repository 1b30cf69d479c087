import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import * as ts from 'typescript';

// The shape CONTRIBUTING.md promises, kept by the suite: small files, short functions, one place for every
// string lib/ and lambda/ must agree on, and every handler's environment read in its config.ts only.

const ROOT = join(__dirname, '..');
const MAX_FILE_LINES = 500;
const MAX_FUNCTION_LINES = 80;
/** Data, not logic: the catalogue is one entry per event type. */
const GENERATED_OR_DATA = new Set(['lib/events.ts']);

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .map((f) => join(dir, f).split('\\').join('/'))
    .sort();
}

const CODE = [...sources('lib'), ...sources('lambda'), ...sources('bin'), ...sources('scripts')];
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');

function longFunctions(file: string): string[] {
  const src = ts.createSourceFile(file, read(file), ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const first = src.getLineAndCharacterOfPosition(node.getStart(src)).line;
      const last = src.getLineAndCharacterOfPosition(node.end).line;
      const lines = last - first + 1;
      if (lines > MAX_FUNCTION_LINES) {
        const name =
          node.name?.getText(src) ?? (ts.isConstructorDeclaration(node) ? 'constructor' : 'a function');
        found.push(`${file}:${first + 1} ${name} (${lines} lines)`);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(src);
  return found;
}

test('the tree was found', () => {
  expect(CODE).toEqual(expect.arrayContaining(['lib/index.ts', 'lambda/poller/core.ts', 'bin/cli/index.ts']));
});

test(`no source file is over ${MAX_FILE_LINES} lines`, () => {
  const long = CODE.filter((f) => !GENERATED_OR_DATA.has(f))
    .map((f) => ({ f, lines: read(f).split('\n').length }))
    .filter(({ lines }) => lines > MAX_FILE_LINES)
    .map(({ f, lines }) => `${f} (${lines} lines)`);
  expect(long).toEqual([]);
});

test(`no function is over ${MAX_FUNCTION_LINES} lines`, () => {
  expect(CODE.flatMap(longFunctions)).toEqual([]);
});

test('the strings lib/ and lambda/ agree on are written once, in lib/contract.ts', () => {
  const contracts = [
    /'Custom::TogetherWebhook'/,
    /'https:\/\/api\.together\.xyz\/v1'/,
    /(?:\?\?|\|\||namespace:|NAMESPACE =)\s*'TogetherWebhooks'/,
  ];
  // Doc comments may show the value (`@default` must be a literal for jsii); code may not repeat it.
  const code = (f: string) =>
    read(f)
      .split('\n')
      .filter((line) => !/^\s*(\*|\/\/|\/\*)/.test(line))
      .join('\n');
  const where = CODE.filter((f) => f !== 'lib/contract.ts').flatMap((f) =>
    contracts.filter((re) => re.test(code(f))).map((re) => `${f}: ${re.source}`),
  );
  expect(where).toEqual([]);
});

test("each handler reads its environment in its config.ts, through lambda/shared/config.ts's reader", () => {
  const handlers = readdirSync(join(ROOT, 'lambda'), { withFileTypes: true })
    .filter((d) => d.isDirectory() && d.name !== 'shared')
    .map((d) => d.name);
  expect(handlers.length).toBeGreaterThan(5);
  for (const h of handlers)
    expect(`lambda/${h}/config.ts: ${sources('lambda').includes(`lambda/${h}/config.ts`)}`).toBe(
      `lambda/${h}/config.ts: true`,
    );
  // Reading a variable anywhere else: `process.env.X`, `process.env['X']`, `env.X` or `env['X']`.
  const reads = /\b(?:process\.)?env(?:\.[A-Z_]{2,}|\[['"][A-Z_]+['"]\])/;
  const elsewhere = sources('lambda').filter(
    (f) => !/^lambda\/[^/]+\/config\.ts$/.test(f) && f !== 'lambda/shared/config.ts' && reads.test(read(f)),
  );
  expect(elsewhere).toEqual([]);
});

test('tests mirror the code: no test file at the top of test/', () => {
  const top = readdirSync(join(ROOT, 'test')).filter((f) => f.endsWith('.test.ts'));
  expect(top.map((f) => relative(ROOT, join(ROOT, 'test', f)))).toEqual(['test/structure.test.ts']);
});
