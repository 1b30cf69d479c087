/**
 * `npm run test:python`: the library used from Python, for real. In the venv scripts/python-env.ts keeps (built or
 * reused), it
 * - synthesizes the Python twin of the example app (bin/python/app.py) and the TypeScript app (bin/app.ts) with the
 *   cdk CLI, and requires the same template and asset manifest, byte for byte (asset hashes included);
 * - runs every ```python block of README.md and of the Python package's README;
 * - checks which error a wrong prop type gets (jsii's type check, or ours under python -O);
 * - runs the Python handler example (TypedDicts) on every sample event of the catalogue;
 * - requires node 20's end-of-life banner silenced where we set it (the twin sets it itself).
 * Prints one line per check and `test:python: N passed, N failed`.
 *   node --import tsx scripts/python-test.ts check   (the tools it needs, before `npm run build:python`)
 *   node --import tsx scripts/python-test.ts          (after it)
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EVENT_TYPES, sampleEventBridgeEvent } from '../lib/events';
import { ensurePythonEnv, missingTool, PythonPaths, StepError } from './python-env';

const root = join(__dirname, '..');
const work = join(root, 'build', 'python-test');
const STACK = 'TogetherWebhooksExample';
/** What node 20's end-of-life banner says (@jsii/check-node). */
const BANNER = /is end-of-life and not supported anymore/;

/** The first place two JSON values differ, as `path: typescript <a>, python <b>`; undefined when equal. */
export function firstDifference(a: unknown, b: unknown, path = '$'): string | undefined {
  const show = (v: unknown) => (v === undefined ? '(absent)' : JSON.stringify(v).slice(0, 200));
  if (typeof a !== typeof b || Array.isArray(a) !== Array.isArray(b) || (a === null) !== (b === null))
    return `${path}: typescript ${show(a)}, python ${show(b)}`;
  if (a === null || typeof a !== 'object')
    return a === b ? undefined : `${path}: typescript ${show(a)}, python ${show(b)}`;
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  const keys = [...new Set([...Object.keys(x), ...Object.keys(y)])];
  for (const key of keys) {
    const found = firstDifference(x[key], y[key], Array.isArray(a) ? `${path}[${key}]` : `${path}.${key}`);
    if (found) return found;
  }
  // Same members in another order (JSON-equal, not byte-identical).
  const order = (o: object) => Object.keys(o).join(',');
  return order(x) === order(y) ? undefined : `${path}: keys in another order`;
}

/** The ```python blocks of a Markdown text. */
export function pythonBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```python\n([\s\S]*?)^```/gm)].map((m) => m[1]);
}

/** The environment a check's Python runs in: without the banner variable unless it is what is documented. */
function pythonEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  delete env.JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION;
  return { ...env, ...extra };
}

/** Runs a command; throws its output's tail when it fails or prints the end-of-life banner. */
function runQuiet(command: string, args: string[], env: NodeJS.ProcessEnv, cwd = root): string {
  const result = spawnSync(command, args, { cwd, env, encoding: 'utf8', maxBuffer: 1 << 28 });
  const output = `${result.stdout}${result.stderr}`;
  const tail = () => output.trim().split('\n').slice(-15).join('\n');
  if (result.status !== 0)
    throw new StepError(`${command} ${args.join(' ')} exited ${result.status}\n${tail()}`);
  if (BANNER.test(result.stderr))
    throw new StepError(`${command} ${args.join(' ')} printed the end-of-life banner`);
  return result.stdout.trim();
}

/** runQuiet, without blocking: two at a time on two cores. */
function runQuietAsync(command: string, args: string[], env: NodeJS.ProcessEnv, cwd = root): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let [stdout, stderr] = ['', ''];
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const tail = `${stdout}${stderr}`.trim().split('\n').slice(-15).join('\n');
      if (code !== 0) reject(new StepError(`${command} ${args.join(' ')} exited ${code}\n${tail}`));
      else if (BANNER.test(stderr))
        reject(new StepError(`${command} ${args.join(' ')} printed the end-of-life banner`));
      else resolve(stdout.trim());
    });
  });
}

/** The cdk CLI's synth of `app` (cdk.json's when undefined) into `outdir`. */
async function synth(app: string | undefined, outdir: string, env: NodeJS.ProcessEnv): Promise<void> {
  rmSync(outdir, { recursive: true, force: true });
  const cdk = join(root, 'node_modules', '.bin', 'cdk');
  await runQuietAsync(
    cdk,
    ['synth', ...(app ? ['--app', app] : []), '--output', outdir, '--quiet', STACK],
    env,
  );
}

/** The twin: the same template and asset manifest from Python as from TypeScript, byte for byte. */
async function checkTwin(paths: PythonPaths): Promise<string> {
  const ts = join(work, 'cdk.out.typescript');
  const py = join(work, 'cdk.out.python');
  // Both at once (two cores). The TypeScript app as `npm run synth` runs it (cdk.json's app), silenced as in
  // .ci/run; the Python app silences the banner itself: the variable is removed from its environment.
  await Promise.all([
    synth(undefined, ts, { ...process.env, JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION: '20' }),
    synth(`${paths.python} bin/python/app.py`, py, pythonEnv()),
  ]);
  const files = [`${STACK}.template.json`, `${STACK}.assets.json`];
  for (const file of files) {
    const [a, b] = [ts, py].map((dir) => readFileSync(join(dir, file), 'utf8'));
    if (a === b) continue;
    const where = firstDifference(JSON.parse(a), JSON.parse(b)) ?? 'whitespace only';
    throw new StepError(`${file} differs: ${where}`);
  }
  const assets = (dir: string) =>
    readdirSync(dir)
      .filter((f) => f.startsWith('asset.'))
      .sort();
  const diff = firstDifference(assets(ts), assets(py));
  if (diff) throw new StepError(`asset directories differ: ${diff}`);
  const template = JSON.parse(readFileSync(join(py, files[0]), 'utf8'));
  return `${Object.keys(template.Resources).length} resources, ${assets(py).length} assets: identical`;
}

/** Every ```python block of both READMEs, each in its own directory and namespace, in one Python. */
function checkReadmeSnippets(paths: PythonPaths, samples: string): string {
  const readmes = ['README.md', join('dist', 'jsii', 'python', 'README.md')];
  const files = readmes.flatMap((readme) => {
    const blocks = pythonBlocks(readFileSync(join(root, readme), 'utf8'));
    if (blocks.length === 0) throw new StepError(`${readme} has no python block`);
    return blocks.map((code, i) => {
      const dir = join(work, 'snippets', `${readme.replace(/\W/g, '_')}-${i + 1}`);
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'block.py'), code);
      return join(dir, 'block.py');
    });
  });
  // Run as the README documents: with JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 exported.
  const env = pythonEnv({ JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION: '20' });
  const runner = join(root, 'test', 'python', 'run_snippet.py');
  const out = runQuiet(paths.python, [runner, samples, ...files], env, work);
  const count = (what: string) => out.split('\n').filter((line) => line.includes(what)).length;
  return (
    `${files.length} blocks ran (${readmes.join(', ')}): ${count('synthesized')} synthesized an app, ` +
    `${count('called handler')} handlers called with a sample`
  );
}

function checkPropErrors(paths: PythonPaths): string {
  const test = join(root, 'test', 'python', 'test_prop_errors.py');
  const checked = runQuiet(paths.python, [test], pythonEnv());
  const unchecked = runQuiet(paths.python, ['-O', test], pythonEnv());
  return `type checks on: ${checked} | python -O: ${unchecked}`;
}

function checkHandler(paths: PythonPaths, samples: string): string {
  const test = join(root, 'test', 'python', 'test_handler.py');
  return runQuiet(paths.python, [test, samples], pythonEnv()).split('\n').pop() ?? '';
}

function writeSamples(): string {
  const file = join(work, 'samples.json');
  const samples = Object.fromEntries(EVENT_TYPES.map((type) => [type, sampleEventBridgeEvent(type)]));
  writeFileSync(file, `${JSON.stringify(samples, null, 2)}\n`);
  return file;
}

async function main(): Promise<number> {
  const missing = missingTool(root);
  if (missing) {
    console.error(missing);
    return 1;
  }
  if (process.argv[2] === 'check') return 0;
  mkdirSync(work, { recursive: true });
  const log = (line: string) => console.error(`test:python: ${line}`);
  let started = Date.now();
  let paths: PythonPaths;
  try {
    paths = ensurePythonEnv(root, log);
  } catch (error) {
    console.error(`test:python: the Python environment could not be built: ${(error as Error).message}`);
    return 1;
  }
  log(`environment ready in ${Math.round((Date.now() - started) / 1000)} s (${paths.venv})`);
  const samples = writeSamples();
  const checks: Array<[string, () => string | Promise<string>]> = [
    ['the Python twin of the example app synthesizes the TypeScript template', () => checkTwin(paths)],
    ["the README's Python blocks run", () => checkReadmeSnippets(paths, samples)],
    ['a wrong prop type from Python gets a clear error', () => checkPropErrors(paths)],
    ['the TypedDict handler example takes every catalogue sample', () => checkHandler(paths, samples)],
  ];
  let passed = 0;
  for (const [name, check] of checks) {
    started = Date.now();
    try {
      const detail = await check();
      passed++;
      console.log(`python: ok   ${name} (${Math.round((Date.now() - started) / 1000)} s): ${detail}`);
    } catch (error) {
      console.log(`python: FAIL ${name}: ${(error as Error).message}`);
    }
  }
  console.log(`test:python: ${passed} passed, ${checks.length - passed} failed`);
  return passed === checks.length ? 0 : 1;
}

if (require.main === module) void main().then((code) => process.exit(code));
