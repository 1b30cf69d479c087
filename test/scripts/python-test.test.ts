import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  cacheHome,
  DEPENDENCIES,
  depsKey,
  indexArgs,
  missingTool,
  pythonPaths,
  SHARED_WHEELS,
} from '../../scripts/python-env';
import { firstDifference, pythonBlocks } from '../../scripts/python-test';

/**
 * The parts of `npm run test:python` that decide without Python: where the two templates first differ, which
 * blocks of a README are Python, what the caches are keyed by, which tool is missing. The run itself is
 * `npm run test:python` (CI step 3), not jest: it takes minutes cold.
 */
const root = join(__dirname, '..', '..');

test('the first difference of two templates is named by its path, values shown', () => {
  const ts = { Resources: { Fn: { Properties: { Code: { S3Key: 'aaa.zip' } } } }, Outputs: {} };
  expect(firstDifference(ts, JSON.parse(JSON.stringify(ts)))).toBeUndefined();
  const py = { Resources: { Fn: { Properties: { Code: { S3Key: 'bbb.zip' } } } }, Outputs: {} };
  expect(firstDifference(ts, py)).toBe(
    '$.Resources.Fn.Properties.Code.S3Key: typescript "aaa.zip", python "bbb.zip"',
  );
  expect(firstDifference({ a: [1, 2] }, { a: [1] })).toBe('$.a[1]: typescript 2, python (absent)');
  expect(firstDifference({ a: 1, b: 2 }, { b: 2, a: 1 })).toBe('$: keys in another order');
  expect(firstDifference({ a: null }, { a: {} })).toBe('$.a: typescript null, python {}');
});

test("the README's python blocks are found, and only those", () => {
  const md =
    '```sh\nnpm ci\n```\n\n```python\nprint(1)\n```\n\ntext\n\n```python\nx = "```"\nprint(x)\n```\n';
  expect(pythonBlocks(md)).toEqual(['print(1)\n', 'x = "```"\nprint(x)\n']);
  const readme = pythonBlocks(readFileSync(join(root, 'README.md'), 'utf8'));
  expect(readme.length).toBeGreaterThanOrEqual(3);
  expect(readme.join('\n')).toContain('from together_webhooks import');
});

test('pip is pointed at the configured index explicitly; nothing configured, pip decides', () => {
  const config = [
    ":env:.find-links='/opt/wheels'",
    "global.extra-index-url='file:///opt/pypi/simple file:///opt/pypi-more/simple'",
  ].join('\n');
  expect(indexArgs(config)).toEqual([
    '--index-url',
    'file:///opt/pypi/simple',
    '--extra-index-url',
    'file:///opt/pypi-more/simple',
  ]);
  expect(indexArgs("global.index-url='https://mirror/simple'\n")).toEqual([
    '--index-url',
    'https://mirror/simple',
  ]);
  expect(indexArgs('')).toEqual([]);
});

describe('the cache key', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pykey-'));
  const fake = (versions: Record<string, string>, wheel = 'wheel bytes') => {
    for (const pkg of [...DEPENDENCIES, 'jsii-pacmak']) {
      mkdirSync(join(dir, 'node_modules', pkg), { recursive: true });
      writeFileSync(
        join(dir, 'node_modules', pkg, 'package.json'),
        JSON.stringify({ version: versions[pkg] ?? '1.0.0' }),
      );
    }
    mkdirSync(join(dir, 'wheels'), { recursive: true });
    for (const w of SHARED_WHEELS) writeFileSync(join(dir, 'wheels', w), `${w} ${wheel}`);
    return depsKey(dir, '3.11', join(dir, 'wheels'));
  };
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('changes with aws-cdk-lib, pacmak, Python or a shared wheel; names aws-cdk-lib', () => {
    const base = fake({ 'aws-cdk-lib': '2.276.0' });
    expect(base).toMatch(/^cdk2\.276\.0-[0-9a-f]{16}$/);
    expect(fake({ 'aws-cdk-lib': '2.276.0' })).toBe(base);
    expect(fake({ 'aws-cdk-lib': '2.277.0' })).not.toBe(base);
    expect(fake({ 'aws-cdk-lib': '2.276.0', 'jsii-pacmak': '1.141.0' })).not.toBe(base);
    expect(fake({ 'aws-cdk-lib': '2.276.0' }, 'rebuilt')).not.toBe(base);
    expect(depsKey(dir, '3.12', join(dir, 'wheels'))).not.toBe(fake({ 'aws-cdk-lib': '2.276.0' }, 'rebuilt'));
  });

  test("the wheels are shared under the cache home, the venv is the clone's", () => {
    expect(cacheHome({ XDG_CACHE_HOME: '/x' })).toBe('/x');
    const paths = pythonPaths('/repo', 'cdk2.276.0-k', { XDG_CACHE_HOME: '/x' });
    expect(paths.depsCache).toBe('/x/together-webhooks/python/cdk2.276.0-k');
    expect(paths.venv).toBe('/repo/build/python-cache/cdk2.276.0-k/venv');
    expect(paths.sharedWheels).toBe('/shared/python-wheels');
  });
});

test('a missing tool is one line naming it', () => {
  expect(missingTool(root, 'no-such-python3')).toBe(
    'test:python: no-such-python3 not found (install Python 3.10 or later)',
  );
  const clone = mkdtempSync(join(tmpdir(), 'pyclone-'));
  try {
    mkdirSync(join(clone, 'repo'));
    const line = missingTool(join(clone, 'repo'), 'python3');
    expect(line).toMatch(
      /^test:python: (\.\.\/shared\/python-wheels lacks jsii-1\.140\.0-py3-none-any\.whl|python3 )/,
    );
    expect(line).not.toContain('\n');
  } finally {
    rmSync(clone, { recursive: true, force: true });
  }
});

test('npm run test:python checks its tools before the build, and CI runs it and counts it', () => {
  const scripts = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).scripts;
  expect(scripts['test:python']).toBe(
    'node --import tsx scripts/python-test.ts check && npm run build:python && node --import tsx scripts/python-test.ts',
  );
  const ci = readFileSync(join(root, '.ci', 'run'), 'utf8');
  expect(ci).toContain('timeout 1200 npm run test:python >.ci/python.log 2>&1');
  expect(ci).toMatch(/check "npm run test:python .*" \$status/);
});
