import { PublishCommand } from '@aws-sdk/client-sns';
import { DynamoPollerStateStore, PollerStateStore } from '../../../lambda/poller/state';
import { handleWebhook } from '../../../lambda/verifier/core';
import { TOGETHER_ERROR } from '../../support/fake-together';
import { answerErrors, describedPath, responseErrors } from '../../support/openapi';
import { pollerHarness, TOPIC } from '../../support/poller-harness';
import { envelope, signedRequest } from '../../support/signing';
import {
  batch,
  fineTune,
  fineTuneEvent,
  HOUR,
  iso,
  MINUTE,
  model,
  T0,
} from '../../support/together-fixtures';
import { harness } from '../../support/verifier-harness';

const B1 = '0b7c3a52-1d2e-4f60-8a9b-0c1d2e3f4a5b';
const B2 = '1c8d4b63-2e3f-4071-9bac-1d2e3f4a5b6c';

const h = pollerHarness();
const { together, bus, sns, clock, logs } = h;
const deps = h.deps;
const runPoll = (d = deps()) => h.runPoll(d);
const published = h.published;
const keys = h.keys;
const sorted = (list: string[]) => [...list].sort();

describe('a scripted day of jobs, over several polls', () => {
  test('every outcome is published exactly once, with the catalogue fields', async () => {
    const jobs = together.jobs;
    // Poll 1: one job training, one finished half an hour ago (inside the first-run lookback), one long ago.
    jobs.fineTunes = [
      fineTune('ft-old', 'completed', T0 - 3 * HOUR),
      fineTune('ft-recent', 'completed', T0 - 30 * MINUTE),
      fineTune('ft-1', 'running', T0 - 10 * MINUTE),
    ];
    jobs.events.set('ft-1', [
      fineTuneEvent('job_start', T0 - 20 * MINUTE),
      fineTuneEvent('checkpoint_save', T0 - 5 * MINUTE, { step: 40 }),
    ]);
    jobs.metrics.set('ft-1', [{ 'train/loss': 1.25, 'train/global_step': 40 }]);
    jobs.batches = [batch(B1, 'IN_PROGRESS')];
    jobs.models = [model('meta-llama/Llama-2-70b-chat-hf'), model('Qwen/Qwen3.5-9B')];
    const first = await runPoll();
    expect(first).toMatchObject({
      outcome: 'completed',
      checked: { fineTunes: 3, batches: 1, models: 2 },
      published: 2,
    });
    // Jobs are taken oldest change first.
    expect(keys()).toEqual(['fine_tune.completed:ft-recent', 'fine_tune.checkpoint:ft-1:40']);
    expect(published()[1].detail.data).toEqual({ fine_tune_id: 'ft-1', step: 40, loss: 1.25 });

    // Poll 2: a new checkpoint, a failure, a cancellation, a batch done and one expired.
    clock.t = T0 + MINUTE;
    jobs.fineTunes.push(fineTune('ft-2', 'error', T0 + 30_000), fineTune('ft-3', 'cancelled', T0 + 40_000));
    jobs.events.get('ft-1')!.push(fineTuneEvent('checkpoint_save', T0 + 20_000, { step: 80 }));
    jobs.metrics.get('ft-1')!.push({ 'train/loss': 0.9, 'train/global_step': 80 });
    jobs.events.set('ft-2', [
      fineTuneEvent('job_start', T0 - 5 * MINUTE),
      fineTuneEvent('job_error', T0 + 30_000, {
        level: 'error',
        message: 'Training data contains invalid JSONL on line 12',
      }),
    ]);
    jobs.batches = [
      batch(B1, 'COMPLETED', { completedAt: T0 + 50_000, output: 'file-out-1' }),
      batch(B2, 'EXPIRED', { completedAt: T0 + 55_000, error: 'batch expired after 24h' }),
    ];
    await runPoll();
    // Terminal states first, in any order (jobs are worked on concurrently), then the progress of running jobs.
    expect(keys().slice(2, 6).sort()).toEqual(
      ['fine_tune.failed:ft-2', 'fine_tune.cancelled:ft-3', `batch.done:${B1}`, `batch.done:${B2}`].sort(),
    );
    expect(keys()[6]).toBe('fine_tune.checkpoint:ft-1:80');
    const byKey = Object.fromEntries(published().map((p) => [p.detail.id, p]));
    expect(byKey['fine_tune.failed:ft-2'].detail.data).toEqual({
      fine_tune_id: 'ft-2',
      error_message: 'Training data contains invalid JSONL on line 12',
      step: null,
    });
    expect(byKey[`batch.done:${B1}`].detail.data).toEqual({
      batch_id: B1,
      status: 'COMPLETED',
      output_url: `${together.baseUrl}/files/file-out-1/content`,
      output_file_id: 'file-out-1',
      error_file_id: null,
      total_tokens: null,
    });
    expect(byKey[`batch.done:${B2}`].detail.data).toMatchObject({ status: 'EXPIRED', output_url: null });

    // Poll 3: training completes; the watched model vanishes from /models (not yet a deprecation).
    clock.t = T0 + 2 * MINUTE;
    jobs.fineTunes[2] = fineTune('ft-1', 'completed', T0 + 100_000);
    jobs.metrics.get('ft-1')!.push({ 'eval/loss': 0.4213, 'train/global_step': 120 });
    jobs.models = [model('Qwen/Qwen3.5-9B')];
    await runPoll();
    expect(keys().slice(7)).toEqual(['fine_tune.completed:ft-1']);
    expect(published()[7].detail.data).toEqual({
      fine_tune_id: 'ft-1',
      model_name: 'acme/Meta-Llama-3.1-8B-Instruct-ft-1',
      eval_loss: 0.4213,
    });

    // Poll 4: still gone a minute later: nothing yet. Poll 5, an hour after it went: deprecated.
    clock.t = T0 + 3 * MINUTE;
    await runPoll();
    expect(keys()).toHaveLength(8);
    clock.t = T0 + 62 * MINUTE;
    await runPoll();
    expect(keys().slice(8)).toEqual([
      `model.deprecated:meta-llama/Llama-2-70b-chat-hf:${iso(T0 + 2 * MINUTE)}`,
    ]);
    expect(published()[8].detail.data).toEqual({
      model_id: 'meta-llama/Llama-2-70b-chat-hf',
      replacement_model: 'meta-llama/Llama-3.3-70B-Instruct-Turbo',
      sunset_date: null,
      missing_since: iso(T0 + 2 * MINUTE),
    });

    // Polls 6 and 7: nothing new, nothing published, and finished jobs are not even looked at again.
    for (const minutes of [63, 64]) {
      clock.t = T0 + minutes * MINUTE;
      together.requests.length = 0;
      expect(await runPoll()).toMatchObject({ outcome: 'completed', published: 0, errors: 0 });
      expect(together.requests.filter((r) => r.path.includes('/events'))).toEqual([]);
    }
    expect(new Set(keys()).size).toBe(keys().length);
    expect(keys()).toHaveLength(9);
    expect(published().filter((p) => p.type !== p.detail.type)).toEqual([]);
  });

  test('one log line per poll with checked, published, skipped and errors, never the key', async () => {
    together.jobs.fineTunes = [fineTune('ft-9', 'completed', T0 - MINUTE)];
    await runPoll();
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatchObject({
      message: 'poll',
      outcome: 'completed',
      checked: { fineTunes: 1, batches: 0, models: 0 },
      published: 1,
      duplicates: 0,
      errors: 0,
      Polls: 1,
      Published: 1,
      _aws: expect.anything(),
    });
    expect(JSON.stringify(logs)).not.toContain(together.apiKey);
  });

  test("Together's error text is logged without the key, should an answer echo it", async () => {
    together.script('GET', /^\/v1\/batches$/, {
      status: 500,
      body: TOGETHER_ERROR(`upstream rejected ${together.apiKey} for /batches`, 'server_error'),
    });
    const summary = await runPoll();
    expect(summary.failures).toEqual([
      'batches: GET /batches: HTTP 500: upstream rejected [API key] for /batches',
    ]);
    expect(JSON.stringify(logs)).not.toContain(together.apiKey);
  });
});

describe('stalled fine-tunes', () => {
  test('a job with no change for 6 h: one fine_tune.stalled per stall, a new one after progress stalls again', async () => {
    together.jobs.fineTunes = [fineTune('ft-s', 'running', T0 - 7 * HOUR)];
    together.jobs.events.set('ft-s', [fineTuneEvent('training_start', T0 - 7 * HOUR)]);
    await runPoll();
    clock.t = T0 + 10 * MINUTE;
    await runPoll();
    expect(keys()).toEqual([`fine_tune.stalled:ft-s:${iso(T0 - 7 * HOUR)}`]);
    expect(published()[0].detail.data).toEqual({
      fine_tune_id: 'ft-s',
      status: 'running',
      since: iso(T0 - 7 * HOUR),
    });

    // It moves again, then sticks for another 6 hours.
    clock.t = T0 + HOUR;
    together.jobs.events.get('ft-s')!.push(fineTuneEvent('epoch_complete', T0 + HOUR));
    await runPoll();
    expect(keys()).toHaveLength(1);
    clock.t = T0 + 7 * HOUR + MINUTE;
    await runPoll();
    expect(keys()).toEqual([
      `fine_tune.stalled:ft-s:${iso(T0 - 7 * HOUR)}`,
      `fine_tune.stalled:ft-s:${iso(T0 + HOUR)}`,
    ]);
  });
});

describe('faults lose nothing', () => {
  test('429 mid-way stops the poll early; the next tick picks up where it stopped', async () => {
    together.jobs.fineTunes = [fineTune('ft-a', 'completed', T0 - MINUTE)];
    together.jobs.batches = [batch(B1, 'COMPLETED', { completedAt: T0 - MINUTE, output: 'file-1' })];
    together.script('GET', /^\/v1\/batches$/, {
      status: 429,
      headers: { 'x-ratelimit-remaining': '0', 'retry-after': '30' },
      body: TOGETHER_ERROR('rate limit exceeded', 'rate_limit_exceeded'),
    });
    const first = await runPoll();
    expect(first).toMatchObject({ outcome: 'stopped', errors: 0, published: 1 });
    expect(first.reason).toMatch(/rate limited by Together \(HTTP 429, remaining 0\)/);
    clock.t = T0 + MINUTE;
    await runPoll();
    expect(keys()).toEqual(['fine_tune.completed:ft-a', `batch.done:${B1}`]);
  });

  test("500 on one job's events costs that job only; the next poll delivers it once", async () => {
    together.jobs.fineTunes = [
      fineTune('ft-a', 'completed', T0 - 2 * MINUTE),
      fineTune('ft-b', 'error', T0 - MINUTE),
      fineTune('ft-c', 'completed', T0 - 30_000),
    ];
    together.jobs.batches = [batch(B1, 'COMPLETED', { completedAt: T0 - MINUTE, output: 'file-1' })];
    together.jobs.events.set('ft-b', [
      fineTuneEvent('job_error', T0 - MINUTE, { level: 'error', message: 'OOM' }),
    ]);
    together.script('GET', /ft-b\/events$/, {
      status: 500,
      body: TOGETHER_ERROR('internal', 'server_error'),
    });
    const first = await runPoll();
    expect(first).toMatchObject({ outcome: 'incomplete', errors: 1, heldBack: 1 });
    expect(first.failures).toEqual([
      expect.stringMatching(/^fine-tunes ft-b: GET \/fine-tunes\/ft-b\/events: HTTP 500/),
    ]);
    expect(keys().sort()).toEqual(
      ['fine_tune.completed:ft-a', 'fine_tune.completed:ft-c', `batch.done:${B1}`].sort(),
    );
    clock.t = T0 + MINUTE;
    expect(await runPoll()).toMatchObject({ outcome: 'completed', errors: 0, heldBack: 0, published: 1 });
    expect(keys().slice(3)).toEqual(['fine_tune.failed:ft-b']);
    expect(published()[3].detail.data.error_message).toBe('OOM');
  });

  test('Together unreachable: each source fails with a reason and the outcome comes on a later poll', async () => {
    together.jobs.fineTunes = [fineTune('ft-a', 'completed', T0 - MINUTE)];
    const down = deps({ config: { ...deps().config, apiBaseUrl: 'http://127.0.0.1:9/v1' } });
    const first = await runPoll(down);
    expect(first).toMatchObject({ outcome: 'incomplete', errors: 3, published: 0 });
    expect(first.failures).toEqual([
      expect.stringMatching(/^fine-tunes: .*GET \/fine-tunes.*ECONNREFUSED/),
      expect.stringMatching(/^batches: .*GET \/batches.*ECONNREFUSED/),
      expect.stringMatching(/^models: .*GET \/models.*ECONNREFUSED/),
    ]);
    clock.t = T0 + 10 * MINUTE;
    await runPoll();
    expect(keys()).toEqual(['fine_tune.completed:ft-a']);
  });

  test('EventBridge refusing an entry stops the poll; the retry publishes once', async () => {
    together.jobs.fineTunes = [
      fineTune('ft-a', 'completed', T0 - 2 * MINUTE),
      fineTune('ft-b', 'completed', T0 - MINUTE),
    ];
    bus.nextPutEvents({
      FailedEntryCount: 1,
      Entries: [{ ErrorCode: 'ThrottlingException', ErrorMessage: 'slow' }],
    });
    const first = await runPoll();
    expect(first).toMatchObject({ outcome: 'stopped', errors: 1 });
    expect(first.reason).toMatch(/^EventBridge refused fine_tune\.completed:ft-[ab]: PublishError/);
    clock.t = T0 + MINUTE;
    await runPoll();
    const accepted = published()
      .slice(1)
      .map((p) => p.detail.id);
    expect(accepted.sort()).toEqual(['fine_tune.completed:ft-a', 'fine_tune.completed:ft-b']);
  });
});

describe('a refused API key', () => {
  test('one alert per incident, polling resumes by itself, and what finished meanwhile is published', async () => {
    together.jobs.fineTunes = [fineTune('ft-a', 'completed', T0 - MINUTE)];
    h.apiKey = 'tgp_revoked';
    for (let i = 0; i < 3; i++) {
      clock.t = T0 + i * MINUTE;
      expect(await runPoll()).toMatchObject({ outcome: 'stopped', published: 0 });
    }
    const alerts = sns.commandCalls(PublishCommand).map((c) => c.args[0].input);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ TopicArn: TOPIC, Subject: 'Together AI rejected the API key' });
    expect(alerts[0].Message).toMatch(
      /HTTP 401.*the API key was rejected\. Rotate it in the Secrets Manager secret together\/api-key/,
    );
    expect(alerts[0].Message).not.toContain('tgp_revoked');

    h.apiKey = together.apiKey;
    clock.t = T0 + 3 * MINUTE;
    together.jobs.fineTunes.push(fineTune('ft-b', 'completed', T0 + 2 * MINUTE));
    expect(await runPoll()).toMatchObject({ outcome: 'completed' });
    expect(keys()).toEqual(['fine_tune.completed:ft-a', 'fine_tune.completed:ft-b']);
    expect(logs.some((l) => l.message === 'Together accepts the API key again')).toBe(true);

    // A new incident later: a new alert.
    h.apiKey = 'tgp_revoked_again';
    clock.t = T0 + 10 * MINUTE;
    await runPoll();
    expect(sns.commandCalls(PublishCommand)).toHaveLength(2);
  });

  test('if the alert cannot be sent, the next poll tries again', async () => {
    h.apiKey = 'tgp_revoked';
    sns.on(PublishCommand).rejectsOnce(new Error('SNS down')).resolves({ MessageId: 'm-2' });
    await runPoll();
    clock.t = T0 + MINUTE;
    await runPoll();
    clock.t = T0 + 2 * MINUTE;
    await runPoll();
    expect(sns.commandCalls(PublishCommand)).toHaveLength(2);
  });
});

describe('overlaps and the other path', () => {
  test('overlapping polls: one runs, the other steps aside; each outcome once', async () => {
    together.jobs.fineTunes = [
      fineTune('ft-a', 'completed', T0 - MINUTE),
      fineTune('ft-b', 'cancelled', T0 - MINUTE),
    ];
    const results = await Promise.all([runPoll(), runPoll(), runPoll()]);
    expect(results.filter((r) => r.outcome === 'skipped')).toHaveLength(2);
    expect(keys().sort()).toEqual(['fine_tune.cancelled:ft-b', 'fine_tune.completed:ft-a']);
  });

  test('even without the lease (two pollers racing), the claims publish each outcome once', async () => {
    together.jobs.fineTunes = [
      fineTune('ft-a', 'completed', T0 - MINUTE),
      fineTune('ft-b', 'completed', T0 - MINUTE),
    ];
    const real = new DynamoPollerStateStore(h.dynamo.client, h.table, 'test-scope');
    const noLease: PollerStateStore = {
      acquireLease: async () => true,
      releaseLease: async () => undefined,
      load: () => real.load(),
      save: (s) => real.save(s),
    };
    const results = await Promise.all([runPoll(deps({ state: noLease })), runPoll(deps({ state: noLease }))]);
    expect(results.map((r) => r.outcome)).not.toContain('skipped');
    clock.t = T0 + MINUTE;
    await runPoll();
    expect(keys().sort()).toEqual(['fine_tune.completed:ft-a', 'fine_tune.completed:ft-b']);
  });

  test('a webhook and a poll of the same outcome reach the bus once, whichever comes first', async () => {
    // One clock for both paths: the poller's claims are dated by it, so the verifier must read it too.
    const verifier = harness({ dynamoClient: h.dynamo.client, table: h.table, now: clock.now });
    const pushed = envelope('evt_01HZX_webhook', 'fine_tune.completed', {
      fine_tune_id: 'ft-w',
      model_name: 'acme/ft-w',
      eval_loss: 0.3,
    });
    expect((await handleWebhook(signedRequest(pushed), verifier.deps, 10_000)).statusCode).toBe(200);
    // One clock for both paths (the verifier's is the real one): claims made at T0 lapse a retention after it.
    clock.t = verifier.clock.now;
    together.jobs.fineTunes = [
      fineTune('ft-w', 'completed', clock.t - MINUTE),
      fineTune('ft-p', 'completed', clock.t - MINUTE),
    ];
    const summary = await runPoll();
    expect(summary).toMatchObject({ published: 1, duplicates: 1 });
    const late = envelope('evt_01HZX_late', 'fine_tune.completed', {
      fine_tune_id: 'ft-p',
      model_name: 'x',
      eval_loss: null,
    });
    const res = await handleWebhook(signedRequest(late), verifier.deps, 10_000);
    expect(JSON.parse(res.body)).toMatchObject({ duplicate: true });
    expect(published().map((p) => `${p.type} ${p.detail.data.fine_tune_id}`)).toEqual([
      'fine_tune.completed ft-w',
      'fine_tune.completed ft-p',
    ]);
    // Whichever path published it, a handler reads the same outcome key beside the envelope.
    expect(published().map((p) => (p.detail as { outcome_key?: string }).outcome_key)).toEqual([
      'fine_tune.completed:ft-w',
      'fine_tune.completed:ft-p',
    ]);
  });
});

describe('first poll after deploy', () => {
  test('only outcomes inside the lookback are published; older history is not replayed', async () => {
    together.jobs.fineTunes = [
      fineTune('ft-ancient', 'completed', T0 - 30 * 86400_000),
      fineTune('ft-hour', 'completed', T0 - 2 * HOUR),
      fineTune('ft-fresh', 'error', T0 - 10 * MINUTE),
    ];
    together.jobs.batches = [
      batch(B1, 'COMPLETED', { completedAt: T0 - 5 * HOUR, output: 'file-1' }),
      batch(B2, 'FAILED', { completedAt: T0 - 5 * MINUTE, error: 'bad input' }),
    ];
    await runPoll();
    expect(keys()).toEqual(['fine_tune.failed:ft-fresh', `batch.done:${B2}`]);
    expect(published()[0].detail.data.error_message).toBe('fine-tune ended with status error');
  });
});

describe("the fake is faithful to Together's OpenAPI description", () => {
  test('every answer for jobs, batches and models matches the spec, and every request we sent is one it describes', async () => {
    const listedEvents = [fineTuneEvent('checkpoint_save', T0 - MINUTE, { step: 5 })];
    together.jobs.fineTunes = [
      fineTune('ft-1', 'running', T0 - MINUTE),
      fineTune('ft-2', 'completed', T0 - MINUTE),
      fineTune('ft-3', 'running', T0 - MINUTE, { events: listedEvents }),
      fineTune('7f1e2d3c-4b5a-4697-8877-665544332211', 'running', T0 - MINUTE),
    ];
    together.jobs.events.set('ft-1', [fineTuneEvent('checkpoint_save', T0 - MINUTE, { step: 10 })]);
    together.jobs.metrics.set('ft-1', [{ 'train/loss': 2, 'train/global_step': 10 }]);
    together.jobs.batches = [
      batch(B1, 'COMPLETED', { completedAt: T0 - MINUTE, output: 'file-1' }),
      batch(B2, 'IN_PROGRESS'),
    ];
    together.jobs.models = [model('meta-llama/Llama-2-70b-chat-hf')];
    await runPoll();
    // A second poll: the batch ends without completed_at; one job and the batch drop out of the listing.
    together.jobs.batches[1] = batch(B2, 'FAILED', { error: 'invalid input' });
    together.jobs.unlisted.add('7f1e2d3c-4b5a-4697-8877-665544332211');
    together.jobs.fineTunes.push(fineTune('ft-gone', 'running', T0));
    clock.t = T0 + MINUTE;
    await runPoll();
    together.jobs.unlisted.add('ft-gone');
    together.jobs.fineTunes = together.jobs.fineTunes.filter((j) => j.id !== 'ft-gone');
    clock.t = T0 + 2 * MINUTE;
    await runPoll();
    const paths = together.requests.map((r) => `${r.method} ${r.path}`);
    for (const expected of [
      'GET /v1/fine-tunes',
      'GET /v1/fine-tunes/ft-1/events',
      'GET /v1/fine-tunes/ft-1/metrics',
      'GET /v1/fine-tunes/7f1e2d3c-4b5a-4697-8877-665544332211',
      'GET /v1/fine-tunes/ft-gone',
      'GET /v1/batches',
      'GET /v1/models',
    ])
      expect(paths).toContain(expected);
    expect(paths).not.toContain('GET /v1/fine-tunes/ft-3/events');
    for (const req of together.requests) {
      expect({
        req: `${req.method} ${req.path}`,
        described: describedPath(req.method, req.path) !== undefined,
      }).toEqual({ req: `${req.method} ${req.path}`, described: true });
      expect(req.headers.authorization).toMatch(/^Bearer /);
    }
    for (const a of together.answers) {
      expect({
        at: `${a.method} ${a.path} ${a.status}`,
        errors: answerErrors(a.method, a.path, a.status, a.body),
      }).toEqual({
        at: `${a.method} ${a.path} ${a.status}`,
        errors: undefined,
      });
    }
    expect(
      together.answers.some(
        (a) => Array.isArray(a.body) && a.body.some((b) => b.status === 'FAILED' && !('completed_at' in b)),
      ),
    ).toBe(true);
    expect(sorted(keys())).toEqual(
      sorted([
        'fine_tune.completed:ft-2',
        'fine_tune.checkpoint:ft-1:10',
        'fine_tune.checkpoint:ft-3:5',
        `batch.done:${B1}`,
        `batch.done:${B2}`,
      ]),
    );
  });

  test('the checker itself catches an answer that breaks the spec', () => {
    expect(responseErrors('GET', '/v1/fine-tunes', 200, { data: [{ id: 'ft-1' }] })).toEqual(
      expect.arrayContaining([expect.stringContaining("must have required property 'status'")]),
    );
    expect(responseErrors('GET', '/v1/batches', 200, { data: [] })).toEqual([' must be array']);
    expect(describedPath('POST', '/v1/webhooks')).toBeUndefined();
  });
});
