import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../bin/cli';
import { Io } from '../../bin/cli/io';

/**
 * The CLI as a consumer project gets it: the bundle (assets/cli/index.js, built by `npm run build:handlers`)
 * copied into a package folder with no node_modules anywhere above it. `dev` must run from it alone (dynalite is
 * bundled in), and `--version` must print the version of the package.json beside it.
 */

const ROOT = join(__dirname, '..', '..');
const BUNDLE = join(ROOT, 'assets', 'cli', 'index.js');
const SECRET = 'bundle-test-secret';
let pkg: string;
let cli: string;

beforeAll(() => {
  if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run npm run build:handlers first`);
  pkg = join(mkdtempSync(join(tmpdir(), 'tw-bundle-')), 'together-webhooks');
  mkdirSync(join(pkg, 'assets', 'cli'), { recursive: true });
  cli = join(pkg, 'assets', 'cli', 'index.js');
  copyFileSync(BUNDLE, cli);
  writeFileSync(
    join(pkg, 'package.json'),
    JSON.stringify({ name: 'together-webhooks', version: '7.6.5-bundle' }),
  );
});

afterAll(() => rmSync(join(pkg, '..'), { recursive: true, force: true }));

test('nothing beside the copied bundle can lend it dynalite', () => {
  // Node's own resolution from the bundle's folder, not jest's.
  const probe = `require.resolve('dynalite', { paths: [${JSON.stringify(join(pkg, 'assets', 'cli'))}] })`;
  expect(() => execFileSync(process.execPath, ['-e', probe], { cwd: pkg, stdio: 'pipe' })).toThrow(
    /Cannot find module 'dynalite'/,
  );
});

test('--version prints the version of the package.json two folders up, in the repository and in the copy', () => {
  const ours = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  expect(execFileSync(process.execPath, [BUNDLE, '--version'], { encoding: 'utf8' })).toBe(`${ours}\n`);
  expect(execFileSync(process.execPath, [cli, '-v'], { encoding: 'utf8' })).toBe('7.6.5-bundle\n');
});

describe('dev from the copied bundle alone', () => {
  let child: ChildProcess;
  let stderr = '';
  const stdout: string[] = [];
  let exited: Promise<number | null>;

  afterAll(() => {
    if (child?.exitCode === null) child.kill('SIGKILL');
  });

  test('starts, routes a sent event once (the second is a duplicate), and stops on SIGINT with a summary', async () => {
    child = spawn(process.execPath, [cli, 'dev', '--port', '0'], {
      cwd: pkg,
      env: { PATH: process.env.PATH, TOGETHER_WEBHOOK_SECRET: SECRET, AWS_EC2_METADATA_DISABLED: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
    child.stdout!.on('data', (chunk: Buffer) => stdout.push(...chunk.toString().split('\n').filter(Boolean)));
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`dev did not come up:\n${stderr}`)), 20_000);
      child.stderr!.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        const m = /listening on (http:\/\/127\.0\.0\.1:\d+\/webhooks\/together)/.exec(stderr);
        if (m && stderr.includes('Ctrl-C stops')) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
      child.on('exit', () => reject(new Error(`dev exited:\n${stderr}`)));
    });
    const answers: string[] = [];
    const io: Io = {
      out: (l) => answers.push(l),
      err: (l) => answers.push(l),
      readBody: async () => Buffer.alloc(0),
      env: {},
    };
    expect(
      await main(
        ['send', 'batch.done', '--url', url, '--secret', SECRET, '--id', 'evt_b1', '--repeat', '2'],
        io,
      ),
    ).toBe(0);
    expect(answers).toEqual([
      '200 {"received":true,"id":"evt_b1"}',
      '200 {"received":true,"id":"evt_b1","duplicate":true}',
    ]);
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    const routed = stdout.map(
      (line) => JSON.parse(line) as { rules: string[]; event: { 'detail-type': string } },
    );
    expect(routed.map((r) => r.event['detail-type'])).toEqual(['batch.done']);
    expect(stderr).toMatch(/stopped: 2 requests, 1 published, 1 duplicates, 0 rejected, 0 failed/);
  }, 40_000);
});
