import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import * as prettier from 'prettier';
import { compareAssemblies, copySnapshot, SNAPSHOT_DIR, synthIntegApp } from './snapshot';

// `npm run integ:update`: synthesizes test/integ/integ.webhooks.ts offline (no AWS, no network) and writes its
// snapshot, formatted as the repository's prettier config says (so `npm run lint` passes). Review, then commit.

async function main(): Promise<void> {
  const started = Date.now();
  const assembly = synthIntegApp();
  try {
    const changes = compareAssemblies(SNAPSHOT_DIR, assembly);
    const files = copySnapshot(assembly);
    for (const f of files.filter((name) => name.endsWith('.json'))) {
      const file = join(SNAPSHOT_DIR, f);
      const options = (await prettier.resolveConfig(file)) ?? {};
      writeFileSync(file, await prettier.format(readFileSync(file, 'utf8'), { ...options, filepath: file }));
    }
    const where = relative(process.cwd(), SNAPSHOT_DIR);
    console.log(`wrote ${files.length} files to ${where}/ in ${Date.now() - started} ms`);
    console.log(changes.length === 0 ? 'no change to the templates' : `changes:\n  ${changes.join('\n  ')}`);
  } finally {
    rmSync(assembly, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(`integ:update: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
