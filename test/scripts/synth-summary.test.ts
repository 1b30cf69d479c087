import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { synthSummary } from '../../scripts/synth-summary';

/** `npm run synth` stays quiet (no template on stdout) but says, in one line a stack, where each template went. */
const manifest = {
  version: '53.0.0',
  artifacts: {
    'TogetherWebhooksExample.assets': { type: 'cdk:asset-manifest', properties: { file: 'x.assets.json' } },
    TogetherWebhooksExample: {
      type: 'aws:cloudformation:stack',
      displayName: 'TogetherWebhooksExample',
      properties: { templateFile: 'TogetherWebhooksExample.template.json' },
    },
    Tree: { type: 'cdk:tree', properties: { file: 'tree.json' } },
  },
};

test('one line a stack, naming the stack and its template under the output directory', () => {
  expect(synthSummary(manifest, 'cdk.out')).toEqual([
    'synthesized TogetherWebhooksExample into cdk.out/TogetherWebhooksExample.template.json',
  ]);
});

test('an assembly with no stack, or no manifest, is an error naming what was read', () => {
  expect(() => synthSummary({ artifacts: {} }, 'cdk.out')).toThrow(
    'no stack in cdk.out/manifest.json (artifacts: none)',
  );
  const dir = mkdtempSync(join(tmpdir(), 'synth-summary-'));
  try {
    const script = join(__dirname, '..', '..', 'scripts', 'synth-summary.ts');
    const run = () =>
      execFileSync('node', ['--import', 'tsx', script, join(dir, 'out')], {
        encoding: 'utf8',
        stdio: 'pipe',
      });
    expect(run).toThrow(/synth-summary: cannot read .*out\/manifest\.json/);
    mkdirSync(join(dir, 'out'));
    writeFileSync(join(dir, 'out', 'manifest.json'), JSON.stringify(manifest));
    expect(run()).toBe(
      `synthesized TogetherWebhooksExample into ${join(dir, 'out')}/TogetherWebhooksExample.template.json\n`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('npm run synth synthesizes quietly, then prints the summary', () => {
  const scripts = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')).scripts;
  expect(scripts.synth).toMatch(/cdk synth --quiet && .*scripts\/synth-summary\.ts$/);
});
