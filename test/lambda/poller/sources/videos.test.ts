import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { trackInboxKey } from '../../../../lib/claim-keys';
import { EVENT_CATALOGUE } from '../../../../lib/events';
import { writeTracked } from '../../../../lib/track';
import { PollerDeps } from '../../../../lambda/poller/core';
import { TOGETHER_ERROR } from '../../../support/fake-together';
import { answerErrors, describedPath, queryErrors } from '../../../support/openapi';
import { pollerHarness } from '../../../support/poller-harness';
import { MINUTE, T0, video } from '../../../support/together-fixtures';

/** Issue 19: tracked video generations (GET /v2/videos/{id}), handed in through the inbox, with `tracking` on. */

const h = pollerHarness();
const { together, clock } = h;
const SCOPE = 'test-scope';
const withTracking = (more: Partial<PollerDeps> = {}) =>
  h.deps({
    config: { ...h.deps().config, watchModels: [], sources: { videos: true, queueJobs: true } },
    ...more,
  });

async function pollAt(ms: number, deps = withTracking()) {
  clock.t = ms;
  return h.runPoll(deps);
}

const trackVideo = (id: string, at = clock.t) =>
  writeTracked(h.dynamo.client, h.table, SCOPE, { kind: 'video', id }, at);

async function inbox(): Promise<string[]> {
  const out = await h.dynamo.client.send(
    new GetItemCommand({
      TableName: h.table,
      Key: { id: { S: trackInboxKey(SCOPE) } },
      ConsistentRead: true,
    }),
  );
  return Object.keys(out.Item ?? {})
    .filter((k) => k !== 'id')
    .sort();
}

function move(id: string, status: 'in_progress' | 'completed' | 'failed', at: number, message?: string) {
  const i = together.jobs.videos.findIndex((v) => v.id === id);
  together.jobs.videos[i] = video(id, status, { at, message });
}

const videoGets = (id: string) => together.requests.filter((r) => r.path === `/v2/videos/${id}`);

function expectFaithful() {
  expect(together.requests.length).toBeGreaterThan(0);
  for (const r of together.requests) {
    expect([r.path, describedPath(r.method, r.path)]).toEqual([r.path, expect.any(String)]);
    expect([r.path, queryErrors(r.method, r.path, r.search)]).toEqual([r.path, undefined]);
  }
  const broken = together.answers.filter((a) => answerErrors(a.method, a.path, a.status, a.body));
  expect(broken.map((a) => `${a.method} ${a.path}`)).toEqual([]);
}

test('in_progress -> completed is one video.completed with its URL; another -> failed is one video.failed', async () => {
  together.jobs.videos = [video('vid-ok', 'in_progress'), video('vid-bad', 'in_progress')];
  await trackVideo('vid-ok');
  await trackVideo('vid-bad');
  await pollAt(T0);
  await pollAt(T0 + MINUTE);
  expect(h.keys()).toEqual([]);
  move('vid-ok', 'completed', T0 + 90_000);
  move('vid-bad', 'failed', T0 + 100_000, 'content policy violation');
  await pollAt(T0 + 2 * MINUTE);
  // Nothing more for finished ones, however many polls follow: they left the inbox.
  await pollAt(T0 + 3 * MINUTE);
  await pollAt(T0 + 4 * MINUTE);
  expect(h.keys().sort()).toEqual(['video.completed:vid-ok', 'video.failed:vid-bad']);
  const byType = Object.fromEntries(h.published().map((p) => [p.type, p.detail]));
  expect(byType['video.completed'].data).toEqual({
    video_id: 'vid-ok',
    model: 'google/veo-3.0',
    video_url: 'https://api.together.ai/shrt/vid-ok',
    cost: 1,
  });
  expect(byType['video.completed']).toMatchObject({ created_at: new Date(T0 + 90_000).toISOString() });
  expect(byType['video.failed'].data).toEqual({
    video_id: 'vid-bad',
    model: 'google/veo-3.0',
    error_message: 'content policy violation',
  });
  expect(EVENT_CATALOGUE['video.failed']).toHaveProperty('alert');
  expect(EVENT_CATALOGUE['video.completed']).not.toHaveProperty('alert');
  expect(videoGets('vid-ok')).toHaveLength(3);
  expect(await inbox()).toEqual([]);
  expectFaithful();
});

test('a restart in the middle: the state not saved, the next poll publishes nothing again', async () => {
  together.jobs.videos = [video('vid-r', 'in_progress')];
  await trackVideo('vid-r');
  await pollAt(T0);
  move('vid-r', 'completed', T0 + 30_000);
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
  expect(h.keys()).toEqual(['video.completed:vid-r']);
  await pollAt(T0 + 2 * MINUTE);
  await pollAt(T0 + 3 * MINUTE);
  expect(h.keys()).toEqual(['video.completed:vid-r']);
});

test('a restart before the inbox entry is removed: the claim catches the repeat, one event', async () => {
  together.jobs.videos = [video('vid-k', 'completed', { at: T0 - 30_000 })];
  await trackVideo('vid-k');
  // The entry's removal fails (the inbox is left as it was): the next poll follows it again.
  const base = withTracking();
  const stuck = withTracking({
    inbox: { read: () => base.inbox!.read(), remove: () => Promise.reject(new Error('throttled')) },
  });
  const first = await pollAt(T0, stuck);
  expect(first.errors).toBe(1);
  expect(await inbox()).toEqual(['video:vid-k']);
  await pollAt(T0 + MINUTE);
  expect(h.keys()).toEqual(['video.completed:vid-k']);
  expect(await inbox()).toEqual([]);
});

test('an id Together does not know (404) is reported once and dropped; the others go on', async () => {
  together.jobs.videos = [video('vid-ok', 'in_progress')];
  await trackVideo('vid-gone');
  await trackVideo('vid-ok');
  await pollAt(T0);
  move('vid-ok', 'completed', T0 + 30_000);
  await pollAt(T0 + MINUTE);
  await pollAt(T0 + 2 * MINUTE);
  expect(h.keys()).toEqual(['video.completed:vid-ok']);
  expect(videoGets('vid-gone')).toHaveLength(1);
  const warned = h.logs.filter((l) => String(l.message).includes('no longer known'));
  expect(warned).toHaveLength(1);
  expect(warned[0]).toMatchObject({ level: 'WARN', source: 'videos', jobId: 'video:vid-gone' });
  expect(await inbox()).toEqual([]);
  expectFaithful();
});

test('a failing answer costs only its video: retried next poll, the other published meanwhile', async () => {
  together.jobs.videos = [
    video('vid-flaky', 'completed', { at: T0 - 1000 }),
    video('vid-fine', 'completed', { at: T0 - 1000 }),
  ];
  await trackVideo('vid-flaky');
  await trackVideo('vid-fine');
  together.script('GET', /^\/v2\/videos\/vid-flaky$/, {
    status: 500,
    body: TOGETHER_ERROR('internal error', 'server_error'),
  });
  const first = await pollAt(T0);
  expect(h.keys()).toEqual(['video.completed:vid-fine']);
  expect(first.errors).toBe(1);
  await pollAt(T0 + MINUTE);
  expect(h.keys()).toEqual(['video.completed:vid-fine', 'video.completed:vid-flaky']);
});

test('off unless asked for: without tracking, neither the inbox nor /v2/videos is read', async () => {
  await trackVideo('vid-x');
  together.jobs.videos = [video('vid-x', 'completed')];
  const reads: string[] = [];
  const base = h.deps();
  await pollAt(
    T0,
    h.deps({ inbox: { read: () => (reads.push('read'), base.inbox!.read()), remove: base.inbox!.remove } }),
  );
  expect(reads).toEqual([]);
  expect(together.requests.filter((r) => r.path.startsWith('/v2'))).toEqual([]);
  expect(h.keys()).toEqual([]);
});

test('an answer that is no video, or another one, costs only that poll; a status Together adds is still running', async () => {
  together.jobs.videos = [video('vid-odd', 'in_progress')];
  await trackVideo('vid-odd');
  together.script(
    'GET',
    /^\/v2\/videos\/vid-odd$/,
    { status: 200, body: { object: 'video', status: 'completed' } },
    { status: 200, body: video('vid-other', 'completed') },
  );
  const first = await pollAt(T0);
  const second = await pollAt(T0 + MINUTE);
  expect([first.failures, second.failures]).toEqual([
    [expect.stringMatching(/GET \/videos\/vid-odd: the answer is no video/)],
    [expect.stringMatching(/GET \/videos\/vid-odd: answered with another job \("vid-other"\)/)],
  ]);
  together.jobs.videos[0].status = 'queued'; // deliberately outside the spec's enum
  await pollAt(T0 + 2 * MINUTE);
  expect(h.keys()).toEqual([]);
  move('vid-odd', 'completed', T0 + 150_000);
  await pollAt(T0 + 3 * MINUTE);
  expect(h.keys()).toEqual(['video.completed:vid-odd']);
});

test('an API base URL that ends in no /v1 gives no v2 to ask: the video fails with a reason, nothing is sent for it', async () => {
  await trackVideo('vid-v');
  const deps = withTracking();
  const summary = await pollAt(T0, {
    ...deps,
    config: { ...deps.config, apiBaseUrl: together.baseUrl.replace(/\/v1$/, '/api') },
  });
  expect(summary.failures).toContainEqual(
    expect.stringMatching(/^videos video:vid-v: .*v2 API, and the API base URL ends in no \/v1/),
  );
  expect(together.requests.filter((r) => r.path.includes('videos'))).toEqual([]);
});
