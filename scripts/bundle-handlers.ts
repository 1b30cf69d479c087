/**
 * Bundles each Lambda handler at build time, so constructs load them with Code.fromAsset and a synth needs
 * neither Docker nor esbuild:
 *   lambda/<name>/index.ts     -> assets/<name>/index.js          (shipped with the package)
 *   bin/cli/index.ts           -> assets/cli/index.js             (the together-webhooks CLI, shipped)
 *   bin/handlers/<name>.ts     -> build/example-handlers/<name>/   (the example app's own handlers)
 */
import { buildSync } from 'esbuild';
import { mkdirSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export const HANDLERS = [
  'verifier',
  'registration',
  'poller',
  'training-monitor',
  'auto-deploy',
  'model-aliases',
  'batch-results',
] as const;
const root = join(__dirname, '..');

function build(
  entry: string,
  outfile: string,
  external: string[] = ['@aws-sdk/*'],
  mode = 0o644,
): { file: string; bytes: number } {
  const result = buildSync({
    entryPoints: [entry],
    outfile,
    bundle: true,
    minify: true,
    treeShaking: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    // The Lambda Node.js runtimes ship AWS SDK v3; bundling it would make the handler ~500 KB.
    external,
    legalComments: 'none',
    logLevel: 'warning',
    write: false,
  });
  // Written whole, then renamed into place: a synth or test reading the assets meanwhile never sees half a file.
  const contents = result.outputFiles[0].contents;
  mkdirSync(dirname(outfile), { recursive: true });
  const tmp = `${outfile}.${process.pid}.tmp`;
  writeFileSync(tmp, contents, { mode });
  renameSync(tmp, outfile);
  return { file: outfile, bytes: contents.length };
}

export function bundle(name: string): { file: string; bytes: number } {
  return build(join(root, 'lambda', name, 'index.ts'), join(root, 'assets', name, 'index.js'));
}

/**
 * The CLI (bin/cli) -> assets/cli/index.js, the package's `together-webhooks` bin: self-contained (the SDK
 * client it needs bundled in), but for dynalite, which only `dev` loads and which cannot be bundled.
 */
export function bundleCli(): { file: string; bytes: number } {
  return build(
    join(root, 'bin', 'cli', 'index.ts'),
    join(root, 'assets', 'cli', 'index.js'),
    ['dynalite'],
    0o755,
  );
}

export function bundleExamples(): Array<{ file: string; bytes: number }> {
  const dir = join(root, 'bin', 'handlers');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.ts'))
    .map((f) => build(join(dir, f), join(root, 'build', 'example-handlers', basename(f, '.ts'), 'index.js')));
}

if (require.main === module) {
  const started = Date.now();
  const built = [...HANDLERS.map(bundle), bundleCli(), ...bundleExamples()];
  // One line, on stderr: `npm start` keeps stdout for the events it routes. --list names every file.
  if (process.argv.includes('--list')) {
    for (const { file, bytes } of built)
      console.error(`${file.slice(root.length + 1)} ${(bytes / 1024).toFixed(1)} KB`);
  }
  console.error(`bundled ${built.length} handlers into assets/ and build/ in ${Date.now() - started} ms`);
}
