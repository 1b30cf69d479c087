/**
 * Bundles each Lambda handler at build time, so constructs load them with Code.fromAsset and a synth needs
 * neither Docker nor esbuild:
 *   lambda/<name>/index.ts     -> assets/<name>/index.js          (shipped with the package)
 *   bin/cli/index.ts           -> assets/cli/index.js             (the together-webhooks CLI, shipped)
 *   bin/handlers/<name>.ts     -> build/example-handlers/<name>/   (the example app's own handlers)
 */
import { build as buildAsync, BuildOptions, buildSync } from 'esbuild';
import { mkdirSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { dynaliteInBundle } from '../bin/cli/bundle';

export const HANDLERS = [
  'verifier',
  'registration',
  'poller',
  'training-monitor',
  'auto-deploy',
  'fine-tune-retry',
  'model-aliases',
  'batch-results',
] as const;
const root = join(__dirname, '..');

function options(entry: string, outfile: string, external: string[]): BuildOptions & { write: false } {
  return {
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
  };
}

/** Written whole, then renamed into place: a synth or test reading the assets meanwhile never sees half a file. */
function place(outfile: string, contents: Uint8Array, mode: number): { file: string; bytes: number } {
  mkdirSync(dirname(outfile), { recursive: true });
  const tmp = `${outfile}.${process.pid}.tmp`;
  writeFileSync(tmp, contents, { mode });
  renameSync(tmp, outfile);
  return { file: outfile, bytes: contents.length };
}

function build(
  entry: string,
  outfile: string,
  external: string[] = ['@aws-sdk/*'],
): { file: string; bytes: number } {
  return place(outfile, buildSync(options(entry, outfile, external)).outputFiles[0].contents, 0o644);
}

export function bundle(name: string): { file: string; bytes: number } {
  return build(join(root, 'lambda', name, 'index.ts'), join(root, 'assets', name, 'index.js'));
}

/**
 * The CLI (bin/cli) -> assets/cli/index.js, the package's `together-webhooks` bin: self-contained, the SDK client
 * and dynalite (`dev`'s table) bundled in, so `npx together-webhooks dev` needs nothing installed beside it.
 * Async: dynalite bundles through an esbuild plugin (bin/cli/bundle.ts), which the sync API does not run.
 */
export async function bundleCli(): Promise<{ file: string; bytes: number }> {
  const outfile = join(root, 'assets', 'cli', 'index.js');
  const result = await buildAsync({
    ...options(join(root, 'bin', 'cli', 'index.ts'), outfile, []),
    plugins: [dynaliteInBundle],
  });
  return place(outfile, result.outputFiles[0].contents, 0o755);
}

export function bundleExamples(): Array<{ file: string; bytes: number }> {
  const dir = join(root, 'bin', 'handlers');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.ts'))
    .map((f) => build(join(dir, f), join(root, 'build', 'example-handlers', basename(f, '.ts'), 'index.js')));
}

async function main(): Promise<void> {
  const started = Date.now();
  const built = [...HANDLERS.map(bundle), await bundleCli(), ...bundleExamples()];
  // One line, on stderr: `npm start` keeps stdout for the events it routes. --list names every file.
  if (process.argv.includes('--list')) {
    for (const { file, bytes } of built)
      console.error(`${file.slice(root.length + 1)} ${(bytes / 1024).toFixed(1)} KB`);
  }
  console.error(`bundled ${built.length} handlers into assets/ and build/ in ${Date.now() - started} ms`);
}

if (require.main === module)
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
