import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  compareAssemblies,
  SNAPSHOT_DIR,
  snapshotFiles,
  staleSnapshotMessage,
  synthIntegApp,
  UPDATE_COMMAND,
} from './snapshot';

// The integration test's committed snapshot, checked offline: the integ app (test/integ/integ.webhooks.ts) is
// synthesized here, with no AWS and no network, and compared with test/integ/integ.webhooks.ts.snapshot/. A change
// to what the construct deploys fails this test until the snapshot is updated (`npm run integ:update`).

const STACK = 'TogetherWebhooksInteg';
let actual: string;
const scratch: string[] = [];

beforeAll(() => {
  // The template checker only reports; the snapshot is the same without it (and 18 s faster).
  actual = synthIntegApp({ validate: false });
});

afterAll(() => {
  for (const dir of [actual, ...scratch]) if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A copy of the fresh assembly with `edit` applied to the text of one of its files. */
function edited(file: string, edit: (text: string) => string): string {
  const dir = mkdtempSync(join(tmpdir(), 'together-webhooks-integ-edit-'));
  scratch.push(dir);
  cpSync(actual, dir, { recursive: true });
  writeFileSync(join(dir, file), edit(readFileSync(join(dir, file), 'utf8')));
  return dir;
}

test('the committed snapshot is what the integration test app synthesizes now', () => {
  const problems = compareAssemblies(SNAPSHOT_DIR, actual);
  if (problems.length > 0) throw new Error(staleSnapshotMessage(problems));
  expect(snapshotFiles(SNAPSHOT_DIR)).toEqual(snapshotFiles(actual));
});

test('a change to what the construct deploys is a difference, named by its path', () => {
  const template = JSON.parse(readFileSync(join(actual, `${STACK}.template.json`), 'utf8'));
  const verifier = Object.keys(template.Resources).find(
    (id) => id.startsWith('HooksVerifier') && template.Resources[id].Type === 'AWS::Lambda::Function',
  );
  const memory: number = template.Resources[verifier!].Properties.MemorySize;
  expect(memory).toBeGreaterThanOrEqual(128);
  const changed = edited(`${STACK}.template.json`, (text) => {
    const t = JSON.parse(text);
    t.Resources[verifier!].Properties.MemorySize = memory * 2;
    return JSON.stringify(t);
  });
  expect(compareAssemblies(actual, changed)).toEqual([
    `${STACK}.template.json Resources.${verifier}.Properties.MemorySize: snapshot ${memory} -> now ${memory * 2}`,
  ]);
  expect(staleSnapshotMessage(compareAssemblies(actual, changed))).toContain(UPDATE_COMMAND);
});

test('a rebuilt handler bundle (a new asset hash) is not a difference', () => {
  const manifest = JSON.parse(readFileSync(join(actual, `${STACK}.assets.json`), 'utf8'));
  const [bundle] = Object.keys(manifest.files);
  const rebuilt = 'f'.repeat(64);
  const dir = edited(`${STACK}.template.json`, (text) => text.split(bundle).join(rebuilt));
  writeFileSync(
    join(dir, `${STACK}.assets.json`),
    readFileSync(join(dir, `${STACK}.assets.json`), 'utf8')
      .split(bundle)
      .join(rebuilt),
  );
  expect(readFileSync(join(dir, `${STACK}.template.json`), 'utf8')).toContain(rebuilt);
  expect(compareAssemblies(actual, dir)).toEqual([]);
});

test('an assertion that changes is a difference; its salt (the synth time) is not', () => {
  const asserts = snapshotFiles(actual).find((f) => /^\w+DeployAssert\w+\.template\.json$/.test(f))!;
  const resalted = edited(asserts, (text) => text.replace(/"salt": ?"\d+"/g, '"salt":"1"'));
  expect(readFileSync(join(resalted, asserts), 'utf8')).toContain('"salt":"1"');
  expect(compareAssemblies(actual, resalted)).toEqual([]);
  const loosened = edited(asserts, (text) =>
    text.split('\\"outcome\\":\\"completed\\"').join('\\"outcome\\":\\"x\\"'),
  );
  expect(compareAssemblies(actual, loosened)).toEqual([
    expect.stringMatching(
      /^TogetherWebhooksIntegTestDefaultTestDeployAssert\w+\.template\.json Resources\.\w+/,
    ),
  ]);
});
