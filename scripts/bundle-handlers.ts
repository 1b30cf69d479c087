/**
 * Bundles each Lambda handler into assets/<name>/index.js at package build time, so the construct loads them
 * with Code.fromAsset and a consumer's synth needs neither Docker nor esbuild.
 */
import { buildSync } from 'esbuild';
import { statSync } from 'node:fs';
import { join } from 'node:path';

export const HANDLERS = ['verifier'] as const;
const root = join(__dirname, '..');

export function bundle(name: string): { file: string; bytes: number } {
  const file = join(root, 'assets', name, 'index.js');
  buildSync({
    entryPoints: [join(root, 'lambda', name, 'index.ts')],
    outfile: file,
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
  return { file, bytes: statSync(file).size };
}

if (require.main === module) {
  for (const name of HANDLERS) {
    const { bytes } = bundle(name);
    console.log(`assets/${name}/index.js ${(bytes / 1024).toFixed(1)} KB`);
  }
}
