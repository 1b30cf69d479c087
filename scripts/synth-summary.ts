/**
 * After `cdk synth --quiet` (which prints nothing, so the template stays off the terminal): one line a stack saying
 * where its template went, read from the cloud assembly's manifest. `npm run synth` runs it.
 *   node --import tsx scripts/synth-summary.ts [assembly directory, default cdk.out]
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

interface Artifact {
  readonly type?: string;
  readonly displayName?: string;
  readonly properties?: { readonly templateFile?: string; readonly [other: string]: unknown };
}

export function synthSummary(manifest: { artifacts?: Record<string, Artifact> }, dir: string): string[] {
  const artifacts = Object.entries(manifest.artifacts ?? {});
  const stacks = artifacts.filter(
    ([, a]) => a.type === 'aws:cloudformation:stack' && a.properties?.templateFile,
  );
  if (stacks.length === 0) {
    const kinds = artifacts.map(([id, a]) => `${id} (${a.type})`).join(', ') || 'none';
    throw new Error(`no stack in ${dir}/manifest.json (artifacts: ${kinds})`);
  }
  return stacks.map(
    ([id, a]) => `synthesized ${a.displayName ?? id} into ${dir}/${a.properties!.templateFile}`,
  );
}

if (require.main === module) {
  const dir = process.argv[2] ?? 'cdk.out';
  try {
    let manifest;
    try {
      manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    } catch (error) {
      throw new Error(`cannot read ${join(dir, 'manifest.json')}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    for (const line of synthSummary(manifest, dir)) console.log(line);
  } catch (error) {
    console.error(`synth-summary: ${(error as Error).message}`);
    process.exit(1);
  }
}
