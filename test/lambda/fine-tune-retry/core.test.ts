import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { randomUUID } from 'node:crypto';
import {
  FineTuneRetryConfig,
  FineTuneRetryDeps,
  readFineTuneFailed,
  retryFailedFineTune,
  RetryOutcomeUnknown,
} from '../../../lambda/fine-tune-retry/core';
import { DynamoLineageStore } from '../../../lambda/fine-tune-retry/lineage';
import { retryTag } from '../../../lambda/fine-tune-retry/rules';
import { DynamoIdempotencyStore } from '../../../lambda/shared/idempotency';
import { putEvent } from '../../../lambda/shared/publisher';
import { togetherRequest } from '../../../lambda/shared/together-api';
import { sampleEvent } from '../../../lib/events';
import { RetryRule } from '../../../lib/retry-rule';
import { createFineTune } from '../../support/fake-fine-tunes';
import { TOGETHER_ERROR } from '../../support/fake-together';
import { answerErrors, describedPath, requestErrors } from '../../support/openapi';
import { pollerHarness, TOPIC } from '../../support/poller-harness';
import { fineTune, fineTuneEvent, MINUTE, T0 } from '../../support/together-fixtures';
import { BUS } from '../../support/verifier-harness';

/** Issue 21, the retry half: a failed fine-tune resubmitted by the user's rules, once, counted per lineage. */

const h = pollerHarness();
const { together, clock } = h;

/** Failed jobs' ids: GET /fine-tunes/{id} answers a FinetuneResponse, whose id the spec makes a uuid. */
const ID = {
  _5xx: '00000001-0000-4000-8000-00000000a001',
  alert: '00000002-0000-4000-8000-00000000a002',
  data: '00000003-0000-4000-8000-00000000a003',
  echo: '00000004-0000-4000-8000-00000000a004',
  follow: '00000005-0000-4000-8000-00000000a005',
  made5xx: '0000000f-0000-4000-8000-00000000a015',
  lost: '00000006-0000-4000-8000-00000000a006',
  max: '00000007-0000-4000-8000-00000000a007',
  noevents: '00000008-0000-4000-8000-00000000a008',
  odd: '00000009-0000-4000-8000-00000000a009',
  one: '0000000a-0000-4000-8000-00000000a010',
  oom: '0000000b-0000-4000-8000-00000000a011',
  orig: '0000000c-0000-4000-8000-00000000a012',
  nosuffix: '0000000e-0000-4000-8000-00000000a014',
  twice: '0000000d-0000-4000-8000-00000000a013',
};

const WANDB_KEY = 'wandb-secret-0123456789abcdef0123';
const HF_TOKEN = 'hf_secretTokenValue9876543210';

const CONFIG: FineTuneRetryConfig = {
  rules: RetryRule.defaults().map((r) => r._spec()),
  maxAttempts: 2,
  scope: 'test',
  retentionSeconds: 7 * 86400,
};

/** A failed job in Together, its last event the error; hyperparameters and secrets as a user's job carries them. */
function failedJob(id: string, error: string, extra: Record<string, unknown> = {}) {
  const job = fineTune(id, 'error', T0, {
    validation_file: 'file-validation-42',
    batch_size: 16,
    learning_rate: 0.00002,
    n_evals: 2,
    suffix: 'support-bot',
    wandb_project_name: 'acme-support',
    wandb_api_key: WANDB_KEY,
    hf_api_token: HF_TOKEN,
    training_type: { type: 'Lora', lora_r: 16, lora_alpha: 32, lora_dropout: 0.05 },
    events: [
      fineTuneEvent('training_start', T0 - HOUR_BEFORE),
      fineTuneEvent('job_error', T0, { level: 'error', message: error }),
    ],
    ...extra,
  });
  together.jobs.fineTunes.push(job);
  return job;
}
const HOUR_BEFORE = 60 * MINUTE;

function failedEvent(id: string, message = 'whatever the webhook said') {
  const sample = sampleEvent('fine_tune.failed', `fine_tune.failed:${id}`);
  return {
    'detail-type': 'fine_tune.failed',
    source: 'together.ai',
    detail: { ...sample, data: { ...sample.data, fine_tune_id: id, error_message: message } },
  };
}

function deps(config: Partial<FineTuneRetryConfig> = {}): FineTuneRetryDeps {
  const eventBridge = new EventBridgeClient({ region: 'us-east-1' });
  const sns = new SNSClient({ region: 'us-east-1' });
  return {
    config: { ...CONFIG, ...config },
    store: new DynamoIdempotencyStore(h.dynamo.client, h.table),
    lineage: new DynamoLineageStore(h.dynamo.client, h.table, 'test', CONFIG.retentionSeconds),
    nowMs: clock.now(),
    remainingMs: 30_000,
    token: randomUUID(),
    log: (line) => h.logs.push(JSON.parse(JSON.stringify(line))),
    publish: (type, detail) => putEvent(eventBridge, BUS, type, detail),
    alert: async (subject, message) => {
      await sns.send(new PublishCommand({ TopicArn: TOPIC, Subject: subject, Message: message }));
    },
    together: (method, path, body, secrets) =>
      togetherRequest({
        baseUrl: together.baseUrl,
        apiKey: together.apiKey,
        method,
        path,
        body,
        secrets,
        deadlineMs: Date.now() + 10_000,
        maxAttempts: method === 'POST' ? 1 : 3,
        timeoutMs: 2_000,
      }),
  };
}

const retry = (event: unknown, d: FineTuneRetryDeps = deps()) =>
  retryFailedFineTune(readFineTuneFailed(event), d);
const posts = () => together.requests.filter((r) => r.method === 'POST' && r.path === '/v1/fine-tunes');
const alerts = () => h.sns.commandCalls(PublishCommand).map((c) => c.args[0].input);
const retried = () => h.published().filter((p) => p.type === 'fine_tune.retried');

function expectFaithful() {
  for (const r of together.requests) {
    expect([r.method, r.path, describedPath(r.method, r.path)]).toEqual([
      r.method,
      r.path,
      expect.any(String),
    ]);
    if (r.method === 'POST') expect(requestErrors(r.method, r.path, r.body)).toBeUndefined();
  }
  const broken = together.answers.filter((a) => answerErrors(a.method, a.path, a.status, a.body));
  expect(broken.map((a) => `${a.method} ${a.path}`)).toEqual([]);
}

/** No secret in any log line, event, alert or error. */
function expectNoSecrets(...more: unknown[]) {
  const seen = JSON.stringify([h.logs, h.bus.entries(), alerts(), more.map(String)]);
  for (const secret of [WANDB_KEY, HF_TOKEN, together.apiKey]) expect(seen).not.toContain(secret);
}

test('out of memory: the job again with half the batch size, its files and settings, tagged in its suffix', async () => {
  failedJob(ID.oom, 'CUDA out of memory. Tried to allocate 2.00 GiB');
  const decision = await retry(failedEvent(ID.oom));
  const newId = together.jobs.fineTunes[1].id as string;
  expect(decision).toEqual({
    action: 'created',
    newFineTuneId: newId,
    originalFineTuneId: ID.oom,
    attempt: 1,
    adjustment: 'batch_size 16 -> 8',
  });
  expect(posts().map((r) => r.body)).toEqual([
    {
      model: 'meta-llama/Meta-Llama-3.1-8B-Instruct-Reference',
      training_file: 'file-0123456789',
      validation_file: 'file-validation-42',
      n_epochs: 3,
      n_checkpoints: 3,
      n_evals: 2,
      batch_size: 8,
      learning_rate: 0.00002,
      training_type: { type: 'Lora', lora_r: 16, lora_alpha: 32, lora_dropout: 0.05 },
      wandb_project_name: 'acme-support',
      // The retry keeps its integrations: the secrets go to Together, and nowhere else.
      wandb_api_key: WANDB_KEY,
      hf_api_token: HF_TOKEN,
      suffix: `support-bot-${retryTag(ID.oom, 1)}`,
    },
  ]);
  expect(retried()).toEqual([
    {
      type: 'fine_tune.retried',
      detail: expect.objectContaining({
        id: `fine_tune.retried:${ID.oom}`,
        outcome_key: `fine_tune.retried:${ID.oom}`,
        data: {
          failed_fine_tune_id: ID.oom,
          new_fine_tune_id: newId,
          original_fine_tune_id: ID.oom,
          attempt: 1,
          adjustment: 'batch_size 16 -> 8',
        },
      }),
    },
  ]);
  expect(alerts()).toEqual([]);
  expectFaithful();
  expectNoSecrets();
});

test('the retried job is followed by the poller like any other: its completion is fine_tune.completed', async () => {
  failedJob(ID.follow, 'Node failure on the training host (infrastructure)');
  const decision = await retry(failedEvent(ID.follow));
  expect(decision).toMatchObject({ action: 'created', adjustment: 'same parameters' });
  const job = together.jobs.fineTunes[1];
  expect(posts()[0].body).toMatchObject({ batch_size: 16 });
  job.status = 'completed';
  job.updated_at = new Date(T0 + MINUTE).toISOString();
  await h.pollAt(T0 + 2 * MINUTE);
  expect(
    h
      .published()
      .filter((p) => p.type === 'fine_tune.completed')
      .map((p) => p.detail.data),
  ).toEqual([{ fine_tune_id: job.id, model_name: job.model_output_name, eval_loss: null }]);
});

test('redelivered, or delivered twice at once: one new job', async () => {
  failedJob(ID.twice, 'RuntimeError: CUDA error: out of memory');
  const event = failedEvent(ID.twice);
  const [a, b] = await Promise.allSettled([retry(event), retry(event)]);
  const results = [a, b].map((r) => (r.status === 'fulfilled' ? r.value.action : 'busy'));
  expect(results.sort()).toEqual(['busy', 'created']);
  expect(await retry(event)).toEqual({ action: 'done_before' });
  clock.t = T0 + 10 * MINUTE;
  expect(await retry(event, deps())).toEqual({ action: 'done_before' });
  expect(posts()).toHaveLength(1);
  expect(retried()).toHaveLength(1);
});

test('a create whose answer is lost keeps the claim; the retry after it lapses adopts the job, no second POST', async () => {
  failedJob(ID.lost, 'out of memory');
  together.script('POST', /^\/v1\/fine-tunes$/, { status: 200, handledThenLost: true });
  const event = failedEvent(ID.lost);
  const lost = await retry(event).catch((e: Error) => e);
  expect(lost).toBeInstanceOf(RetryOutcomeUnknown);
  expect(together.jobs.fineTunes).toHaveLength(2);
  await expect(retry(event)).rejects.toThrow('being retried by another invocation');
  clock.t = T0 + 41_000;
  const made = together.jobs.fineTunes[1].id;
  expect(await retry(event, deps())).toEqual({
    action: 'adopted',
    newFineTuneId: made,
    originalFineTuneId: ID.lost,
    attempt: 1,
    adjustment: 'batch_size 16 -> 8',
  });
  expect(posts()).toHaveLength(1);
  expect(retried().map((p) => p.detail.data.new_fine_tune_id)).toEqual([made]);
  expectFaithful();
  expectNoSecrets(lost);
});

test('a 5xx on the create is unknown too: listed after the claim lapses, created once it is not there', async () => {
  failedJob(ID._5xx, 'out of memory');
  together.script('POST', /^\/v1\/fine-tunes$/, {
    status: 503,
    body: TOGETHER_ERROR('overloaded', 'server_error'),
  });
  await expect(retry(failedEvent(ID._5xx))).rejects.toBeInstanceOf(RetryOutcomeUnknown);
  clock.t = T0 + 41_000;
  expect(await retry(failedEvent(ID._5xx), deps())).toMatchObject({ action: 'created' });
  expect(posts()).toHaveLength(2);
  expect(together.jobs.fineTunes).toHaveLength(2);
  // Each POST was preceded by a listing.
  expect(together.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
    `GET /v1/fine-tunes/${ID._5xx}`,
    'GET /v1/fine-tunes',
    'POST /v1/fine-tunes',
    `GET /v1/fine-tunes/${ID._5xx}`,
    'GET /v1/fine-tunes',
    'POST /v1/fine-tunes',
  ]);
});

test('a 5xx after Together made the job: the retry after the claim lapses adopts it', async () => {
  failedJob(ID.made5xx, 'out of memory');
  together.script('POST', /^\/v1\/fine-tunes$/, {
    status: 500,
    reply: (req) => {
      createFineTune(together.jobs, req.body, clock.now(), 99);
      return TOGETHER_ERROR('upstream timeout', 'server_error');
    },
  });
  await expect(retry(failedEvent(ID.made5xx))).rejects.toBeInstanceOf(RetryOutcomeUnknown);
  clock.t = T0 + 41_000;
  expect(await retry(failedEvent(ID.made5xx), deps())).toMatchObject({
    action: 'adopted',
    newFineTuneId: together.jobs.fineTunes[1].id,
  });
  expect(posts()).toHaveLength(1);
  expect(together.jobs.fineTunes).toHaveLength(2);
  expectFaithful();
});

test('attempts are capped per lineage, counted across retries that fail again; the alert says why', async () => {
  failedJob(ID.orig, 'out of memory');
  expect(await retry(failedEvent(ID.orig))).toMatchObject({ attempt: 1, adjustment: 'batch_size 16 -> 8' });
  // The retry fails too: Together's job, as made from our body, now in error.
  const first = together.jobs.fineTunes[1];
  Object.assign(first, {
    status: 'error',
    events: [fineTuneEvent('job_error', T0, { level: 'error', message: 'CUDA out of memory' })],
  });
  expect(await retry(failedEvent(first.id as string))).toMatchObject({
    attempt: 2,
    originalFineTuneId: ID.orig,
    adjustment: 'batch_size 8 -> 4',
  });
  expect((posts()[1].body as { suffix: string }).suffix).toBe(
    `support-bot-${retryTag(first.id as string, 2)}`,
  );
  const second = together.jobs.fineTunes[2];
  Object.assign(second, {
    status: 'error',
    events: [fineTuneEvent('job_error', T0, { level: 'error', message: 'out of memory' })],
  });
  expect(await retry(failedEvent(second.id as string))).toEqual({
    action: 'not_retried',
    reason: `its lineage (original ${ID.orig}) has had 2 of 2 retries (maxAttempts)`,
  });
  expect(posts()).toHaveLength(2);
  expect(retried().map((p) => [p.detail.data.attempt, p.detail.data.original_fine_tune_id])).toEqual([
    [1, ID.orig],
    [2, ID.orig],
  ]);
  expect(alerts()).toEqual([
    expect.objectContaining({
      TopicArn: TOPIC,
      Subject: `Together fine-tune ${second.id} not retried`,
      Message: expect.stringContaining('has had 2 of 2 retries (maxAttempts)'),
    }),
  ]);
  expectFaithful();
  expectNoSecrets();
});

test("GET /fine-tunes/{id} shows no suffix (the spec describes none): the listing's is used, its tag counting without a lineage record", async () => {
  const job = failedJob(ID.nosuffix, 'out of memory', {
    suffix: `support-bot-${retryTag('an-earlier-job', 1)}`,
  });
  const byId = Object.fromEntries(Object.entries(job).filter(([k]) => k !== 'suffix'));
  together.script('GET', new RegExp(`^/v1/fine-tunes/${ID.nosuffix}$`), { status: 200, body: byId });
  expect(await retry(failedEvent(ID.nosuffix))).toMatchObject({ action: 'created', attempt: 2 });
  expect((posts()[0].body as { suffix: string }).suffix).toBe(`support-bot-${retryTag(ID.nosuffix, 2)}`);
  expectFaithful();
});

test('a data format error is not retried; the alert names check-data with the training file', async () => {
  failedJob(ID.data, 'Invalid JSON on line 12 of the training file');
  expect(await retry(failedEvent(ID.data))).toEqual({
    action: 'not_retried',
    reason: 'a retry rule says not to retry it',
  });
  expect(posts()).toEqual([]);
  expect(retried()).toEqual([]);
  const [alert] = alerts();
  expect(alert.Message).toBe(
    [
      `Fine-tune ${ID.data} (meta-llama/Meta-Llama-3.1-8B-Instruct-Reference) failed and was not retried: a retry rule says not to retry it.`,
      'Its error: Invalid JSON on line 12 of the training file',
      'Check the training data: npx together-webhooks check-data file-0123456789',
    ].join('\n'),
  );
  expect(await retry(failedEvent(ID.data))).toEqual({ action: 'done_before' });
  expect(alerts()).toHaveLength(1);
});

test('no rule matching, or a batch size that cannot be halved: an alert each, nothing submitted', async () => {
  failedJob(ID.odd, 'something nobody foresaw');
  failedJob(ID.one, 'out of memory', { batch_size: 1 });
  failedJob(ID.max, 'out of memory', { batch_size: 'max' });
  expect(await retry(failedEvent(ID.odd))).toEqual({
    action: 'not_retried',
    reason: 'no retry rule matches its error',
  });
  expect(await retry(failedEvent(ID.one))).toEqual({
    action: 'not_retried',
    reason: 'the rule "out of memory" cannot apply: its batch_size is already 1',
  });
  expect(await retry(failedEvent(ID.max))).toMatchObject({
    reason: expect.stringContaining('its batch_size is "max", which cannot be halved'),
  });
  expect(posts()).toEqual([]);
  expect(alerts().map((a) => a.Subject)).toEqual([
    `Together fine-tune ${ID.odd} not retried`,
    `Together fine-tune ${ID.one} not retried`,
    `Together fine-tune ${ID.max} not retried`,
  ]);
});

test("the job's error is read from Together; the event's message when the job has none", async () => {
  failedJob(ID.noevents, 'unused', { events: [] });
  expect(await retry(failedEvent(ID.noevents, 'internal error while training'))).toMatchObject({
    action: 'created',
    adjustment: 'same parameters',
  });
});

test('secrets stay out of every log line, event, alert and error, even when Together echoes them', async () => {
  failedJob(ID.echo, 'out of memory');
  together.script('POST', /^\/v1\/fine-tunes$/, {
    status: 400,
    body: TOGETHER_ERROR(`wandb key ${WANDB_KEY} is not valid (hf ${HF_TOKEN})`),
  });
  const refused = await retry(failedEvent(ID.echo)).catch((e: Error) => e);
  expect(String(refused)).toContain(
    `Together refused the retry of ${ID.echo}: HTTP 400: wandb key [wandb_api_key]`,
  );
  failedJob(ID.alert, `no such thing ${WANDB_KEY}`);
  await retry(failedEvent(ID.alert));
  expect(alerts()[0].Message).toContain('[wandb_api_key]');
  expect(await retry(failedEvent(ID.echo))).toMatchObject({ action: 'created' });
  expectNoSecrets(refused);
});

test('an event that is not a usable fine_tune.failed is an error naming what is wrong', () => {
  expect(() => readFineTuneFailed({ 'detail-type': 'fine_tune.completed', detail: {} })).toThrow(
    'expected a fine_tune.failed event, got detail-type fine_tune.completed',
  );
  expect(() => readFineTuneFailed({ 'detail-type': 'fine_tune.failed', detail: { data: {} } })).toThrow(
    'fine_tune.failed without data.fine_tune_id',
  );
});
