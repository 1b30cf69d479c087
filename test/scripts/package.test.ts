import { execFileSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HANDLERS } from '../../scripts/bundle-handlers';
import { packedManifest, restore, strip } from '../../scripts/pack-manifest';

/**
 * What `npm pack` (and so `npm publish`, jsii-pacmak and publib) ships: the compiled library, every handler bundle,
 * the CLI, the jsii assembly, README and LICENSE; and a package.json with no script a consumer's npm would run or
 * warn about (they all need files the package does not ship). Needs `npm run build` first (`npm test` does it).
 */
const root = join(__dirname, '..', '..');
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const LIFECYCLE = [
  'preinstall',
  'install',
  'postinstall',
  'prepublish',
  'preprepare',
  'prepare',
  'postprepare',
];

function npm(args: string[], cwd: string): string {
  return execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function builtOrExplain(): void {
  const missing = ['dist/lib/index.js', '.jsii', ...HANDLERS.map((h) => `assets/${h}/index.js`)].filter(
    (f) => !existsSync(join(root, f)),
  );
  if (missing.length > 0) throw new Error(`run npm run build first: missing ${missing.join(', ')}`);
}

test('the packed file list holds the library, every handler bundle, the CLI, .jsii, README and LICENSE', () => {
  builtOrExplain();
  // --ignore-scripts: lists what is on disk now (prepack would rebuild and rewrite package.json under other tests).
  const [pack] = JSON.parse(npm(['pack', '--dry-run', '--json', '--ignore-scripts'], root));
  const files: string[] = pack.files.map((f: { path: string }) => f.path);
  const expected = [
    'package.json',
    'README.md',
    'LICENSE',
    '.jsii',
    'dist/lib/index.js',
    'dist/lib/index.d.ts',
    'dist/lib/events.js',
    'dist/lib/events.d.ts',
    'dist/lib/track.js',
    'dist/lib/track.d.ts',
    'assets/cli/index.js',
    ...HANDLERS.map((h) => `assets/${h}/index.js`),
  ];
  expect(expected.filter((f) => !files.includes(f))).toEqual([]);
  // Nothing that only a clone needs: sources, tests, scripts, the example app, build outputs of other kinds.
  const unshipped = files.filter((f) =>
    /^(lib|lambda|bin|test|scripts|bench|build|cdk\.out|dist\/jsii)\//.test(f),
  );
  expect(unshipped).toEqual([]);
  expect(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
});

test('prepack builds and then strips the scripts; postpack puts them back', () => {
  expect(manifest.scripts.prepack).toMatch(/^npm run build && .*scripts\/pack-manifest\.ts strip$/);
  expect(manifest.scripts.postpack).toMatch(/scripts\/pack-manifest\.ts restore$/);
  // A clone keeps building the handler bundles on npm ci, and the library once (a fresh clone, as npm makes to
  // install a git dependency, has neither .jsii nor dist/lib; `npm run build` and npm test rebuild them anyway).
  expect(manifest.scripts.prepare).toBe(
    'npm run build:handlers && (test -f .jsii && test -f dist/lib/index.js || npm run jsii)',
  );
  expect(packedManifest(manifest).scripts).toBeUndefined();
  expect(Object.keys(packedManifest(manifest))).toEqual(Object.keys(manifest).filter((k) => k !== 'scripts'));
});

test('npm pack ships a package.json without scripts and leaves the one on disk as it was', () => {
  builtOrExplain();
  const dir = mkdtempSync(join(tmpdir(), 'pack-'));
  try {
    // A copy of the package as built, with npm's own lifecycle: the real prepack and postpack, `build` made a
    // no-op (the copy is already built; the real build is jsii's and esbuild's, tested elsewhere).
    for (const f of ['README.md', 'LICENSE', '.jsii', 'dist/lib', 'assets', 'scripts/pack-manifest.ts'])
      cpSync(join(root, f), join(dir, f), { recursive: true });
    symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
    const copy = { ...manifest, scripts: { ...manifest.scripts, build: 'node -e 0' } };
    const text = `${JSON.stringify(copy, null, 2)}\n`;
    writeFileSync(join(dir, 'package.json'), text);
    mkdirSync(join(dir, 'out'));
    const [pack] = JSON.parse(npm(['pack', '--json', '--pack-destination', 'out'], dir));
    const packed = JSON.parse(
      execFileSync('tar', ['-xzOf', join(dir, 'out', pack.filename), 'package/package.json'], {
        encoding: 'utf8',
      }),
    );
    expect(packed.scripts).toBeUndefined();
    expect(LIFECYCLE.filter((s) => s in (packed.scripts ?? {}))).toEqual([]);
    expect(packed.name).toBe(manifest.name);
    expect(packed.bin).toEqual(manifest.bin);
    expect(readFileSync(join(dir, 'package.json'), 'utf8')).toBe(text);
    expect(existsSync(join(dir, 'build', 'package.json.prepack'))).toBe(false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('strip refuses to run over a backup an interrupted pack left; restore names what is missing', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pack-manifest-'));
  try {
    const text =
      '{\n  "name": "x",\n  "scripts": { "prepare": "tsx scripts/a.ts" },\n  "version": "1.0.0"\n}\n';
    writeFileSync(join(dir, 'package.json'), text);
    strip(dir);
    expect(JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))).toEqual({
      name: 'x',
      version: '1.0.0',
    });
    expect(() => strip(dir)).toThrow(
      /package\.json\.prepack exists: an earlier npm pack stopped before its postpack/,
    );
    restore(dir);
    expect(readFileSync(join(dir, 'package.json'), 'utf8')).toBe(text);
    expect(() => restore(dir)).toThrow(/nothing to restore: .*package\.json\.prepack does not exist/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
