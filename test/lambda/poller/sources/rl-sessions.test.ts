import { PollerDeps } from '../../../../lambda/poller/core';
import { MAX_PAGES } from '../../../../lambda/poller/sources/rl-sessions';
import { TOGETHER_ERROR } from '../../../support/fake-together';
import { pollerHarness } from '../../../support/poller-harness';
import { HOUR, iso, MINUTE, rlTrainingSession, T0 } from '../../../support/together-fixtures';

/** Issue 19: RL training sessions followed by the poller to STOPPED, ERROR or EXPIRED. */

const h = pollerHarness();
const { together, clock } = h;
const withSessions = (overrides: Partial<PollerDeps> = {}) => h.withSources({ rlSessions: true }, overrides);

const pollAt = (ms: number, deps = withSessions()) => h.pollAt(ms, deps);

/** Moves a session on at `ms`, as Together would (its updated_at with it). */
function setStatus(id: string, status: string, ms: number) {
  const s = together.jobs.rlSessions.find((x) => x.id === id)!;
  s.status = `TRAINING_SESSION_STATUS_${status}`;
  s.updated_at = iso(ms);
}

test('CREATING -> RUNNING -> STOPPED is one rl_session.stopped; ERROR and EXPIRED are rl_session.failed; once each', async () => {
  together.jobs.rlSessions = ['rl-a', 'rl-b', 'rl-c'].map((id) =>
    rlTrainingSession(id, 'CREATING', T0 - MINUTE),
  );
  await pollAt(T0);
  setStatus('rl-a', 'RUNNING', T0 + 30_000);
  await pollAt(T0 + MINUTE);
  expect(h.keys()).toEqual([]);
  setStatus('rl-a', 'STOPPING', T0 + 90_000);
  setStatus('rl-b', 'ERROR', T0 + 100_000);
  await pollAt(T0 + 2 * MINUTE);
  setStatus('rl-a', 'STOPPED', T0 + 150_000);
  setStatus('rl-c', 'EXPIRED', T0 + 160_000);
  for (let i = 3; i <= 6; i++) await pollAt(T0 + i * MINUTE);
  expect(h.keys()).toEqual(['rl_session.failed:rl-b', 'rl_session.stopped:rl-a', 'rl_session.failed:rl-c']);
  const data = Object.fromEntries(h.published().map((p) => [p.detail.id, p.detail.data]));
  expect(data['rl_session.stopped:rl-a']).toEqual({
    session_id: 'rl-a',
    base_model: 'meta-llama/Meta-Llama-3-8B-Instruct',
  });
  expect(data['rl_session.failed:rl-b']).toMatchObject({ session_id: 'rl-b', status: 'ERROR' });
  expect(data['rl_session.failed:rl-c']).toMatchObject({ session_id: 'rl-c', status: 'EXPIRED' });
  expect(h.published().find((p) => p.detail.id === 'rl_session.stopped:rl-a')).toMatchObject({
    detail: { created_at: iso(T0 + 150_000) },
  });
  h.expectFaithful();
});

test('history at the first poll publishes nothing; one created and stopped between two polls is published', async () => {
  together.jobs.rlSessions = [rlTrainingSession('rl-old', 'STOPPED', T0 - 24 * HOUR)];
  await pollAt(T0);
  together.jobs.rlSessions.push(rlTrainingSession('rl-new', 'STOPPED', T0 + 20_000));
  await pollAt(T0 + MINUTE);
  await pollAt(T0 + 2 * MINUTE);
  expect(h.keys()).toEqual(['rl_session.stopped:rl-new']);
});

test('every page is read (limit=100, after= the cursor), and the listing is bounded', async () => {
  together.jobs.rlSessions = Array.from({ length: 250 }, (_, i) =>
    rlTrainingSession(`rl-${String(i).padStart(3, '0')}`, 'RUNNING', T0 - HOUR),
  );
  await pollAt(T0);
  setStatus('rl-249', 'STOPPED', T0 + 10_000); // on the third page
  await pollAt(T0 + MINUTE);
  expect(h.keys()).toEqual(['rl_session.stopped:rl-249']);
  const listings = together.requests.filter((r) => r.path === '/v1/rl/training-sessions').slice(-3);
  expect(listings.map((r) => r.search)).toEqual([
    '?limit=100',
    '?limit=100&after=rl-099',
    '?limit=100&after=rl-199',
  ]);
  // A cursor that never ends: at most MAX_PAGES requests, and the poll says its listing may be incomplete.
  const endless = (n: number) => ({
    status: 200,
    body: { data: [], meta: { limit: 100, has_more: true, next_cursor: `cursor-${n}` } },
  });
  together.script(
    'GET',
    /^\/v1\/rl\/training-sessions$/,
    ...Array.from({ length: MAX_PAGES + 5 }, (_, n) => endless(n)),
  );
  const before = together.requests.length;
  await pollAt(T0 + 2 * MINUTE);
  const asked = together.requests.slice(before).filter((r) => r.path === '/v1/rl/training-sessions');
  expect(asked).toHaveLength(MAX_PAGES);
  expect(JSON.stringify(h.logs)).toContain(`more than ${MAX_PAGES} pages of 100`);
  h.expectFaithful();
});

test('more pages without a next_cursor: the last session id is the cursor; with no session either, the listing says it is incomplete', async () => {
  together.rlSessionsWithoutCursor = true;
  together.jobs.rlSessions = Array.from({ length: 150 }, (_, i) =>
    rlTrainingSession(`rl-${String(i).padStart(3, '0')}`, 'RUNNING', T0 - HOUR),
  );
  await pollAt(T0);
  setStatus('rl-149', 'STOPPED', T0 + 10_000); // on the second page
  await pollAt(T0 + MINUTE);
  expect(h.keys()).toEqual(['rl_session.stopped:rl-149']);
  const listings = together.requests.filter((r) => r.path === '/v1/rl/training-sessions').slice(-2);
  expect(listings.map((r) => r.search)).toEqual(['?limit=100', '?limit=100&after=rl-099']);
  together.script('GET', /^\/v1\/rl\/training-sessions$/, {
    status: 200,
    body: { data: [], meta: { limit: 100, has_more: true } },
  });
  await pollAt(T0 + 2 * MINUTE);
  expect(JSON.stringify(h.logs)).toContain('more pages, but no cursor to read them with');
  h.expectFaithful();
});

test('a poll that dies after publishing, before saving its state: the next one publishes nothing twice', async () => {
  together.jobs.rlSessions = [rlTrainingSession('rl-k', 'RUNNING', T0 - MINUTE)];
  await pollAt(T0);
  setStatus('rl-k', 'STOPPED', T0 + 30_000);
  const dying = h.killedBeforeSave(withSessions());
  await pollAt(T0 + MINUTE, dying).catch(() => undefined);
  expect(h.keys()).toEqual(['rl_session.stopped:rl-k']);
  // State reloaded as the first poll left it: rl-k still followed, RUNNING; the claim says it went out.
  await pollAt(T0 + 3 * MINUTE);
  await pollAt(T0 + 4 * MINUTE);
  expect(h.keys()).toEqual(['rl_session.stopped:rl-k']);
});

test('a followed session the listing drops is asked for by id; one Together no longer knows (404) is dropped once', async () => {
  together.jobs.rlSessions = [
    rlTrainingSession('rl-d', 'RUNNING', T0 - MINUTE),
    rlTrainingSession('rl-gone', 'RUNNING', T0 - MINUTE),
  ];
  await pollAt(T0);
  together.jobs.unlisted.add('rl-d');
  setStatus('rl-d', 'ERROR', T0 + 30_000);
  together.jobs.rlSessions = together.jobs.rlSessions.filter((s) => s.id !== 'rl-gone');
  for (let i = 1; i <= 3; i++) await pollAt(T0 + i * MINUTE);
  expect(h.keys()).toEqual(['rl_session.failed:rl-d']);
  expect(together.requests.filter((r) => r.path === '/v1/rl/training-sessions/rl-gone')).toHaveLength(1);
  expect(h.logs.filter((l) => l.jobId === 'rl-gone')).toMatchObject([
    {
      level: 'WARN',
      message: 'followed job no longer known to Together: no longer followed',
      source: 'rl-sessions',
    },
  ]);
  h.expectFaithful();
});

test('a failing answer costs only its session: the other is published, it is retried next poll', async () => {
  together.jobs.rlSessions = ['rl-x', 'rl-y'].map((id) => rlTrainingSession(id, 'RUNNING', T0 - MINUTE));
  await pollAt(T0);
  together.jobs.unlisted.add('rl-x');
  together.jobs.unlisted.add('rl-y');
  setStatus('rl-x', 'STOPPED', T0 + 10_000);
  setStatus('rl-y', 'STOPPED', T0 + 20_000);
  const unavailable = { status: 503, body: TOGETHER_ERROR('unavailable', 'server_error') };
  together.script('GET', /\/rl\/training-sessions\/rl-x$/, unavailable, unavailable);
  expect(await pollAt(T0 + MINUTE)).toMatchObject({ errors: 1 });
  expect(h.keys()).toEqual(['rl_session.stopped:rl-y']);
  expect(await pollAt(T0 + 2 * MINUTE)).toMatchObject({ errors: 1 });
  expect(await pollAt(T0 + 3 * MINUTE)).toMatchObject({ errors: 0 });
  expect(h.keys()).toEqual(['rl_session.stopped:rl-y', 'rl_session.stopped:rl-x']);
});

test('a status the spec does not list (or UNSPECIFIED) is still running: STOPPED after it is one event', async () => {
  together.jobs.rlSessions = [rlTrainingSession('rl-u', 'UNSPECIFIED', T0 - MINUTE)];
  await pollAt(T0);
  setStatus('rl-u', 'PREEMPTED', T0 + 10_000); // deliberately outside the spec's enum
  await pollAt(T0 + MINUTE);
  expect(h.keys()).toEqual([]);
  setStatus('rl-u', 'STOPPED', T0 + 70_000);
  await pollAt(T0 + 2 * MINUTE);
  expect(h.keys()).toEqual(['rl_session.stopped:rl-u']);
});

test('off unless asked for: the default poller never calls /rl/training-sessions', async () => {
  together.jobs.rlSessions = [rlTrainingSession('rl-o', 'STOPPED', T0 - MINUTE)];
  clock.t = T0;
  await h.runPoll();
  clock.t = T0 + MINUTE;
  await h.runPoll();
  expect(together.requests.filter((r) => r.path.startsWith('/v1/rl'))).toEqual([]);
});
