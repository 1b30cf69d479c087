/**
 * The package.json a consumer installs carries no `scripts`: every script here runs files the package does not ship
 * (scripts/, lambda/, bin/, tsconfig), and npm warns about (or runs) a packed `prepare`. `npm pack` (and so
 * `npm publish` and jsii-pacmak) runs `prepack`, which builds and then calls `strip`; `postpack` calls `restore`.
 *   strip:   package.json -> build/package.json.prepack (kept whole), package.json rewritten without `scripts`
 *   restore: build/package.json.prepack -> package.json
 * A clone keeps its scripts: `npm ci` still runs `prepare` (the handler bundles), `npm start` and `npm run synth`
 * work as before.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The manifest as packed: the same fields in the same order, without `scripts`. */
export function packedManifest(manifest: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(manifest).filter(([key]) => key !== 'scripts'));
}

export function backupFile(root: string): string {
  return join(root, 'build', 'package.json.prepack');
}

export function strip(root: string): void {
  const file = join(root, 'package.json');
  const backup = backupFile(root);
  if (existsSync(backup)) {
    throw new Error(
      `${backup} exists: an earlier npm pack stopped before its postpack. ` +
        'Check it is the package.json you want, then run: node --import tsx scripts/pack-manifest.ts restore',
    );
  }
  const text = readFileSync(file, 'utf8');
  mkdirSync(dirname(backup), { recursive: true });
  writeFileSync(backup, text);
  writeFileSync(file, `${JSON.stringify(packedManifest(JSON.parse(text)), null, 2)}\n`);
}

export function restore(root: string): void {
  const backup = backupFile(root);
  if (!existsSync(backup)) throw new Error(`nothing to restore: ${backup} does not exist`);
  renameSync(backup, join(root, 'package.json'));
}

if (require.main === module) {
  const root = join(__dirname, '..');
  const command = process.argv[2];
  try {
    if (command === 'strip') strip(root);
    else if (command === 'restore') restore(root);
    else throw new Error(`usage: pack-manifest.ts strip|restore (received ${JSON.stringify(command)})`);
  } catch (error) {
    console.error(`pack-manifest: ${(error as Error).message}`);
    process.exit(1);
  }
}
