import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, IncomingMessage, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../bin/cli';
import { Io } from '../bin/cli/io';
import { ApiClock } from '../lambda/shared/together-api';
import { secretToKey, verifySignature } from '../lambda/verifier/signature';
import { FakeTogether } from './support/fake-together';
import {
  batch,
  dedicatedEndpoint,
  evaluation,
  fineTune,
  fineTuneEvent,
  MINUTE,
  T0,
} from './support/together-fixtures';

/** The together-webhooks CLI, run in-process with its output captured. */

function capture(env: NodeJS.ProcessEnv = {}, stdin = '', clock?: ApiClock) {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = {
    out: (line) => out.push(line),
    err: (line) => err.push(line),
    readBody: async () => Buffer.from(stdin),
    env,
    clock,
  };
  return { io, out, err, run: (...argv: string[]) => main(argv, io) };
}

describe('help and usage errors', () => {
  test('no command: the list of commands, exit 2; --help: the same, exit 0; each command has its own', async () => {
    const c = capture();
    expect(await c.run()).toBe(2);
    expect(c.out.join('\n')).toMatch(/dev .*\n\s+send .*\n\s+sign .*\n\s+verify .*\n\s+listen /);
    expect(await c.run('--help')).toBe(0);
    for (const command of ['dev', 'send', 'sign', 'verify', 'listen']) {
      const h = capture();
      expect(await h.run(command, '--help')).toBe(0);
      expect(h.out.join('\n')).toContain(`together-webhooks ${command}`);
    }
  });

  test.each([
    [['nope'], /unknown command "nope"/],
    [
      ['send', 'fine_tune.complete', '--url', 'http://127.0.0.1:1/', '--secret', 's'],
      /unknown event type "fine_tune.complete"; one of: fine_tune.completed, /,
    ],
    [['send', 'batch.done', '--secret', 's'], /--url is required: where to POST/],
    [
      ['send', 'batch.done', '--url', 'http://127.0.0.1:1/'],
      /--secret is required \(or TOGETHER_WEBHOOK_SECRET\)/,
    ],
    [
      ['send', 'batch.done', '--url', 'http://example.com/hook', '--secret', 's'],
      /--url must be https \(http only for 127\.0\.0\.1 or localhost\)/,
    ],
    [
      ['send', 'batch.done', '--url', 'http://127.0.0.1:1/', '--secret', 's', '--repeat', '0'],
      /--repeat must be a whole number from 1 to 1000, got "0"/,
    ],
    [
      ['send', 'batch.done', '--url', 'http://127.0.0.1:1/', '--secret', 's', '--data', 'oops'],
      /--data must be key=value, got "oops"/,
    ],
    [
      ['sign', '--secret', 's', '--scheme', 'md5'],
      /--scheme must be together-hmac or standard-webhooks, got "md5"/,
    ],
    [['sign', '--bogus'], /unknown option --bogus/],
    [['listen'], /TOGETHER_API_KEY is not set: export your Together API key/],
  ])('%j exits 2 and names the fix', async (argv, message) => {
    const c = capture();
    expect(await c.run(...argv)).toBe(2);
    expect(c.err.join('\n')).toMatch(message);
  });

  test('an unreachable --url exits 1 and asks whether the receiver runs', async () => {
    const c = capture();
    expect(await c.run('send', 'batch.done', '--url', 'http://127.0.0.1:9/hook', '--secret', 's')).toBe(1);
    expect(c.err.join('\n')).toMatch(
      /could not reach http:\/\/127\.0\.0\.1:9\/hook: ECONNREFUSED\. Is the receiver running/,
    );
  });
});

describe('sign and verify', () => {
  const body = '{"id":"evt_1","type":"batch.done","data":{"batch_id":"b-1"}}';

  test('together-hmac: sign prints the header; verify says valid, and invalid for another body', async () => {
    const s = capture({}, body);
    expect(await s.run('sign', '--secret', 'sekret')).toBe(0);
    const [header] = s.out;
    expect(header).toMatch(/^x-together-signature: [0-9a-f]{64}$/);
    const signature = header.split(': ')[1];
    const v = capture({}, body);
    expect(await v.run('verify', '--secret', 'sekret', '--signature', signature)).toBe(0);
    expect(v.out).toEqual(['valid']);
    const bad = capture({}, body + ' ');
    expect(await bad.run('verify', '--secret', 'sekret', '--signature', signature)).toBe(1);
    expect(bad.out).toEqual(['invalid: signature does not match']);
  });

  test('standard-webhooks: id, timestamp and signature, checked by verify', async () => {
    const secret = 'whsec_' + Buffer.from('0123456789abcdef0123456789abcdef').toString('base64');
    const now = String(Math.floor(Date.now() / 1000));
    const s = capture({}, body);
    expect(
      await s.run(
        'sign',
        '--scheme',
        'standard-webhooks',
        '--secret',
        secret,
        '--id',
        'msg_1',
        '--timestamp',
        now,
      ),
    ).toBe(0);
    expect(s.out).toEqual([
      'webhook-id: msg_1',
      `webhook-timestamp: ${now}`,
      expect.stringMatching(/^webhook-signature: v1,/),
    ]);
    const v = capture({}, body);
    const signature = s.out[2].split(': ')[1];
    expect(
      await v.run(
        'verify',
        '--scheme',
        'standard-webhooks',
        '--secret',
        secret,
        '--signature',
        signature,
        '--id',
        'msg_1',
        '--timestamp',
        now,
      ),
    ).toBe(0);
  });
});

describe('listen: Together polled here, outcomes forwarded as signed webhooks', () => {
  const together = new FakeTogether();
  let receiver: Server;
  let receiverUrl: string;
  const received: Array<{ headers: IncomingMessage['headers']; body: string }> = [];
  let answer = 200;
  let dir: string;
  // The fixtures' clock drives listen too: jobs dated from T0 (and the fixtures' fixed fields) agree with it on any day.
  const clock: ApiClock & { t: number } = {
    t: T0,
    now: () => clock.t,
    sleep: async (ms) => void (clock.t += ms),
    random: () => 0.5,
  };

  beforeAll(async () => {
    await together.start();
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ headers: req.headers, body: Buffer.concat(chunks).toString() });
        res.writeHead(answer, { 'content-type': 'application/json' });
        res.end(answer === 200 ? '{"received":true}' : '{"error":"busy"}');
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/webhooks/together`;
  });
  afterAll(async () => {
    receiver.closeAllConnections();
    await new Promise((resolve) => receiver.close(resolve));
    await together.stop();
  });
  beforeEach(() => {
    together.reset();
    received.length = 0;
    answer = 200;
    clock.t = T0;
    together.now = clock.now;
    dir = mkdtempSync(join(tmpdir(), 'listen-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const listenOnce = (env: NodeJS.ProcessEnv = { TOGETHER_API_KEY: together.apiKey }) => {
    const c = capture(env, '', clock);
    const run = c.run(
      'listen',
      '--once',
      '--api-base-url',
      together.baseUrl,
      '--forward-to',
      receiverUrl,
      '--secret',
      'fwd-secret',
      '--state',
      join(dir, 'state.json'),
    );
    return { c, run };
  };

  test('every outcome is forwarded once, signed; a restart forwards nothing twice; new ones still go', async () => {
    const now = clock.now();
    together.jobs.fineTunes = [
      fineTune('ft-a', 'completed', now - MINUTE),
      fineTune('ft-r', 'running', now - MINUTE),
    ];
    together.jobs.events.set('ft-r', [fineTuneEvent('checkpoint_save', now - MINUTE, { step: 7 })]);
    together.jobs.batches = [
      batch('0b7c3a52-1d2e-4f60-8a9b-0c1d2e3f4a5b', 'COMPLETED', {
        completedAt: now - MINUTE,
        output: 'f-1',
      }),
    ];
    const first = listenOnce();
    expect(await first.run).toBe(0);
    const ids = received.map((r) => JSON.parse(r.body).id as string);
    expect(ids.sort()).toEqual([
      'batch.done:0b7c3a52-1d2e-4f60-8a9b-0c1d2e3f4a5b',
      'fine_tune.checkpoint:ft-r:7',
      'fine_tune.completed:ft-a',
    ]);
    for (const r of received) {
      const check = verifySignature(
        'together-hmac',
        r.headers as Record<string, string>,
        r.body,
        [secretToKey('together-hmac', 'fwd-secret')],
        clock.now(),
      );
      expect(check).toEqual({ ok: true });
    }
    expect(first.c.err.join('\n')).toMatch(/poll completed; 2 fine-tunes, 1 batches; 3 forwarded/);

    // A restart a minute later (a new process reading the same state file): nothing again; a new outcome goes.
    clock.t += MINUTE;
    together.jobs.fineTunes.push(fineTune('ft-b', 'cancelled', now + 30_000));
    const second = listenOnce();
    expect(await second.run).toBe(0);
    expect(received.map((r) => JSON.parse(r.body).id).slice(3)).toEqual(['fine_tune.cancelled:ft-b']);
  });

  test('a receiver that refuses keeps the outcome for the next run', async () => {
    together.jobs.fineTunes = [fineTune('ft-a', 'completed', clock.now() - MINUTE)];
    answer = 503;
    const first = listenOnce();
    expect(await first.run).toBe(0);
    expect(first.c.err.join('\n')).toMatch(/answered 503/);
    answer = 200;
    expect(await listenOnce().run).toBe(0);
    expect(received.map((r) => JSON.parse(r.body).id)).toEqual([
      'fine_tune.completed:ft-a',
      'fine_tune.completed:ft-a',
    ]);
    expect(await listenOnce().run).toBe(0);
    expect(received).toHaveLength(2);
  });

  test('a key Together refuses exits 1 with the fix; --forward-to without a secret exits 2', async () => {
    const refused = listenOnce({ TOGETHER_API_KEY: 'tgp_wrong' });
    expect(await refused.run).toBe(1);
    expect(refused.c.err.join('\n')).toMatch(/Together rejected TOGETHER_API_KEY: check the key/);
    const c = capture({ TOGETHER_API_KEY: 'k' }, '', clock);
    expect(await c.run('listen', '--forward-to', receiverUrl, '--api-base-url', together.baseUrl)).toBe(2);
    expect(c.err.join('\n')).toMatch(/--secret is required with --forward-to/);
  });

  test('--evaluations follows evaluation jobs too; without it, /evaluation is never asked', async () => {
    const now = clock.now();
    together.jobs.evaluations = [evaluation('eval-x', 'error', now - MINUTE, { message: 'bad input file' })];
    const c = capture({ TOGETHER_API_KEY: together.apiKey }, '', clock);
    const argv = ['listen', '--once', '--api-base-url', together.baseUrl, '--state', join(dir, 's.json')];
    expect(await c.run(...argv)).toBe(0);
    expect(c.out).toEqual([]);
    expect(together.requests.some((r) => r.path.startsWith('/v1/evaluation'))).toBe(false);
    expect(await c.run(...argv, '--evaluations')).toBe(0);
    expect(c.out.map((l) => JSON.parse(l))).toEqual([
      expect.objectContaining({
        id: 'evaluation.failed:eval-x',
        data: { workflow_id: 'eval-x', status: 'error', error_message: 'bad input file' },
      }),
    ]);
    expect(c.err.join('\n')).toMatch(/1 evaluations/);
  });

  test('--endpoints follows dedicated endpoints to endpoint.ready; without it, /endpoints is never asked', async () => {
    const now = clock.now();
    together.jobs.endpoints = [dedicatedEndpoint('endpoint-cli', 'PENDING', now - MINUTE)];
    const c = capture({ TOGETHER_API_KEY: together.apiKey }, '', clock);
    const argv = ['listen', '--once', '--api-base-url', together.baseUrl, '--state', join(dir, 's.json')];
    expect(await c.run(...argv)).toBe(0);
    expect(together.requests.some((r) => r.path.startsWith('/v1/endpoints'))).toBe(false);
    expect(await c.run(...argv, '--endpoints')).toBe(0);
    expect(c.out).toEqual([]);
    together.jobs.endpoints[0].state = 'STARTED';
    expect(await c.run(...argv, '--endpoints')).toBe(0);
    expect(c.out.map((l) => JSON.parse(l))).toEqual([
      expect.objectContaining({
        type: 'endpoint.ready',
        data: expect.objectContaining({ endpoint_id: 'endpoint-cli' }),
      }),
    ]);
    expect(c.err.join('\n')).toMatch(/1 endpoints/);
  });

  test('without --forward-to, each outcome is one JSON line on stdout', async () => {
    together.jobs.fineTunes = [fineTune('ft-p', 'error', clock.now() - MINUTE)];
    const c = capture({ TOGETHER_API_KEY: together.apiKey }, '', clock);
    expect(
      await c.run('listen', '--once', '--api-base-url', together.baseUrl, '--state', join(dir, 's.json')),
    ).toBe(0);
    expect(c.out.map((l) => JSON.parse(l))).toEqual([
      expect.objectContaining({ id: 'fine_tune.failed:ft-p', type: 'fine_tune.failed' }),
    ]);
  });
});
