import { randomUUID } from 'node:crypto';
import {
  AutoDeployConfig,
  autoDeploy,
  AutoDeployDeps,
  CreateOutcomeUnknown,
  readFineTuneCompleted,
} from '../../../lambda/auto-deploy/core';
import { DynamoIdempotencyStore } from '../../../lambda/shared/idempotency';
import { togetherRequest } from '../../../lambda/shared/together-api';
import { sampleEvent } from '../../../lib/events';
import { answerErrors, describedPath, requestErrors } from '../../support/openapi';
import { TOGETHER_ERROR } from '../../support/fake-together';
import { pollerHarness } from '../../support/poller-harness';
import { iso, MINUTE, T0 } from '../../support/together-fixtures';

/** Issue 12, recipe 1: a completed fine-tune deployed on a dedicated endpoint, once, then followed to ready. */

const h = pollerHarness();
const { together, clock } = h;

const CONFIG: AutoDeployConfig = {
  hardware: '1x_nvidia_h100_80gb_sxm',
  minReplicas: 1,
  maxReplicas: 2,
  inactiveTimeoutMinutes: 60,
  scope: 'test',
  retentionSeconds: 7 * 86400,
};

function completed(id: string, data: Record<string, unknown> = {}) {
  const sample = sampleEvent('fine_tune.completed', `fine_tune.completed:${id}`);
  return {
    'detail-type': 'fine_tune.completed',
    source: 'together.ai',
    detail: {
      ...sample,
      data: {
        ...sample.data,
        fine_tune_id: id,
        model_name: `acme/Meta-Llama-3.1-8B-Instruct-${id}`,
        ...data,
      },
    },
  };
}

function deps(
  overrides: Partial<AutoDeployDeps> = {},
  config: Partial<AutoDeployConfig> = {},
): AutoDeployDeps {
  return {
    config: { ...CONFIG, ...config },
    store: new DynamoIdempotencyStore(h.dynamo.client, h.table),
    nowMs: clock.now(),
    remainingMs: 30_000,
    token: randomUUID(),
    log: (line) => h.logs.push(line),
    together: (method, path, body) =>
      togetherRequest({
        baseUrl: together.baseUrl,
        apiKey: together.apiKey,
        method,
        path,
        body,
        deadlineMs: Date.now() + 10_000,
        maxAttempts: method === 'POST' ? 1 : 3,
        timeoutMs: 2_000,
      }),
    ...overrides,
  };
}

const deploy = (event: unknown, d: AutoDeployDeps = deps()) => autoDeploy(readFineTuneCompleted(event), d);
const posts = () => together.requests.filter((r) => r.method === 'POST' && r.path === '/v1/endpoints');

function expectFaithful() {
  for (const r of together.requests) {
    expect(describedPath(r.method, r.path)).toBeDefined();
    if (r.method === 'POST') expect(requestErrors(r.method, r.path, r.body)).toBeUndefined();
  }
  const broken = together.answers.filter((a) => answerErrors(a.method, a.path, a.status, a.body));
  expect(broken.map((a) => `${a.method} ${a.path}`)).toEqual([]);
}

test('a completed fine-tune gets one endpoint; the poller follows it PENDING -> STARTING -> STARTED to endpoint.ready', async () => {
  const decision = await deploy(completed('ft-1'));
  expect(decision).toMatchObject({ action: 'created', endpointId: expect.stringMatching(/^endpoint-/) });
  expect(posts().map((r) => r.body)).toEqual([
    {
      model: 'acme/Meta-Llama-3.1-8B-Instruct-ft-1',
      hardware: '1x_nvidia_h100_80gb_sxm',
      autoscaling: { min_replicas: 1, max_replicas: 2 },
      display_name: 'acme/Meta-Llama-3.1-8B-Instruct-ft-1 (fine-tune ft-1)',
      inactive_timeout: 60,
    },
  ]);
  const endpoint = together.jobs.endpoints[0];
  const withEndpoints = h.deps({ config: { ...h.deps().config, sources: { endpoints: true } } });
  clock.t = T0 + MINUTE;
  await h.runPoll(withEndpoints);
  endpoint.state = 'STARTING';
  clock.t = T0 + 2 * MINUTE;
  await h.runPoll(withEndpoints);
  expect(h.keys()).toEqual([]);
  endpoint.state = 'STARTED';
  clock.t = T0 + 3 * MINUTE;
  await h.runPoll(withEndpoints);
  expect(h.published()).toEqual([
    {
      type: 'endpoint.ready',
      detail: expect.objectContaining({
        id: `endpoint.ready:${endpoint.id}:${iso(T0 + MINUTE)}`,
        data: {
          endpoint_id: endpoint.id,
          endpoint_name: endpoint.name,
          model: 'acme/Meta-Llama-3.1-8B-Instruct-ft-1',
          since: iso(T0 + MINUTE),
        },
      }),
    },
  ]);
  expectFaithful();
});

test('an endpoint that goes to ERROR is one endpoint.failed', async () => {
  await deploy(completed('ft-2'));
  const withEndpoints = h.deps({ config: { ...h.deps().config, sources: { endpoints: true } } });
  clock.t = T0 + MINUTE;
  await h.runPoll(withEndpoints);
  together.jobs.endpoints[0].state = 'ERROR';
  clock.t = T0 + 2 * MINUTE;
  await h.runPoll(withEndpoints);
  clock.t = T0 + 3 * MINUTE;
  await h.runPoll(withEndpoints);
  expect(h.published().map((p) => [p.type, p.detail.data.state])).toEqual([['endpoint.failed', 'ERROR']]);
});

test('redelivered, or delivered twice at once: still one endpoint', async () => {
  const event = completed('ft-3');
  const [a, b] = await Promise.allSettled([deploy(event), deploy(event)]);
  const results = [a, b].map((r) => (r.status === 'fulfilled' ? r.value.action : 'retry'));
  expect(results.sort()).toEqual(['created', 'retry']);
  expect(await deploy(event)).toEqual({ action: 'done_before' });
  expect(await deploy(event)).toEqual({ action: 'done_before' });
  expect(posts()).toHaveLength(1);
  expect(together.jobs.endpoints).toHaveLength(1);
});

test("a create whose answer is lost keeps the claim; the retry after it lapses adopts Together's endpoint", async () => {
  together.script('POST', /^\/v1\/endpoints$/, { status: 200, handledThenLost: true });
  const event = completed('ft-4');
  await expect(deploy(event)).rejects.toBeInstanceOf(CreateOutcomeUnknown);
  expect(together.jobs.endpoints).toHaveLength(1);
  // At once (the claim still holds): no second create.
  await expect(deploy(event)).rejects.toThrow('being deployed by another invocation');
  // After the claim lapsed (function end + margin): the listing shows it, and it is adopted.
  clock.t = T0 + 41_000;
  expect(await deploy(event, deps())).toEqual({
    action: 'adopted',
    endpointId: together.jobs.endpoints[0].id,
    endpointName: together.jobs.endpoints[0].name,
  });
  expect(posts()).toHaveLength(1);
  expect(together.jobs.endpoints).toHaveLength(1);
  expect(await deploy(event, deps())).toEqual({ action: 'done_before' });
});

test('Together refusing the create (400) frees the fine-tune for the retry and says why', async () => {
  together.script('POST', /^\/v1\/endpoints$/, {
    status: 400,
    body: {
      error: { message: 'hardware not available', type: 'invalid_request_error', code: null, param: null },
    },
  });
  const event = completed('ft-5');
  await expect(deploy(event)).rejects.toThrow(
    'Together refused the endpoint for acme/Meta-Llama-3.1-8B-Instruct-ft-5: HTTP 400: hardware not available',
  );
  expect(await deploy(event)).toMatchObject({ action: 'created' });
  expect(together.jobs.endpoints).toHaveLength(1);
});

test('the filter: eval_loss above the limit, unknown, or another model prefix deploys nothing and asks nothing', async () => {
  const strict = deps({}, { maxEvalLoss: 0.5, modelNamePrefix: 'acme/' });
  expect(await deploy(completed('ft-6', { eval_loss: 0.51 }), strict)).toEqual({
    action: 'skipped',
    reason: 'eval_loss 0.51 is above the limit 0.5',
  });
  expect(await deploy(completed('ft-7', { eval_loss: null }), strict)).toEqual({
    action: 'skipped',
    reason: 'eval_loss is unknown; deploying needs it at most 0.5',
  });
  expect(await deploy(completed('ft-8', { eval_loss: 0.3, model_name: 'other/model' }), strict)).toEqual({
    action: 'skipped',
    reason: 'model other/model does not start with "acme/"',
  });
  expect(together.requests).toEqual([]);
  expect(await deploy(completed('ft-9', { eval_loss: 0.5 }), strict)).toMatchObject({ action: 'created' });
});

test('an event that is not a usable fine_tune.completed is an error naming what is wrong', () => {
  expect(() => readFineTuneCompleted({ 'detail-type': 'batch.done', detail: {} })).toThrow(
    'expected a fine_tune.completed event, got detail-type batch.done',
  );
  expect(() => readFineTuneCompleted(completed('ft-x', { model_name: '' }))).toThrow(
    'fine_tune.completed ft-x without data.model_name: nothing to deploy',
  );
});

test('an error answer that echoes the API key: the key is in no error the handler throws', async () => {
  together.script('POST', /^\/v1\/endpoints$/, {
    status: 401,
    body: TOGETHER_ERROR(
      `Invalid API key provided: ${together.apiKey}`,
      'invalid_request_error',
      'invalid_api_key',
    ),
  });
  const refused = await deploy(completed('ft-k1')).catch((e: Error) => e);
  expect(String(refused)).toMatch(/HTTP 401: Invalid API key provided: \[API key\]/);
  together.script('GET', /^\/v1\/endpoints$/, {
    status: 403,
    body: TOGETHER_ERROR(`key ${together.apiKey} may not list endpoints`),
  });
  const listing = await deploy(completed('ft-k2')).catch((e: Error) => e);
  expect(String(listing)).toMatch(/listing your endpoints failed: HTTP 403/);
  for (const err of [refused, listing]) expect(String(err)).not.toContain(together.apiKey);
  expect(JSON.stringify(h.logs)).not.toContain(together.apiKey);
});
