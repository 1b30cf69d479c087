import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_API_KEY_SECRET, integApp, webhooksInteg } from './webhooks-integ-app';

// The committed snapshot of the integration test app (the cloud assembly integ-runner would keep, without the
// asset directories), and the offline comparison CI runs: no network, no AWS.

/** Where integ-runner looks for the snapshot of test/integ/integ.webhooks.ts. */
export const SNAPSHOT_DIR = join(__dirname, 'integ.webhooks.ts.snapshot');

/** How to bring the snapshot up to date after an intended change. */
export const UPDATE_COMMAND = 'npm run integ:update';

/** The assembly files kept: not asset.* (handler bundles: build outputs, 2 MB) nor timing or validation reports. */
const KEPT = /^(manifest\.json|integ\.json|tree\.json|cdk\.out|.+\.(template|assets|metadata)\.json)$/;

/** Synthesizes the integration test app as the snapshot is made (the default API key secret) into a new temp dir. */
export function synthIntegApp(options: { validate?: boolean } = {}): string {
  const outdir = mkdtempSync(join(tmpdir(), 'together-webhooks-integ-'));
  const app = integApp({ outdir, validate: options.validate });
  webhooksInteg(app, { apiKeySecretName: DEFAULT_API_KEY_SECRET });
  app.synth();
  return outdir;
}

/** The snapshot's files of an assembly, sorted. */
export function snapshotFiles(assemblyDir: string): string[] {
  return readdirSync(assemblyDir)
    .filter((f) => KEPT.test(f))
    .sort();
}

/** Replaces `snapshotDir` with the kept files of `assemblyDir`. */
export function copySnapshot(assemblyDir: string, snapshotDir = SNAPSHOT_DIR): string[] {
  rmSync(snapshotDir, { recursive: true, force: true });
  mkdirSync(snapshotDir, { recursive: true });
  const files = snapshotFiles(assemblyDir);
  for (const f of files) cpSync(join(assemblyDir, f), join(snapshotDir, f));
  return files;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function readJson(file: string): Json {
  return JSON.parse(readFileSync(file, 'utf8')) as Json;
}

function isObject(value: Json | undefined): value is { [key: string]: Json } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The asset ids (content hashes) a stack's asset manifest lists, in its order. */
function assetIds(assemblyDir: string, stack: string): string[] {
  const file = join(assemblyDir, `${stack}.assets.json`);
  if (!existsSync(file)) return [];
  const manifest = readJson(file);
  if (!isObject(manifest)) return [];
  return [manifest.files, manifest.dockerImages].flatMap((group) =>
    isObject(group) ? Object.keys(group) : [],
  );
}

/**
 * A template with what changes without the construct changing taken out, as integ-runner does: each asset hash
 * (a handler bundle rebuilt from changed code) becomes `<asset N>`, numbered in the asset manifest's order; each
 * assertion's `salt` (Date.now() at synth, so that assertions run on every deploy) becomes `<salt>`.
 */
export function canonicalTemplate(assemblyDir: string, stack: string): Json {
  let text = readFileSync(join(assemblyDir, `${stack}.template.json`), 'utf8');
  assetIds(assemblyDir, stack).forEach((id, n) => {
    text = text.split(id).join(`<asset ${n + 1}>`);
  });
  const template = JSON.parse(text) as Json;
  const resources = isObject(template) ? template.Resources : undefined;
  for (const resource of Object.values(isObject(resources) ? resources : {})) {
    const props = isObject(resource) ? resource.Properties : undefined;
    if (isObject(resource) && String(resource.Type).startsWith('Custom::DeployAssert') && isObject(props)) {
      if ('salt' in props) props.salt = '<salt>';
    }
  }
  return template;
}

function show(value: Json | undefined): string {
  if (value === undefined) return '(absent)';
  const text = JSON.stringify(value);
  return text.length > 160 ? `${text.slice(0, 157)}...` : text;
}

/** Paths where `expected` and `actual` differ, as `path: expected -> actual`; at most `limit`. */
export function differences(
  expected: Json | undefined,
  actual: Json | undefined,
  path = '',
  limit = 25,
): string[] {
  if (JSON.stringify(expected) === JSON.stringify(actual)) return [];
  const found: string[] = [];
  if (isObject(expected) && isObject(actual)) {
    const keys = [...new Set([...Object.keys(expected), ...Object.keys(actual)])].sort();
    for (const key of keys) {
      if (found.length >= limit) break;
      found.push(
        ...differences(expected[key], actual[key], path ? `${path}.${key}` : key, limit - found.length),
      );
    }
    return found;
  }
  if (Array.isArray(expected) && Array.isArray(actual) && expected.length === actual.length) {
    for (let i = 0; i < expected.length && found.length < limit; i++) {
      found.push(...differences(expected[i], actual[i], `${path}[${i}]`, limit - found.length));
    }
    return found;
  }
  return [`${path || '(root)'}: snapshot ${show(expected)} -> now ${show(actual)}`];
}

/** The stacks of an assembly, by their template files. */
function stacks(assemblyDir: string): string[] {
  return readdirSync(assemblyDir)
    .filter((f) => f.endsWith('.template.json'))
    .map((f) => f.slice(0, -'.template.json'.length))
    .sort();
}

/** The test cases integ-runner reads (integ.json without its schema versions, which follow aws-cdk-lib). */
function testCases(assemblyDir: string): Json | undefined {
  const file = join(assemblyDir, 'integ.json');
  const manifest = existsSync(file) ? readJson(file) : undefined;
  return isObject(manifest) ? manifest.testCases : undefined;
}

/**
 * What differs between the snapshot and a fresh assembly: stacks added or gone, the test cases, and each stack's
 * template (asset hashes and assertion salts aside). Empty when they agree.
 */
export function compareAssemblies(snapshotDir: string, actualDir: string): string[] {
  if (!existsSync(snapshotDir)) return [`no snapshot at ${snapshotDir}`];
  const problems = differences(testCases(snapshotDir), testCases(actualDir), 'integ.json testCases');
  const before = stacks(snapshotDir);
  const now = stacks(actualDir);
  for (const stack of before.filter((s) => !now.includes(s))) problems.push(`stack ${stack}: gone`);
  for (const stack of now.filter((s) => !before.includes(s))) problems.push(`stack ${stack}: new`);
  for (const stack of before.filter((s) => now.includes(s))) {
    const diff = differences(canonicalTemplate(snapshotDir, stack), canonicalTemplate(actualDir, stack));
    problems.push(...diff.map((d) => `${stack}.template.json ${d}`));
  }
  return problems;
}

/** The failure text: what differs, and how to accept it. */
export function staleSnapshotMessage(problems: string[]): string {
  return [
    `The integration test's snapshot (test/integ/integ.webhooks.ts.snapshot/) differs from what`,
    `test/integ/integ.webhooks.ts synthesizes now (asset hashes and assertion salts aside):`,
    ...problems.map((p) => `  ${p}`),
    `If the change is intended: ${UPDATE_COMMAND}, review the diff and commit the snapshot; run \`npm run integ\``,
    `against an AWS account when the change touches what the test deploys (README: "Integration test on AWS").`,
  ].join('\n');
}
