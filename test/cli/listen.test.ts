import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, IncomingMessage, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiClock } from '../../lambda/shared/together-api';
import { secretToKey, verifySignature } from '../../lambda/verifier/signature';
import { capture } from '../support/cli';
import { FakeTogether } from '../support/fake-together';
import {
  batch,
  dedicatedEndpoint,
  evaluation,
  fineTune,
  fineTuneEvent,
  MINUTE,
  T0,
} from '../support/together-fixtures';

/** `listen`, run in-process with its output captured, against the fake Together and a local receiver. */

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
    expect(refused.c.err.at(-1)).toMatch(
      /^together-webhooks listen: Together rejected TOGETHER_API_KEY: check the key/,
    );
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
