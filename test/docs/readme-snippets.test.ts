import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ts from 'typescript';

/**
 * Every TypeScript snippet in README.md type-checks against the library as a user imports it
 * (`from 'together-webhooks'`). Fragments get the names the README's prose gives them (`stack`, `hooks`, the
 * aws-cdk-lib modules) unless they declare their own.
 */

const root = join(__dirname, '..', '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const snippets = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);

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

test('the README has TypeScript snippets, and every one compiles', () => {
  expect(snippets.length).toBeGreaterThanOrEqual(5);
  const files = new Map(
    snippets.map((code, i) => [
      join(root, `readme-snippet-${i}.ts`),
      `${prelude(code)}\n${code}\nexport {};\n`,
    ]),
  );
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
  const program = ts.createProgram([...files.keys()], options, host);
  const problems = ts
    .getPreEmitDiagnostics(program)
    .filter((d) => d.file && files.has(d.file.fileName))
    .map((d) => {
      const { line } = d.file!.getLineAndCharacterOfPosition(d.start ?? 0);
      const text = files.get(d.file!.fileName)!.split('\n')[line];
      return `snippet ${d.file!.fileName.match(/(\d+)\.ts$/)![1]}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')} at: ${text.trim()}`;
    });
  expect(problems).toEqual([]);
}, 60_000);

test('every Python snippet in the README compiles', () => {
  const python = [...readme.matchAll(/```python\n([\s\S]*?)```/g)].map((m) => m[1]);
  expect(python.length).toBeGreaterThanOrEqual(2);
  for (const code of python) {
    // compile() only: the aws-cdk-lib Python package is not installable here, so the snippets cannot run.
    execFileSync('python3', ['-c', 'import sys; compile(sys.stdin.read(), "README snippet", "exec")'], {
      input: code,
    });
  }
});
