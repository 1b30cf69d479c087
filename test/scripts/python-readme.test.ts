import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventType } from '../../lib';
import { eventSpec, EVENT_TYPES } from '../../lib/events';
import { pythonEvents } from '../../scripts/python-events';
import { pythonReadme, writePythonReadme } from '../../scripts/python-readme';

/**
 * The Python package's README is a Python README: pip and `cdk init app --language python`, not npm; every Python
 * block compiles; the names it imports exist (the constructs' in the jsii assembly, .jsii, which `npm test` builds
 * before jest; the TypedDicts in the generated events module);
 * and it replaces what jsii-pacmak wrote in both places pacmak put the npm README.
 */
const readme = pythonReadme('9.8.7');
const assembly = JSON.parse(readFileSync(join(__dirname, '..', '..', '.jsii'), 'utf8'));
const blocks = [...readme.matchAll(/```python\n([\s\S]*?)```/g)].map((m) => m[1]);

test('install with pip from the built wheel, start with cdk init app --language python; no npm install', () => {
  expect(readme).not.toMatch(/npm install/);
  expect(readme).toContain(
    'npm ci && npm run build:python:wheel     # dist/wheel/together_webhooks-9.8.7-py3-none-any.whl',
  );
  expect(readme).toContain('cdk init app --language python');
  expect(readme).toContain('pip install /path/to/together_webhooks-9.8.7-py3-none-any.whl');
  expect(readme).toMatch(/Together's public API has no webhooks endpoint today/);
  const scripts = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')).scripts;
  expect(scripts['build:python']).toMatch(/jsii-pacmak .*&& tsx scripts\/python-readme\.ts/);
});

test('every Python block compiles, and imports only names that exist', () => {
  expect(blocks).toHaveLength(2);
  for (const code of blocks)
    execFileSync('python3', ['-c', 'import sys; compile(sys.stdin.read(), "readme", "exec")'], {
      input: code,
    });
  const imported = blocks.flatMap((code) =>
    [...code.matchAll(/from together_webhooks(\.events)? import (.+)/g)].flatMap((m) =>
      m[2].split(',').map((name) => ({ events: Boolean(m[1]), name: name.trim() })),
    ),
  );
  expect(imported.map((i) => i.name)).toEqual([
    'EventType',
    'TogetherEventHandlers',
    'TogetherWebhooks',
    'FineTuneCompletedEvent',
  ]);
  const events = pythonEvents();
  for (const { events: fromEvents, name } of imported) {
    if (fromEvents) expect(events).toMatch(new RegExp(`^${name} = TypedDict\\(`, 'm'));
    else expect(Object.keys(assembly.types)).toContain(`together-webhooks.${name}`);
  }
  // The handler reads fields fine_tune.completed has; the construct block uses a real prop and event type.
  const fields = Object.keys(eventSpec('fine_tune.completed').fields);
  for (const [, field] of blocks[1].matchAll(/data\["(\w+)"\]/g)) expect(fields).toContain(field);
  expect(EventType.BATCH_DONE).toBe('batch.done');
  expect(blocks[0]).toContain('handlers=TogetherEventHandlers(fine_tune_completed=');
  for (const type of EVENT_TYPES) expect(readme).toContain(`\`${type}\``);
});

test('written over the npm README and the module docstring jsii-pacmak generated; refuses a layout it does not know', () => {
  const dir = mkdtempSync(join(tmpdir(), 'python-readme-'));
  try {
    mkdirSync(join(dir, 'src', 'together_webhooks'), { recursive: true });
    // What jsii-pacmak 1.140 writes (abridged).
    const setup =
      'kwargs = {}\n\nwith open("README.md", encoding="utf8") as fp:\n    kwargs["long_description"] = fp.read()\n';
    writeFileSync(join(dir, 'setup.py'), setup);
    writeFileSync(join(dir, 'README.md'), '# together-webhooks\n\nnpm install together-webhooks\n');
    const init = join(dir, 'src', 'together_webhooks', '__init__.py');
    writeFileSync(
      init,
      "r'''\n# together-webhooks\n\nnpm install together-webhooks\n'''\nfrom pkgutil import extend_path\nimport abc\n",
    );
    writePythonReadme(dir, '9.8.7');
    expect(readFileSync(join(dir, 'README.md'), 'utf8')).toBe(readme);
    const code = readFileSync(init, 'utf8');
    expect(code).toBe(`r'''\n${readme}'''\nfrom pkgutil import extend_path\nimport abc\n`);
    const doc = execFileSync(
      'python3',
      ['-c', 'import ast, sys; print(ast.get_docstring(ast.parse(sys.stdin.read()), clean=False), end="")'],
      {
        input: code,
        encoding: 'utf8',
      },
    );
    expect(doc).toBe(`\n${readme}`);

    writeFileSync(join(dir, 'setup.py'), 'kwargs = {}\n');
    expect(() => writePythonReadme(dir, '9.8.7')).toThrow(
      /setup\.py no longer reads README\.md as its long description/,
    );
    writeFileSync(join(dir, 'setup.py'), setup);
    writeFileSync(init, 'import abc\n');
    expect(() => writePythonReadme(dir, '9.8.7')).toThrow(
      /__init__\.py does not start with the r''' module docstring/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
