import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ts from 'typescript';

/**
 * Every TypeScript snippet in README.md and docs/*.md type-checks against the library as a user imports it
 * (`from 'together-webhooks'`). Fragments get the names the prose gives them (`stack`, `hooks`, the aws-cdk-lib
 * modules) unless they declare their own. A snippet whose first line is a comment naming a file
 * (`// src/on-completed.ts: ...`) is that file, so another snippet can import it (`from './on-completed'`).
 */

const root = join(__dirname, '..', '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const docs = readdirSync(join(root, 'docs'))
  .filter((name) => name.endsWith('.md'))
  .map((name) => readFileSync(join(root, 'docs', name), 'utf8'));
const tsSnippets = (text: string) => [...text.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
const snippets = [readme, ...docs].flatMap(tsSnippets);

/** Where a snippet lives: the file its first line names, else a file of its own. */
function snippetFile(code: string, i: number): string {
  const named = /^\/\/ ([\w./-]+\.ts)\b/.exec(code)?.[1];
  return join(root, named ?? `readme-snippet-${i}.ts`);
}

function prelude(code: string): string {
  if (/^import /m.test(code)) return '';
  const declared = (name: string) => new RegExp(`\\b(const|let|function) ${name}\\b`).test(code);
  return [
    "import { App, CfnOutput, Duration, Stack, aws_events_targets as targets, aws_lambda as lambda, aws_secretsmanager as secretsmanager } from 'aws-cdk-lib';",
    "import { TogetherWebhooks } from 'together-webhooks';",
    declared('stack') ? '' : 'declare const stack: Stack;',
    declared('hooks') ? '' : 'declare const hooks: TogetherWebhooks;',
    'void [App, CfnOutput, Duration, targets, lambda, secretsmanager, TogetherWebhooks];',
  ].join('\n');
}

test('the README and docs/ have TypeScript snippets, and every one compiles', () => {
  expect(tsSnippets(readme).length).toBeGreaterThanOrEqual(5);
  const files = new Map(
    snippets.map((code, i) => [snippetFile(code, i), `${prelude(code)}\n${code}\nexport {};\n`]),
  );
  expect(files.size).toBe(snippets.length); // no two snippets claim one file
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.CommonJS,
    moduleResolution: ts.ModuleResolutionKind.Node10,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    esModuleInterop: true,
    types: ['node'],
    baseUrl: root,
    paths: { 'together-webhooks': ['lib/index.ts'], 'together-webhooks/events': ['lib/events.ts'] },
  };
  const host = ts.createCompilerHost(options);
  const read = host.readFile;
  host.readFile = (file) => files.get(file) ?? read(file);
  const exists = host.fileExists;
  host.fileExists = (file) => files.has(file) || exists(file);
  const dirExists = host.directoryExists?.bind(host);
  host.directoryExists = (dir) =>
    [...files.keys()].some((file) => file.startsWith(dir + '/')) || (dirExists?.(dir) ?? true);
  const program = ts.createProgram([...files.keys()], options, host);
  const problems = ts
    .getPreEmitDiagnostics(program)
    .filter((d) => d.file && files.has(d.file.fileName))
    .map((d) => {
      const { line } = d.file!.getLineAndCharacterOfPosition(d.start ?? 0);
      const text = files.get(d.file!.fileName)!.split('\n')[line];
      return `${d.file!.fileName.slice(root.length + 1)}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')} at: ${text.trim()}`;
    });
  expect(problems).toEqual([]);
}, 60_000);

test('every Python snippet in the README compiles', () => {
  const python = [...readme.matchAll(/```python\n([\s\S]*?)```/g)].map((m) => m[1]);
  expect(python.length).toBeGreaterThanOrEqual(2);
  for (const code of python) {
    // compile() here, in seconds; `npm run test:python` runs each of them in a venv with aws-cdk-lib (minutes).
    execFileSync('python3', ['-c', 'import sys; compile(sys.stdin.read(), "README snippet", "exec")'], {
      input: code,
    });
  }
});
