import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { main } from '../../bin/cli';
import { Io } from '../../bin/cli/io';
import { EVENT_TYPES } from '../../lib/events';
import { sendHttp } from '../../lambda/shared/http';
import { signatureHeaders } from '../../lambda/verifier/signature';

/**
 * `npm start` as a user runs it (a child process: build, then the local pipeline), driven with the CLI's `send`.
 * stdout carries one JSON line per routed event; stderr what a person reads.
 */

const SECRET = 'dev-test-secret';
let child: ChildProcess;
let url = '';
const stdout: string[] = [];
let stderr = '';
let exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

beforeAll(async () => {
  child = spawn('npm', ['start'], {
    cwd: join(__dirname, '..', '..'),
    env: { ...process.env, PORT: '0', TOGETHER_WEBHOOK_SECRET: SECRET, TOGETHER_API_KEY: '' },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  let partial = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop()!;
    stdout.push(...lines);
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`npm start did not come up:\n${stderr}`)), 60_000);
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+\/webhooks\/together)/.exec(stderr);
      if (m && !url && stderr.includes('Ctrl-C stops')) {
        url = m[1];
        clearTimeout(timer);
        resolve();
      }
    });
  });
}, 90_000);

afterAll(async () => {
  // Ended by a signal, npm has no exitCode (its signalCode is set): only a group still running is killed.
  if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGKILL');
});

const quiet: Io = {
  out: () => undefined,
  err: () => undefined,
  readBody: async () => Buffer.alloc(0),
  env: {},
};
const routed = () =>
  stdout
    .filter((l) => l.startsWith('{'))
    .map(
      (l) =>
        JSON.parse(l) as {
          rules: string[];
          event: { 'detail-type': string; detail: { id: string; data: Record<string, unknown> } };
        },
    );

async function post(body: string, headers: Record<string, string>) {
  return sendHttp({
    url,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
    connectTimeoutMs: 2_000,
    timeoutMs: 10_000,
    maxResponseBytes: 1 << 20,
  });
}

const waitFor = async (check: () => boolean) => {
  for (let i = 0; i < 100 && !check(); i++) await new Promise((r) => setTimeout(r, 20));
};

test('the banner names the URL, the secret and a ready-to-paste send command', () => {
  expect(stderr).toContain(`signing secret (together-hmac): ${SECRET}`);
  expect(stderr).toContain(
    `send one: npx together-webhooks send fine_tune.completed --url ${url} --secret '${SECRET}'`,
  );
  expect(stderr).toContain('poller: off (set TOGETHER_API_KEY');
});

test('each event type, sent with the CLI, is routed by its rule; alerts by theirs', async () => {
  for (const [i, type] of EVENT_TYPES.entries()) {
    expect(await main(['send', type, '--url', url, '--secret', SECRET, '--id', `evt_type_${i}`], quiet)).toBe(
      0,
    );
  }
  expect(
    await main(
      [
        'send',
        'batch.done',
        '--url',
        url,
        '--secret',
        SECRET,
        '--id',
        'evt_expired',
        '--data',
        'batch_id=b-exp',
        '--data',
        'status=EXPIRED',
      ],
      quiet,
    ),
  ).toBe(0);
  await waitFor(() => routed().length >= EVENT_TYPES.length + 1);
  const byId = Object.fromEntries(routed().map((r) => [r.event.detail.id, r]));
  expect(byId.evt_type_0).toMatchObject({
    rules: ['RouteFineTuneCompleted'],
    event: { 'detail-type': 'fine_tune.completed', source: 'together.ai' },
  });
  expect(byId.evt_type_1.rules).toEqual(['RouteFineTuneFailed', 'AlertFineTuneFailed']);
  expect(byId[`evt_type_${EVENT_TYPES.indexOf('batch.done')}`].rules).toEqual(['RouteBatchDone']);
  expect(byId.evt_expired.rules).toEqual(['RouteBatchDone', 'AlertBatchDone']);
  expect(byId.evt_expired.event.detail.data).toMatchObject({ batch_id: 'b-exp', status: 'EXPIRED' });
  expect(Object.keys(byId)).toHaveLength(EVENT_TYPES.length + 1);
});

test('a duplicate, a bad signature, a malformed body and an oversized one get the verifier answers', async () => {
  const before = routed().length;
  const out: string[] = [];
  const io: Io = { ...quiet, out: (l) => out.push(l) };
  expect(
    await main(
      [
        'send',
        'fine_tune.cancelled',
        '--url',
        url,
        '--secret',
        SECRET,
        '--id',
        'evt_dup',
        '--data',
        'fine_tune_id=ft-dup',
        '--repeat',
        '2',
      ],
      io,
    ),
  ).toBe(0);
  expect(out[1]).toMatch(/^200 .*"duplicate":true/);
  expect(await main(['send', 'fine_tune.cancelled', '--url', url, '--secret', 'not-the-secret'], io)).toBe(1);
  expect(out[2]).toBe('401 {"error":"signature does not match"}');
  const malformed = '{"id":"evt_bad","type":';
  expect((await post(malformed, signatureHeaders('together-hmac', SECRET, malformed))).status).toBe(400);
  const huge = JSON.stringify({ id: 'evt_big', type: 'batch.done', data: { pad: 'x'.repeat(300_000) } });
  expect((await post(huge, signatureHeaders('together-hmac', SECRET, huge))).status).toBe(413);
  await waitFor(() => routed().length > before);
  expect(
    routed()
      .slice(before)
      .map((r) => r.event.detail.id),
  ).toEqual(['evt_dup']);
});

test('Ctrl-C stops it cleanly with a one-line summary', async () => {
  // As a terminal does: SIGINT to the whole foreground group (npm, its shell, the dev process).
  process.kill(-child.pid!, 'SIGINT');
  const { code, signal } = await exited;
  // npm itself ends with the signal or 0; the dev process must have finished its summary first.
  expect(code === 0 || signal === 'SIGINT' || code === 130).toBe(true);
  await waitFor(() => stderr.includes('stopped:'));
  expect(stderr).toMatch(
    /stopped: \d+ requests, \d+ published, 1 duplicates, 3 rejected, 0 failed; \d+ events on the local bus/,
  );
}, 30_000);
