import { EVENT_CATALOGUE } from '../../../../lib/events';
import { PollerDeps } from '../../../../lambda/poller/core';
import { TOGETHER_ERROR } from '../../../support/fake-together';
import { pollerHarness } from '../../../support/poller-harness';
import { job, MINUTE, T0 } from '../../../support/together-fixtures';

/** Issue 19: Together's jobs (GET /jobs: model uploads, ...) followed by the poller, with `jobs` on. */

const h = pollerHarness();
const { together, clock } = h;
const withJobs = (more: Partial<PollerDeps> = {}) => h.withSources({ jobs: true }, more);

const pollAt = (ms: number, deps = withJobs()) => h.pollAt(ms, deps);

function move(id: string, status: string, at: number, message?: string) {
  const j = together.jobs.jobs.find((x) => x.job_id === id)!;
  const moved = job(id, status, at, { message });
  Object.assign(j, { status, updated_at: moved.updated_at, status_updates: moved.status_updates });
}

test('Queued -> Running -> Complete is one job.completed; another Running -> Failed is one job.failed, alerted', async () => {
  together.jobs.jobs = [
    job('job-up', 'Queued', T0 - MINUTE),
    job('job-bad', 'Running', T0 - MINUTE, { modelName: null, type: 'model_upload' }),
  ];
  await pollAt(T0);
  move('job-up', 'Running', T0 + 30_000);
  await pollAt(T0 + MINUTE);
  expect(h.keys()).toEqual([]);
  move('job-up', 'Complete', T0 + 90_000);
  move('job-bad', 'Failed', T0 + 100_000, 'model source could not be downloaded');
  await pollAt(T0 + 2 * MINUTE);
  // Nothing for unchanged jobs, however often they are listed.
  await pollAt(T0 + 3 * MINUTE);
  await pollAt(T0 + 4 * MINUTE);
  expect(h.keys().sort()).toEqual(['job.completed:job-up', 'job.failed:job-bad']);
  const byType = Object.fromEntries(h.published().map((p) => [p.type, p.detail.data]));
  expect(byType['job.completed']).toEqual({
    job_id: 'job-up',
    job_type: 'model_upload',
    model_name: 'acme/Qwen2.5-72B-Instruct',
  });
  expect(byType['job.failed']).toEqual({
    job_id: 'job-bad',
    job_type: 'model_upload',
    model_name: null,
    error_message: 'model source could not be downloaded',
  });
  // The construct's alert rules come from the catalogue: the failure is alerted, the completion is not.
  expect(EVENT_CATALOGUE['job.failed']).toHaveProperty('alert');
  expect(EVENT_CATALOGUE['job.completed']).not.toHaveProperty('alert');
  expect(together.requests.filter((r) => r.path === '/v1/jobs').length).toBe(5);
  h.expectFaithful();
});

test('finished before the poller started: history, nothing published; one that finishes between two polls is', async () => {
  together.jobs.jobs = [job('job-old', 'Complete', T0 - 3 * 60 * MINUTE)];
  await pollAt(T0);
  together.jobs.jobs.push(job('job-new', 'Complete', T0 + 20_000, { type: 'adapter_upload' }));
  await pollAt(T0 + MINUTE);
  expect(h.keys()).toEqual(['job.completed:job-new']);
  expect(h.published()[0].detail.data.job_type).toBe('adapter_upload');
});

test('a restart in the middle: the state not saved, reloaded at the next poll, still one event', async () => {
  together.jobs.jobs = [job('job-r', 'Running', T0 - MINUTE)];
  await pollAt(T0);
  move('job-r', 'Complete', T0 + 30_000);
  // The Lambda dies after publishing, before its state is saved.
  const crashing = h.killedBeforeSave(withJobs());
  await pollAt(T0 + MINUTE, crashing).catch(() => undefined);
  expect(h.keys()).toEqual(['job.completed:job-r']);
  // A new instance: the state reloaded from the table (the job still followed), the claim says it went out.
  await pollAt(T0 + 2 * MINUTE);
  await pollAt(T0 + 3 * MINUTE);
  expect(h.keys()).toEqual(['job.completed:job-r']);
});

test('a followed job Together no longer knows (404) is dropped once, with a warning; the others go on', async () => {
  together.jobs.jobs = [job('job-gone', 'Running', T0 - MINUTE), job('job-ok', 'Running', T0 - MINUTE)];
  await pollAt(T0);
  together.jobs.jobs = together.jobs.jobs.filter((j) => j.job_id !== 'job-gone');
  move('job-ok', 'Complete', T0 + 30_000);
  await pollAt(T0 + MINUTE);
  await pollAt(T0 + 2 * MINUTE);
  expect(h.keys()).toEqual(['job.completed:job-ok']);
  expect(together.requests.filter((r) => r.path === '/v1/jobs/job-gone').length).toBe(1);
  expect(h.logs.filter((l) => String(l.message).includes('no longer known'))).toHaveLength(1);
  h.expectFaithful();
});

test('a failing answer costs only its job: retried next poll, the other job published meanwhile', async () => {
  together.jobs.jobs = [job('job-flaky', 'Running', T0 - MINUTE), job('job-fine', 'Running', T0 - MINUTE)];
  await pollAt(T0);
  together.jobs.unlisted.add('job-flaky');
  move('job-flaky', 'Complete', T0 + 20_000);
  move('job-fine', 'Complete', T0 + 30_000);
  together.script('GET', /^\/v1\/jobs\/job-flaky$/, {
    status: 500,
    body: TOGETHER_ERROR('internal error', 'server_error'),
  });
  const first = await pollAt(T0 + MINUTE);
  expect(h.keys()).toEqual(['job.completed:job-fine']);
  expect(first.errors).toBe(1);
  await pollAt(T0 + 2 * MINUTE);
  expect(h.keys()).toEqual(['job.completed:job-fine', 'job.completed:job-flaky']);
});

test('an item that is no job is left out; a status Together adds is still running', async () => {
  clock.t = T0;
  together.jobs.jobs = [job('job-new-status', 'Running', T0 - MINUTE)];
  together.script('GET', /^\/v1\/jobs$/, {
    status: 200,
    body: { data: [{ job_id: '', status: 'Complete' }, { status: 'Complete' }, together.jobs.jobs[0]] },
  });
  await pollAt(T0);
  together.jobs.jobs[0].status = 'Verifying'; // deliberately outside the spec's enum
  await pollAt(T0 + MINUTE);
  expect(h.keys()).toEqual([]);
  move('job-new-status', 'Complete', T0 + 90_000);
  await pollAt(T0 + 2 * MINUTE);
  expect(h.keys()).toEqual(['job.completed:job-new-status']);
});

test('off unless asked for: the default poller never calls /jobs', async () => {
  together.jobs.jobs = [job('job-x', 'Complete', T0 - MINUTE)];
  clock.t = T0;
  await h.runPoll();
  await pollAt(T0 + MINUTE, h.deps());
  expect(together.requests.filter((r) => r.path.startsWith('/v1/jobs'))).toEqual([]);
  expect(h.keys()).toEqual([]);
});
