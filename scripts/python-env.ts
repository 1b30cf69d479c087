/**
 * The Python environment `npm run test:python` runs in: a virtual environment with aws-cdk-lib's Python bindings
 * and this library's wheel, built offline from node_modules with the recipe in ../shared/python-wheels/README.md.
 *
 * Two caches, each keyed by what it is built from, so nothing stale is ever reused:
 * - the dependency wheels (constructs, the two asset packages, cloud-assembly-schema, aws-cdk-lib), ~80 s and
 *   2.5 GB of memory to generate, shared by every clone on the machine: $XDG_CACHE_HOME (or ~/.cache)
 *   /together-webhooks/python/<deps key>, the key hashing their npm versions, jsii-pacmak's, Python's and the three
 *   shared wheels;
 * - the venv, per clone (build/python-cache/<deps key>/venv), with the library's wheel reinstalled only when its
 *   fingerprint (the .jsii and the handler bundles it ships) changes.
 */
import { spawnSync, SpawnSyncOptions } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** The npm packages whose Python bindings a CDK app using this library imports, in dependency order. */
export const DEPENDENCIES = [
  'constructs',
  '@aws-cdk/asset-awscli-v1',
  '@aws-cdk/asset-node-proxy-agent-v6',
  '@aws-cdk/cloud-assembly-schema',
  'aws-cdk-lib',
] as const;

/** The three wheels no reachable package index has (../shared/python-wheels/README.md says how they were built). */
export const SHARED_WHEELS = [
  'jsii-1.140.0-py3-none-any.whl',
  'publication-0.0.3-py3-none-any.whl',
  'typeguard-2.13.3-py3-none-any.whl',
] as const;

/** From the package index: the wheel build tools, and the jsii runtime's own dependencies. */
export const INDEX_PACKAGES = [
  'build',
  'setuptools>=80,<81',
  'wheel',
  'attrs',
  'cattrs',
  'python-dateutil',
  'typing-extensions',
] as const;

export interface PythonPaths {
  readonly root: string;
  readonly sharedWheels: string;
  /** Shared by the clones on this machine. */
  readonly depsCache: string;
  /** This clone's. */
  readonly venv: string;
  readonly python: string;
}

export const sha256 = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');

const packageVersion = (root: string, pkg: string): string =>
  JSON.parse(readFileSync(join(root, 'node_modules', pkg, 'package.json'), 'utf8')).version;

/**
 * What the dependency wheels are made from. A new aws-cdk-lib, pacmak, Python or shared wheel is a new key, so a new
 * directory: an old cache is never patched, only left behind.
 */
export function depsKey(root: string, pythonVersion: string, sharedWheels: string): string {
  const parts = [
    ...[...DEPENDENCIES, 'jsii-pacmak'].map((pkg) => `${pkg}@${packageVersion(root, pkg)}`),
    `python@${pythonVersion}`,
    ...SHARED_WHEELS.map((w) => `${w}:${sha256(readFileSync(join(sharedWheels, w)))}`),
    ...INDEX_PACKAGES,
  ];
  return `cdk${packageVersion(root, 'aws-cdk-lib')}-${sha256(parts.join('\n')).slice(0, 16)}`;
}

/** The library's fingerprint: its jsii assembly and every file it ships beside (the handler bundles). */
export function libraryFingerprint(root: string): string {
  const hash = createHash('sha256').update(readFileSync(join(root, '.jsii')));
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) =>
      a.name.localeCompare(b.name),
    )) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else hash.update(path.slice(root.length)).update(readFileSync(path));
    }
  };
  walk(join(root, 'assets'));
  return hash.digest('hex').slice(0, 16);
}

export function cacheHome(env: NodeJS.ProcessEnv = process.env): string {
  return env.XDG_CACHE_HOME && env.XDG_CACHE_HOME !== '' ? env.XDG_CACHE_HOME : join(homedir(), '.cache');
}

export function pythonPaths(root: string, key: string, env: NodeJS.ProcessEnv = process.env): PythonPaths {
  const venv = join(root, 'build', 'python-cache', key, 'venv');
  return {
    root,
    sharedWheels: join(root, '..', 'shared', 'python-wheels'),
    depsCache: join(cacheHome(env), 'together-webhooks', 'python', key),
    venv,
    python: join(venv, 'bin', 'python'),
  };
}

/** A tool this needs and cannot find, as the one line to print; undefined when all are there. */
export function missingTool(root: string, python = 'python3'): string | undefined {
  const run = (args: string[]) => spawnSync(python, args, { stdio: 'ignore' }).status === 0;
  if (!run(['--version'])) return `test:python: ${python} not found (install Python 3.10 or later)`;
  if (!run(['-c', 'import venv, ensurepip']))
    return `test:python: ${python} cannot create a virtual environment (Debian: apt-get install python3-venv)`;
  if (!run(['-m', 'pip', '--version']))
    return `test:python: ${python} has no pip (Debian: apt-get install python3-pip)`;
  const shared = join(root, '..', 'shared', 'python-wheels');
  const absent = SHARED_WHEELS.filter((w) => !existsSync(join(shared, w)));
  if (absent.length > 0)
    return `test:python: ../shared/python-wheels lacks ${absent.join(', ')} (see ../shared/python-wheels/README.md)`;
  return undefined;
}

/** pip's index options: the configured local index named explicitly (the default one is unreachable here). */
export function indexArgs(pipConfig: string): string[] {
  const urls = (name: string) =>
    [...pipConfig.matchAll(new RegExp(`^global\\.${name}='([^']*)'$`, 'gm'))].flatMap((m) =>
      m[1].split(/\s+/).filter(Boolean),
    );
  const [first, ...rest] = [...urls('index-url'), ...urls('extra-index-url')];
  if (first === undefined) return [];
  return ['--index-url', first, ...rest.flatMap((u) => ['--extra-index-url', u])];
}

export class StepError extends Error {}

/** Runs a command; its output goes to the log, and a failure names the command and shows the log's tail. */
export function run(command: string, args: readonly string[], options: SpawnSyncOptions = {}): string {
  const result = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 1 << 28, ...options });
  const output = `${String(result.stdout ?? '')}${String(result.stderr ?? '')}`;
  if (result.status !== 0) {
    const tail = output.trim().split('\n').slice(-15).join('\n');
    throw new StepError(`${command} ${args.join(' ')} exited ${result.status ?? result.signal}\n${tail}`);
  }
  return String(result.stdout ?? '');
}

const quietEnv = (): NodeJS.ProcessEnv => ({
  ...process.env,
  JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION: '20',
});

/** The venv with the index packages and the shared wheels; made once per key (a marker says it is complete). */
function ensureVenv(paths: PythonPaths, log: (line: string) => void): void {
  const done = join(paths.venv, '.together-base');
  if (existsSync(done)) return;
  log(`creating ${paths.venv}`);
  // A venv of another key (an older aws-cdk-lib) is ~280 MB this clone no longer uses.
  const caches = join(paths.root, 'build', 'python-cache');
  for (const old of existsSync(caches) ? readdirSync(caches) : [])
    rmSync(join(caches, old), { recursive: true, force: true });
  run('python3', ['-m', 'venv', paths.venv]);
  const index = indexArgs(run('python3', ['-m', 'pip', 'config', 'list']));
  run(paths.python, ['-m', 'pip', 'install', '--quiet', ...index, ...INDEX_PACKAGES]);
  const shared = SHARED_WHEELS.map((w) => join(paths.sharedWheels, w));
  run(paths.python, ['-m', 'pip', 'install', '--quiet', '--no-deps', '--no-index', ...shared]);
  writeFileSync(done, `${new Date().toISOString()}\n`);
}

/** `jsii-pacmak --code-only` then `python -m build --wheel` for one package, into `outdir`. */
function buildWheel(paths: PythonPaths, pkg: string, work: string, outdir: string): void {
  const code = join(work, pkg.replace(/[@/]/g, '_'));
  const pacmak = join(paths.root, 'node_modules', '.bin', 'jsii-pacmak');
  run(
    pacmak,
    ['--code-only', '--targets', 'python', '--outdir', code, join(paths.root, 'node_modules', pkg)],
    {
      env: quietEnv(),
    },
  );
  const build = [
    '-m',
    'build',
    '--wheel',
    '--no-isolation',
    '--skip-dependency-check',
    '--outdir',
    outdir,
    '.',
  ];
  run(paths.python, build, { cwd: join(code, 'python') });
  rmSync(code, { recursive: true, force: true }); // aws-cdk-lib's generated code is 219 MB
}

/**
 * The dependency wheels, from the shared cache or built into it: one package at a time (pacmak's --recurse fails on
 * their order), into a private directory renamed into place at the end, so a concurrent or interrupted run never
 * leaves a half-filled cache behind.
 */
function ensureDependencyWheels(paths: PythonPaths, log: (line: string) => void): string[] {
  const wheels = () => readdirSync(paths.depsCache).filter((f) => f.endsWith('.whl'));
  if (existsSync(join(paths.depsCache, 'complete'))) return wheels().map((w) => join(paths.depsCache, w));
  const staging = `${paths.depsCache}.partial-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  try {
    for (const pkg of DEPENDENCIES) {
      const started = Date.now();
      buildWheel(paths, pkg, join(staging, 'work'), staging);
      log(`built the ${pkg} wheel in ${Math.round((Date.now() - started) / 1000)} s`);
    }
    rmSync(join(staging, 'work'), { recursive: true, force: true });
    writeFileSync(join(staging, 'complete'), `${new Date().toISOString()}\n`);
    // Another clone finished first: keep its wheels (it may be installing them), drop ours.
    if (!existsSync(join(paths.depsCache, 'complete'))) {
      rmSync(paths.depsCache, { recursive: true, force: true });
      renameSync(staging, paths.depsCache);
    }
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  return wheels().map((w) => join(paths.depsCache, w));
}

/** The dependency wheels installed into the venv (once: a marker records it). */
function installDependencies(paths: PythonPaths, log: (line: string) => void): void {
  const done = join(paths.venv, '.together-deps');
  if (existsSync(done)) return;
  const wheels = ensureDependencyWheels(paths, log);
  log(`installing ${wheels.length} dependency wheels`);
  // --no-compile: byte-compiling aws-cdk-lib's 219 MB is most of the install; Python caches what it imports instead.
  run(paths.python, [
    '-m',
    'pip',
    'install',
    '--quiet',
    '--no-compile',
    '--no-deps',
    '--no-index',
    ...wheels,
  ]);
  writeFileSync(done, `${wheels.join('\n')}\n`);
}

/**
 * This library's wheel (`npm run build:python` has generated dist/jsii/python), built and installed when its
 * fingerprint differs from the installed one's.
 */
function installLibrary(paths: PythonPaths, log: (line: string) => void): void {
  const marker = join(paths.venv, '.together-library');
  const fingerprint = libraryFingerprint(paths.root);
  if (existsSync(marker) && readFileSync(marker, 'utf8').trim() === fingerprint) return;
  const outdir = join(paths.venv, '..', 'library');
  rmSync(outdir, { recursive: true, force: true });
  const build = [
    '-m',
    'build',
    '--wheel',
    '--no-isolation',
    '--skip-dependency-check',
    '--outdir',
    outdir,
    '.',
  ];
  run(paths.python, build, { cwd: join(paths.root, 'dist', 'jsii', 'python') });
  const wheel = readdirSync(outdir).filter((f) => f.endsWith('.whl'));
  log(`installing ${wheel.join(', ')} (library ${fingerprint})`);
  const install = ['-m', 'pip', 'install', '--quiet', '--no-deps', '--no-index', '--force-reinstall'];
  run(paths.python, [...install, ...wheel.map((w) => join(outdir, w))]);
  writeFileSync(marker, `${fingerprint}\n`);
}

/** The venv, ready: made or reused, dependencies from the cache, the library current. */
export function ensurePythonEnv(root: string, log: (line: string) => void): PythonPaths {
  const version = run('python3', ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])']).trim();
  const key = depsKey(root, version, join(root, '..', 'shared', 'python-wheels'));
  const paths = pythonPaths(root, key);
  mkdirSync(join(paths.depsCache, '..'), { recursive: true });
  ensureVenv(paths, log);
  installDependencies(paths, log);
  installLibrary(paths, log);
  return paths;
}
