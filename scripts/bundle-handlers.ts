/**
 * Bundles each Lambda handler at build time, so constructs load them with Code.fromAsset and a synth needs
 * neither Docker nor esbuild:
 *   lambda/<name>/index.ts     -> assets/<name>/index.js          (shipped with the package)
 *   bin/handlers/<name>.ts     -> build/example-handlers/<name>/   (the example app's own handlers)
 */
import { buildSync } from 'esbuild';
import { readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';

export const HANDLERS = ['verifier', 'registration', 'poller'] as const;
const root = join(__dirname, '..');

function build(entry: string, outfile: string): { file: string; bytes: number } {
  buildSync({
    entryPoints: [entry],
    outfile,
    bundle: true,
    minify: true,
    treeShaking: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    // The Lambda Node.js runtimes ship AWS SDK v3; bundling it would make the handler ~500 KB.
    external: ['@aws-sdk/*'],
    legalComments: 'none',
    logLevel: 'warning',
  });
  return { file: outfile, bytes: statSync(outfile).size };
}

export function bundle(name: string): { file: string; bytes: number } {
  return build(join(root, 'lambda', name, 'index.ts'), join(root, 'assets', name, 'index.js'));
}

export function bundleExamples(): Array<{ file: string; bytes: number }> {
  const dir = join(root, 'bin', 'handlers');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.ts'))
    .map((f) => build(join(dir, f), join(root, 'build', 'example-handlers', basename(f, '.ts'), 'index.js')));
}

if (require.main === module) {
  for (const { file, bytes } of [...HANDLERS.map(bundle), ...bundleExamples()]) {
    console.log(`${file.slice(root.length + 1)} ${(bytes / 1024).toFixed(1)} KB`);
  }
}
