import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { randomUUID } from 'node:crypto';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { DynamoIdempotencyStore } from '../lambda/shared/idempotency';
import { LogLine } from '../lambda/shared/log';
import { putEvent } from '../lambda/shared/publisher';
import { ApiClock } from '../lambda/shared/together-api';
import { poll, PollerDeps } from '../lambda/poller/core';
import { DynamoPollerStateStore, PollerStateStore } from '../lambda/poller/state';
import { handleWebhook } from '../lambda/verifier/core';
import { LocalDynamo, startDynalite } from './support/dynalite';
import { FakeTogether, TOGETHER_ERROR } from './support/fake-together';
import { describedPath, responseErrors } from './support/openapi';
import { envelope, signedRequest } from './support/signing';
import { batch, fineTune, fineTuneEvent, HOUR, iso, MINUTE, model, T0 } from './support/together-fixtures';
import { BUS, harness, mockEventBridge } from './support/verifier-harness';

const TOPIC = 'arn:aws:sns:us-east-1:111111111111:together-alerts';
const B1 = '0b7c3a52-1d2e-4f60-8a9b-0c1d2e3f4a5b';
const B2 = '1c8d4b63-2e3f-4071-9bac-1d2e3f4a5b6c';

const together = new FakeTogether();
const bus = mockEventBridge();
const sns = mockClient(SNSClient);
let dynamo: LocalDynamo;
let table: string;
let clock: ApiClock & { t: number };
let logs: LogLine[];
let storedKey: string;

beforeAll(async () => {
  await together.start();
  dynamo = await startDynalite();
});
afterAll(async () => {
  bus.eb.restore();
  sns.restore();
  await dynamo.stop();
  await together.stop();
});
beforeEach(async () => {
  together.reset();
  bus.eb.reset();
  bus.acceptAll();
  sns.reset();
  sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
  table = await dynamo.createTable('poller');
  clock = { t: T0, now: () => clock.t, sleep: async (ms) => void (clock.t += ms), random: () => 0.5 };
  logs = [];
  storedKey = together.apiKey;
});

function deps(overrides: Partial<PollerDeps> = {}): PollerDeps {
  const eventBridge = new EventBridgeClient({ region: 'us-east-1' });
  const snsClient = new SNSClient({ region: 'us-east-1' });
  return {
    config: {
      apiBaseUrl: together.baseUrl,
      apiKeySecretName: 'together/api-key',
      watchModels: ['meta-llama/Llama-2-70b-chat-hf'],
      modelInfo: {
        'meta-llama/Llama-2-70b-chat-hf': { replacementModel: 'meta-llama/Llama-3.3-70B-Instruct-Turbo' },
      },
      stallAfterMs: 6 * HOUR,
      initialLookbackMs: HOUR,
      retentionSeconds: 7 * 86400,
      metrics: { namespace: 'TogetherWebhooks', service: 'poller-test' },
    },
    store: new DynamoIdempotencyStore(dynamo.client, table),
    state: new DynamoPollerStateStore(dynamo.client, table),
    publish: (detailType, detail) => putEvent(eventBridge, BUS, detailType, detail),
    getApiKey: async () => storedKey,
    notify: async (subject, message) => {
      await snsClient.send(new PublishCommand({ TopicArn: TOPIC, Subject: subject, Message: message }));
    },
    clock,
    log: (line) => logs.push(JSON.parse(JSON.stringify(line))),
    newToken: randomUUID,
    ...overrides,
  };
}

const runPoll = (d = deps()) => poll(d, clock.now() + 50_000);

/** What reached the bus: detail-type and the envelope, in order. */
function published() {
  return bus.entries().map((e) => ({ type: e.DetailType, detail: JSON.parse(e.Detail) }));
}
const keys = () => published().map((p) => p.detail.id as string);

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
    expect(keys().slice(2)).toEqual([
      'fine_tune.checkpoint:ft-1:80',
      'fine_tune.failed:ft-2',
      'fine_tune.cancelled:ft-3',
      `batch.done:${B1}`,
      `batch.done:${B2}`,
    ]);
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

    // Poll 3: training completes; the watched model vanishes from /models (once: not yet a deprecation).
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

    // Poll 4: still gone: deprecated, with the configured replacement.
    clock.t = T0 + 3 * MINUTE;
    await runPoll();
    expect(keys().slice(8)).toEqual(['model.deprecated:meta-llama/Llama-2-70b-chat-hf']);
    expect(published()[8].detail.data).toEqual({
      model_id: 'meta-llama/Llama-2-70b-chat-hf',
      replacement_model: 'meta-llama/Llama-3.3-70B-Instruct-Turbo',
      sunset_date: null,
    });

    // Polls 5 and 6: nothing new, nothing published, and finished jobs are not even looked at again.
    for (const minutes of [4, 5]) {
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

  test("500 on a job's events: stop, then the next poll delivers everything once", async () => {
    together.jobs.fineTunes = [
      fineTune('ft-a', 'completed', T0 - 2 * MINUTE),
      fineTune('ft-b', 'error', T0 - MINUTE),
      fineTune('ft-c', 'completed', T0 - 30_000),
    ];
    together.jobs.events.set('ft-b', [
      fineTuneEvent('job_error', T0 - MINUTE, { level: 'error', message: 'OOM' }),
    ]);
    together.script('GET', /ft-b\/events$/, {
      status: 500,
      body: TOGETHER_ERROR('internal', 'server_error'),
    });
    const first = await runPoll();
    expect(first).toMatchObject({ outcome: 'stopped', errors: 1 });
    expect(keys()).toEqual(['fine_tune.completed:ft-a']);
    clock.t = T0 + MINUTE;
    await runPoll();
    expect(keys()).toEqual(['fine_tune.completed:ft-a', 'fine_tune.failed:ft-b', 'fine_tune.completed:ft-c']);
  });

  test('Together unreachable: the poll stops with a reason and the outcome comes on a later poll', async () => {
    together.jobs.fineTunes = [fineTune('ft-a', 'completed', T0 - MINUTE)];
    const down = deps({ config: { ...deps().config, apiBaseUrl: 'http://127.0.0.1:9/v1' } });
    expect(await runPoll(down)).toMatchObject({ outcome: 'stopped', errors: 1 });
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
    expect(await runPoll()).toMatchObject({ outcome: 'stopped', errors: 1, published: 0 });
    clock.t = T0 + MINUTE;
    await runPoll();
    const accepted = published()
      .slice(1)
      .map((p) => p.detail.id);
    expect(accepted).toEqual(['fine_tune.completed:ft-a', 'fine_tune.completed:ft-b']);
  });
});

describe('a refused API key', () => {
  test('one alert per incident, polling resumes by itself, and what finished meanwhile is published', async () => {
    together.jobs.fineTunes = [fineTune('ft-a', 'completed', T0 - MINUTE)];
    storedKey = 'tgp_revoked';
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

    storedKey = together.apiKey;
    clock.t = T0 + 3 * MINUTE;
    together.jobs.fineTunes.push(fineTune('ft-b', 'completed', T0 + 2 * MINUTE));
    expect(await runPoll()).toMatchObject({ outcome: 'completed' });
    expect(keys()).toEqual(['fine_tune.completed:ft-a', 'fine_tune.completed:ft-b']);
    expect(logs.some((l) => l.message === 'Together accepts the API key again')).toBe(true);

    // A new incident later: a new alert.
    storedKey = 'tgp_revoked_again';
    clock.t = T0 + 10 * MINUTE;
    await runPoll();
    expect(sns.commandCalls(PublishCommand)).toHaveLength(2);
  });

  test('if the alert cannot be sent, the next poll tries again', async () => {
    storedKey = 'tgp_revoked';
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
    const real = new DynamoPollerStateStore(dynamo.client, table);
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
    const verifier = harness({ dynamoClient: dynamo.client, table });
    const pushed = envelope('evt_01HZX_webhook', 'fine_tune.completed', {
      fine_tune_id: 'ft-w',
      model_name: 'acme/ft-w',
      eval_loss: 0.3,
    });
    expect((await handleWebhook(signedRequest(pushed), verifier.deps, 10_000)).statusCode).toBe(200);
    together.jobs.fineTunes = [
      fineTune('ft-w', 'completed', T0 - MINUTE),
      fineTune('ft-p', 'completed', T0 - MINUTE),
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
    together.jobs.fineTunes = [
      fineTune('ft-1', 'running', T0 - MINUTE),
      fineTune('ft-2', 'completed', T0 - MINUTE),
    ];
    together.jobs.events.set('ft-1', [fineTuneEvent('checkpoint_save', T0 - MINUTE, { step: 10 })]);
    together.jobs.metrics.set('ft-1', [{ 'train/loss': 2, 'train/global_step': 10 }]);
    together.jobs.batches = [batch(B1, 'COMPLETED', { completedAt: T0 - MINUTE, output: 'file-1' })];
    together.jobs.models = [model('meta-llama/Llama-2-70b-chat-hf')];
    await runPoll();
    expect(together.requests.length).toBeGreaterThanOrEqual(6);
    for (const req of together.requests) {
      expect({
        req: `${req.method} ${req.path}`,
        described: describedPath(req.method, req.path) !== undefined,
      }).toEqual({
        req: `${req.method} ${req.path}`,
        described: true,
      });
      expect(req.headers.authorization).toMatch(/^Bearer /);
    }
    for (const a of together.answers) {
      expect({
        at: `${a.method} ${a.path}`,
        errors: responseErrors(a.method, a.path, a.status, a.body),
      }).toEqual({
        at: `${a.method} ${a.path}`,
        errors: undefined,
      });
    }
  });

  test('the checker itself catches an answer that breaks the spec', () => {
    expect(responseErrors('GET', '/v1/fine-tunes', 200, { data: [{ id: 'ft-1' }] })).toEqual(
      expect.arrayContaining([expect.stringContaining("must have required property 'status'")]),
    );
    expect(responseErrors('GET', '/v1/batches', 200, { data: [] })).toEqual([' must be array']);
    expect(describedPath('POST', '/v1/webhooks')).toBeUndefined();
  });
});
