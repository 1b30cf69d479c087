import { EVENT_CATALOGUE } from '../../../../lib/events';
import { writeTracked } from '../../../../lib/track';
import { PollerDeps } from '../../../../lambda/poller/core';
import { answerErrors, describedPath, queryErrors } from '../../../support/openapi';
import { pollerHarness } from '../../../support/poller-harness';
import { MINUTE, queueJob, T0 } from '../../../support/together-fixtures';

/** Issue 19: tracked queued inference jobs (GET /queue/status?request_id=&model=), with `tracking` on. */

const h = pollerHarness();
const { together, clock } = h;
const MODEL = 'acme/flux-batch';
const withTracking = (more: Partial<PollerDeps> = {}) =>
  h.deps({
    config: { ...h.deps().config, watchModels: [], sources: { videos: true, queueJobs: true } },
    ...more,
  });

async function pollAt(ms: number, deps = withTracking()) {
  clock.t = ms;
  return h.runPoll(deps);
}

const trackQueue = (id: string, model = MODEL) =>
  writeTracked(h.dynamo.client, h.table, 'test-scope', { kind: 'queue', id, model }, clock.t);

function move(id: string, status: Parameters<typeof queueJob>[2], at: number) {
  const i = together.jobs.queueJobs.findIndex((j) => j.request_id === id);
  together.jobs.queueJobs[i] = queueJob(id, together.jobs.queueJobs[i].model as string, status, at);
}

const statusGets = (id: string) =>
  together.requests.filter(
    (r) => r.path === '/v1/queue/status' && new URLSearchParams(r.search).get('request_id') === id,
  );

function expectFaithful() {
  expect(together.requests.length).toBeGreaterThan(0);
  for (const r of together.requests) {
    expect([r.path, describedPath(r.method, r.path)]).toEqual([r.path, expect.any(String)]);
    expect([r.path, queryErrors(r.method, r.path, r.search)]).toEqual([r.path, undefined]);
  }
  const broken = together.answers.filter((a) => answerErrors(a.method, a.path, a.status, a.body));
  expect(broken.map((a) => `${a.method} ${a.path}`)).toEqual([]);
}

test('pending -> running -> done is one queue_job.done; failed and canceled are queue_job.failed with the status', async () => {
  together.jobs.queueJobs = [
    queueJob('req-ok', MODEL, 'pending'),
    queueJob('req-bad', MODEL, 'running'),
    queueJob('req-cancel', 'acme/other', 'pending'),
  ];
  await trackQueue('req-ok');
  await trackQueue('req-bad');
  await trackQueue('req-cancel', 'acme/other');
  await pollAt(T0);
  move('req-ok', 'running', T0 + 30_000);
  await pollAt(T0 + MINUTE);
  expect(h.keys()).toEqual([]);
  move('req-ok', 'done', T0 + 90_000);
  move('req-bad', 'failed', T0 + 95_000);
  move('req-cancel', 'canceled', T0 + 99_000);
  await pollAt(T0 + 2 * MINUTE);
  await pollAt(T0 + 3 * MINUTE);
  await pollAt(T0 + 4 * MINUTE);
  expect(h.keys().sort()).toEqual([
    `queue_job.done:${MODEL}:req-ok`,
    `queue_job.failed:${MODEL}:req-bad`,
    'queue_job.failed:acme/other:req-cancel',
  ]);
  const data = Object.fromEntries(h.published().map((p) => [p.detail.data.request_id, p.detail.data]));
  expect(data['req-ok']).toEqual({ request_id: 'req-ok', model: MODEL });
  expect(data['req-bad']).toEqual({ request_id: 'req-bad', model: MODEL, status: 'failed' });
  expect(data['req-cancel']).toEqual({ request_id: 'req-cancel', model: 'acme/other', status: 'canceled' });
  expect(EVENT_CATALOGUE['queue_job.failed']).toHaveProperty('alert');
  expect(EVENT_CATALOGUE['queue_job.done']).not.toHaveProperty('alert');
  // Each asked for with its own model, once a poll until it finished.
  expect(statusGets('req-ok').map((r) => new URLSearchParams(r.search).get('model'))).toEqual([
    MODEL,
    MODEL,
    MODEL,
  ]);
  expectFaithful();
});

test('a restart in the middle: the state not saved, still one event', async () => {
  together.jobs.queueJobs = [queueJob('req-r', MODEL, 'running')];
  await trackQueue('req-r');
  await pollAt(T0);
  move('req-r', 'done', T0 + 30_000);
  const base = withTracking();
  const crashing = withTracking({
    state: {
      acquireLease: (holder, now, until) => base.state.acquireLease(holder, now, until),
      releaseLease: (holder) => base.state.releaseLease(holder),
      load: () => base.state.load(),
      save: () => Promise.reject(new Error('killed')),
    },
  });
  await pollAt(T0 + MINUTE, crashing).catch(() => undefined);
  await pollAt(T0 + 2 * MINUTE);
  await pollAt(T0 + 3 * MINUTE);
  expect(h.keys()).toEqual([`queue_job.done:${MODEL}:req-r`]);
});

test('a request Together does not know (404) is reported once and dropped', async () => {
  together.jobs.queueJobs = [queueJob('req-ok', MODEL, 'running')];
  await trackQueue('req-gone');
  await trackQueue('req-ok');
  await pollAt(T0);
  await pollAt(T0 + MINUTE);
  expect(statusGets('req-gone')).toHaveLength(1);
  expect(h.logs.filter((l) => String(l.message).includes('no longer known'))).toHaveLength(1);
  expect(statusGets('req-ok')).toHaveLength(2);
  expectFaithful();
});

test('a failing answer costs only its job', async () => {
  together.jobs.queueJobs = [queueJob('req-flaky', MODEL, 'done'), queueJob('req-fine', MODEL, 'done')];
  await trackQueue('req-flaky');
  await trackQueue('req-fine');
  together.script('GET', /^\/v1\/queue\/status$/, {
    status: 500,
    reply: (req) => ({
      code: 'internal',
      message: `failed ${new URLSearchParams(req.search).get('request_id')}`,
    }),
  });
  const first = await pollAt(T0);
  expect(first.errors).toBe(1);
  expect(h.keys()).toHaveLength(1);
  await pollAt(T0 + MINUTE);
  expect(h.keys().sort()).toEqual([`queue_job.done:${MODEL}:req-fine`, `queue_job.done:${MODEL}:req-flaky`]);
});

test('an answer for another request costs only that poll; a status Together adds is still running', async () => {
  together.jobs.queueJobs = [queueJob('req-odd', MODEL, 'running')];
  await trackQueue('req-odd');
  together.script('GET', /^\/v1\/queue\/status$/, { status: 200, body: queueJob('req-else', MODEL, 'done') });
  const first = await pollAt(T0);
  expect(first.failures).toEqual([expect.stringMatching(/answered with another job \("req-else"\)/)]);
  together.jobs.queueJobs[0].status = 'retrying'; // deliberately outside the spec's enum
  await pollAt(T0 + MINUTE);
  expect(h.keys()).toEqual([]);
  move('req-odd', 'canceled', T0 + 90_000);
  await pollAt(T0 + 2 * MINUTE);
  expect(h.keys()).toEqual([`queue_job.failed:${MODEL}:req-odd`]);
});

test("a request_id holding ':' is refused, so two jobs never share an entry or an outcome key; a model may hold one", async () => {
  clock.t = T0;
  // 'queue:acme/a:b:c' would be both request 'b:c' of 'acme/a' and request 'c' of 'acme/a:b'.
  await expect(trackQueue('b:c', 'acme/a')).rejects.toThrow(
    `track: a request_id must not contain ':', got "b:c"`,
  );
  together.jobs.queueJobs = [queueJob('c', 'acme/a:b', 'done'), queueJob('b', 'acme/a', 'done')];
  expect([await trackQueue('c', 'acme/a:b'), await trackQueue('b', 'acme/a')]).toEqual([
    { key: 'queue:acme/a:b:c', added: true },
    { key: 'queue:acme/a:b', added: true },
  ]);
  await pollAt(T0);
  expect(h.keys().sort()).toEqual(['queue_job.done:acme/a:b', 'queue_job.done:acme/a:b:c']);
});
