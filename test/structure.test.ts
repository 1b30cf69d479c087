import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ts from 'typescript';
import {
  DEFAULT_METRICS_NAMESPACE,
  DEFAULT_TOGETHER_API_BASE_URL,
  WEBHOOK_PATH,
  WEBHOOK_RESOURCE_TYPE,
} from '../lib/contract';

// The shape CONTRIBUTING.md promises, kept by the suite: small files, short functions, one place for every
// string lib/ and lambda/ must agree on, and every handler's environment read in its config.ts only.

const ROOT = join(__dirname, '..');
const MAX_FILE_LINES = 500;
const MAX_FUNCTION_LINES = 80;

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .map((f) => join(dir, f).split('\\').join('/'))
    .sort();
}

const CODE = [...sources('lib'), ...sources('lambda'), ...sources('bin'), ...sources('scripts')];
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');
const parsed = new Map<string, ts.SourceFile>();
/** Each file is parsed once for all the checks below. */
const parse = (file: string): ts.SourceFile => {
  let src = parsed.get(file);
  if (!src) parsed.set(file, (src = ts.createSourceFile(file, read(file), ts.ScriptTarget.Latest, true)));
  return src;
};

function longFunctions(file: string): string[] {
  const src = parse(file);
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
  const long = CODE.map((f) => ({ f, lines: read(f).split('\n').length }))
    .filter(({ lines }) => lines > MAX_FILE_LINES)
    .map(({ f, lines }) => `${f} (${lines} lines)`);
  expect(long).toEqual([]);
});

test(`no function is over ${MAX_FUNCTION_LINES} lines`, () => {
  expect(CODE.flatMap(longFunctions)).toEqual([]);
});

function walk(file: string, visit: (node: ts.Node, src: ts.SourceFile) => void): void {
  const src = parse(file);
  const go = (node: ts.Node): void => {
    visit(node, src);
    ts.forEachChild(node, go);
  };
  go(src);
}

const at = (file: string, src: ts.SourceFile, node: ts.Node) =>
  `${file}:${src.getLineAndCharacterOfPosition(node.getStart(src)).line + 1}`;

test('the strings lib/ and lambda/ agree on are written once, in lib/contract.ts', () => {
  // Any string literal (quotes or backticks) equal to one of these, outside the contract: comments may show them.
  const values = new Set([DEFAULT_TOGETHER_API_BASE_URL, WEBHOOK_RESOURCE_TYPE, WEBHOOK_PATH]);
  // The namespace's name is also the main construct's, which messages name: only its use as a namespace counts.
  const asNamespace = (node: ts.Node) => {
    const p = node.parent;
    if (ts.isBinaryExpression(p))
      return [ts.SyntaxKind.QuestionQuestionToken, ts.SyntaxKind.BarBarToken].includes(p.operatorToken.kind);
    if (ts.isPropertyAssignment(p) || ts.isVariableDeclaration(p))
      return /namespace|^ns$/i.test(p.name.getText());
    return ts.isParameter(p);
  };
  const found: string[] = [];
  for (const f of CODE.filter((f) => f !== 'lib/contract.ts')) {
    walk(f, (node, src) => {
      if (!ts.isStringLiteral(node) && !ts.isNoSubstitutionTemplateLiteral(node)) return;
      if (values.has(node.text) || (node.text === DEFAULT_METRICS_NAMESPACE && asNamespace(node)))
        found.push(`${at(f, src, node)} '${node.text}'`);
    });
  }
  expect(found).toEqual([]);
});

test("each handler reads its environment in its config.ts, through lambda/shared/config.ts's reader", () => {
  const handlers = readdirSync(join(ROOT, 'lambda'), { withFileTypes: true })
    .filter((d) => d.isDirectory() && d.name !== 'shared')
    .map((d) => d.name);
  expect(handlers.length).toBeGreaterThan(5);
  const found: string[] = [];
  for (const h of handlers) {
    const config = `lambda/${h}/config.ts`;
    if (!sources('lambda').includes(config)) found.push(`${config} is missing`);
    // A handler with an environment reads it with the reader; registration has none (its input is the resource's).
    else if (read(`lambda/${h}/index.ts`).includes('process.env') && !read(config).includes('new EnvReader'))
      found.push(`${config} does not read through EnvReader`);
  }
  // `process.env` appears only where an adapter (index.ts) hands it to its config; a config.ts reads the variables
  // only through the reader: no `env.X`, `env['X']` or `const { X } = env` of its own.
  for (const f of sources('lambda')) {
    const adapter = /^lambda\/[^/]+\/index\.ts$/.test(f);
    const config = /^lambda\/[^/]+\/config\.ts$/.test(f);
    walk(f, (node, src) => {
      const isProcessEnv =
        ts.isPropertyAccessExpression(node) &&
        node.expression.getText(src) === 'process' &&
        node.name.text === 'env';
      if (isProcessEnv && !(adapter && ts.isCallExpression(node.parent)))
        found.push(`${at(f, src, node)} process.env outside a call in an adapter`);
      if (!config) return;
      // A variable's name is upper case: `env.TABLE_NAME`, `env['TABLE_NAME']`, `env[name]`.
      const variable =
        (ts.isPropertyAccessExpression(node) && /^[A-Z][A-Z0-9_]*$/.test(node.name.text)) ||
        ts.isElementAccessExpression(node);
      if (variable && ts.isIdentifier(node.expression) && node.expression.text === 'env')
        found.push(`${at(f, src, node)} ${node.getText(src)}`);
      if (
        ts.isVariableDeclaration(node) &&
        ts.isObjectBindingPattern(node.name) &&
        node.initializer?.getText(src) === 'env'
      )
        found.push(`${at(f, src, node)} destructures env`);
    });
  }
  expect(found).toEqual([]);
});

test('tests mirror the code: each test file sits in the folder of what it tests', () => {
  const FOLDERS = ['lib', 'lambda', 'cli', 'bin', 'integration', 'integ', 'reliability', 'docs', 'scripts'];
  const misplaced = sources('test')
    .filter((f) => f.endsWith('.test.ts') && f !== 'test/structure.test.ts')
    .filter((f) => {
      const [, top, ...rest] = f.split('/');
      if (!FOLDERS.includes(top)) return true;
      // test/lambda/<handler>/... mirrors lambda/<handler>/..., test/cli/ mirrors bin/cli/.
      const dir = rest.slice(0, -1).join('/');
      if (top === 'lambda') return !existsSync(join(ROOT, 'lambda', dir));
      return false;
    });
  expect(misplaced).toEqual([]);
});
