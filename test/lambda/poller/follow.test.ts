import { PublishCommand } from '@aws-sdk/client-sns';
import { readPollerEnv } from '../../../lambda/poller/config';
import { PollerDeps, PollSummary, pollWindow, RESERVES } from '../../../lambda/poller/core';
import { FastFollowConfig, FOLLOW_TIMING, nextRecheck } from '../../../lambda/poller/follow';
import { DynamoPollerStateStore } from '../../../lambda/poller/state';
import { ApiClock } from '../../../lambda/shared/together-api';
import { TOGETHER_ERROR } from '../../support/fake-together';
import { pollerHarness } from '../../support/poller-harness';
import { writeTracked } from '../../../lib/track';
import { batch, deployment, fineTune, gpuCluster, HOUR, T0, video } from '../../support/together-fixtures';

// Fast follow (lambda/poller/follow.ts): re-checks of unfinished jobs within one invocation, on the harness's
// virtual clock. Each test starts at T0 with a one-minute schedule; the slots are counted back from the latest
// re-check that still ends before the next tick.

const B1 = '0b7c3a52-1d2e-4f60-8a9b-0c1d2e3f4a5b';
const B2 = '1c8d4b63-2e3f-4071-9bac-1d2e3f4a5b6c';
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const FF: FastFollowConfig = { everyMs: 10 * SECOND, requestsPerMinute: 60, intervalMs: MINUTE };
/** The latest re-check that ends before the next tick, and the slots 10 s apart back from it. */
const LATEST = T0 + MINUTE - FOLLOW_TIMING.marginMs - FOLLOW_TIMING.tailMs - FOLLOW_TIMING.workMs;
const SLOTS = [4, 3, 2, 1, 0].map((k) => LATEST - k * FF.everyMs);

const h = pollerHarness();
const { together, clock, sns } = h;

/** The construct's timeout with fast follow on a one-minute schedule: the interval plus a minute. */
const window = () => pollWindow(clock.now(), 2 * MINUTE, RESERVES);

/** A clock that runs `onWake(n)` as the n-th wait ends, just before re-check n. */
function wakingClock(onWake: (n: number) => unknown): ApiClock {
  let n = 0;
  return {
    now: clock.now,
    random: clock.random,
    sleep: async (ms) => {
      clock.t += ms;
      await onWake(++n);
    },
  };
}

function ffDeps(ff: Partial<FastFollowConfig> = {}, overrides: Partial<PollerDeps> = {}): PollerDeps {
  const base = h.deps();
  return h.deps({
    config: { ...base.config, watchModels: [], fastFollow: { ...FF, ...ff } },
    ...overrides,
  });
}

const batchPaths = () => together.requests.filter((r) => r.path === '/v1/batches');

describe('fast follow', () => {
  test('a batch finishing between two re-checks is published by the next one, and the loop then ends', async () => {
    together.jobs.batches = [batch(B1, 'IN_PROGRESS')];
    let wakes = 0;
    let finishedAt = 0;
    const publishedAt: Array<{ t: number; wakes: number }> = [];
    const d = ffDeps(
      {},
      {
        clock: wakingClock((n) => {
          wakes = n;
          // Between re-check 1 and re-check 2.
          if (n === 2) {
            finishedAt = clock.t - 3 * SECOND;
            together.jobs.batches = [batch(B1, 'COMPLETED', { completedAt: finishedAt, output: 'file-1' })];
          }
        }),
      },
    );
    const realPublish = d.publish;
    const summary = await h.runPoll(
      {
        ...d,
        publish: async (type, detail) => {
          publishedAt.push({ t: clock.t, wakes });
          await realPublish(type, detail);
        },
      },
      window(),
    );
    expect(h.keys()).toEqual([`batch.done:${B1}`]);
    // Published by re-check 2, the first after it finished: within two re-checks, and within one wait.
    expect(publishedAt).toEqual([{ t: SLOTS[1], wakes: 2 }]);
    expect(publishedAt[0].t - finishedAt).toBeLessThanOrEqual(FF.everyMs);
    expect(summary).toMatchObject({
      outcome: 'completed',
      published: 1,
      rechecks: 2,
      followEnded: 'idle',
      followed: { batches: 0 },
      requests: 2 + 2,
    });
    // The poll's two listings, then one listing of batches per re-check.
    expect(batchPaths()).toHaveLength(3);
    expect(together.requests.filter((r) => r.path === '/v1/fine-tunes')).toHaveLength(1);
  });

  test('a tracked video (no listing) is asked for by id at each re-check and published by the first after it finished', async () => {
    await writeTracked(h.dynamo.client, h.table, 'test-scope', { kind: 'video', id: 'vid-ff' }, T0 - MINUTE);
    together.jobs.videos = [video('vid-ff', 'in_progress')];
    const publishedAt: number[] = [];
    const base = ffDeps(
      {},
      {
        clock: wakingClock((n) => {
          if (n === 2) together.jobs.videos = [video('vid-ff', 'completed', { at: clock.t - 3 * SECOND })];
        }),
      },
    );
    const d = { ...base, config: { ...base.config, sources: { videos: true } } };
    const summary = await h.runPoll(
      { ...d, publish: async (type, detail) => (publishedAt.push(clock.t), d.publish(type, detail)) },
      window(),
    );
    expect(h.keys()).toEqual(['video.completed:vid-ff']);
    expect(publishedAt).toEqual([SLOTS[1]]);
    expect(summary).toMatchObject({ rechecks: 2, followEnded: 'idle', followed: { videos: 0 } });
    // The poll's GET, then one per re-check until it was done.
    expect(together.requests.filter((r) => r.path === '/v2/videos/vid-ff')).toHaveLength(3);
  });

  test('the lease holds through the loop: a tick mid-loop is skipped, the loop ends before the next tick, which runs', async () => {
    together.jobs.batches = [batch(B1, 'IN_PROGRESS')];
    const midLoop: PollSummary[] = [];
    const d = ffDeps(
      {},
      {
        clock: wakingClock(async (n) => void (n === 2 && midLoop.push(await h.runPoll(h.deps(), window())))),
      },
    );
    const summary = await h.runPoll(d, window());
    expect(midLoop.map((s) => s.outcome)).toEqual(['skipped']);
    expect(summary).toMatchObject({ outcome: 'completed', rechecks: 5, followEnded: 'next tick' });
    // Ended with the margin to spare before the next tick (the virtual clock moves only by the waits).
    expect(clock.t).toBe(SLOTS[4]);
    expect(clock.t + FOLLOW_TIMING.workMs + FOLLOW_TIMING.tailMs).toBeLessThanOrEqual(
      T0 + MINUTE - FOLLOW_TIMING.marginMs,
    );
    // The next tick finds the lease free and runs normally, re-checks and all.
    clock.t = T0 + MINUTE;
    together.jobs.batches = [batch(B1, 'COMPLETED', { completedAt: T0 + 55 * SECOND, output: 'file-1' })];
    expect(await h.runPoll(ffDeps(), window())).toMatchObject({
      outcome: 'completed',
      published: 1,
      rechecks: 0,
      followEnded: 'idle',
    });
    expect(h.keys()).toEqual([`batch.done:${B1}`]);
  });

  test('the request budget stops the re-checks, the poll counted in it', async () => {
    together.jobs.batches = [batch(B1, 'IN_PROGRESS')];
    // The poll makes 2 (fine-tunes, batches), each re-check 1 (batches): 2 + 1 + 1 = 4, a third would make 5.
    const summary = await h.runPoll(ffDeps({ requestsPerMinute: 4 }), window());
    expect(summary).toMatchObject({ rechecks: 2, followEnded: 'budget', requests: 4 });
    expect(together.requests).toHaveLength(4);
  });

  test('the budget is per minute of the interval', async () => {
    together.jobs.batches = [batch(B1, 'IN_PROGRESS')];
    const d = ffDeps({ requestsPerMinute: 2, intervalMs: 2 * MINUTE, everyMs: 30 * SECOND });
    const summary = await h.runPoll(d, pollWindow(clock.now(), 3 * MINUTE, RESERVES));
    expect(summary).toMatchObject({ rechecks: 2, followEnded: 'budget', requests: 4 });
  });

  test('idle: no re-checks, no wait, the same requests as without fast follow', async () => {
    together.jobs.batches = [batch(B1, 'COMPLETED', { completedAt: T0 - SECOND, output: 'file-1' })];
    // Clusters and deployments are followed for as long as they exist: not something to re-check.
    together.jobs.clusters = [gpuCluster('c-1', 'Ready')];
    together.jobs.deployments = [deployment('dep-1', 'Ready', T0 - 3 * HOUR)];
    const config = { ...h.deps().config, watchModels: [], sources: { clusters: true, deployments: true } };
    const withFollow = await h.runPoll(
      h.deps({ config: { ...config, fastFollow: FF } }, 'scope-a'),
      window(),
    );
    const paths = together.requests.map((r) => `${r.method} ${r.path}${r.search}`);
    expect(clock.t).toBe(T0);
    expect(withFollow).toMatchObject({
      rechecks: 0,
      followEnded: 'idle',
      followed: { clusters: 1, deployments: 1 },
    });
    together.requests.length = 0;
    const without = await h.runPoll(h.deps({ config }, 'scope-b'), window());
    expect(together.requests.map((r) => `${r.method} ${r.path}${r.search}`)).toEqual(paths);
    expect(without.requests).toBe(withFollow.requests);
    expect(without).not.toHaveProperty('rechecks');
    expect(clock.t).toBe(T0);
  });

  test('killed mid-loop: what a re-check delivered was saved, and the next poll publishes nothing twice', async () => {
    together.jobs.batches = [batch(B1, 'IN_PROGRESS'), batch(B2, 'IN_PROGRESS')];
    const reader = () => new DynamoPollerStateStore(h.dynamo.client, h.table, 'test-scope');
    let savedAtCrash: Awaited<ReturnType<DynamoPollerStateStore['load']>> | undefined;
    const d = ffDeps(
      {},
      {
        clock: wakingClock(async (n) => {
          if (n === 2) {
            together.jobs.batches[0] = batch(B1, 'FAILED', {
              completedAt: clock.t - SECOND,
              error: 'bad input',
            });
          }
          if (n === 3) {
            savedAtCrash = await reader().load();
            throw new Error('Lambda killed');
          }
        }),
      },
    );
    const summary = await h.runPoll(d, window());
    expect(savedAtCrash?.batches?.open).not.toHaveProperty(B1);
    expect(savedAtCrash?.batches?.open).toHaveProperty(B2);
    expect(savedAtCrash?.batches?.done).toHaveProperty(B1);
    expect(summary).toMatchObject({ outcome: 'stopped', stoppedBy: 'internal', rechecks: 2 });
    clock.t = T0 + MINUTE;
    together.jobs.batches[1] = batch(B2, 'COMPLETED', { completedAt: clock.t - SECOND, output: 'file-2' });
    await h.runPoll(ffDeps(), window());
    expect(h.keys()).toEqual([`batch.done:${B1}`, `batch.done:${B2}`]);
  });

  test.each([
    [
      'a rate limit',
      'rate_limited',
      () =>
        void together.script('GET', /^\/v1\/batches$/, {
          status: 429,
          body: TOGETHER_ERROR('slow down', 'rate_limit_exceeded'),
        }),
    ],
    ['a refused key', 'auth', () => void (together.apiKey = 'tgp_rotated_elsewhere')],
  ])('%s ends the loop at once', async (_name, kind, fault) => {
    together.jobs.batches = [batch(B1, 'IN_PROGRESS')];
    const summary = await h.runPoll(ffDeps({}, { clock: wakingClock((n) => n === 2 && fault()) }), window());
    expect(summary).toMatchObject({
      outcome: 'stopped',
      stoppedBy: kind,
      rechecks: 2,
      followEnded: 'stopped',
    });
    expect(summary.rateLimited).toBe(kind === 'rate_limited');
    // The poll's listing, re-check 1's, and re-check 2's that was refused: nothing after it.
    expect(batchPaths()).toHaveLength(3);
    expect(clock.t).toBe(SLOTS[1]);
    expect(sns.commandCalls(PublishCommand)).toHaveLength(kind === 'auth' ? 1 : 0);
  });

  test('a failing listing ends the loop: the tick retries, the loop does not hammer Together', async () => {
    together.jobs.batches = [batch(B1, 'IN_PROGRESS')];
    const fault = () =>
      together.script('GET', /^\/v1\/batches$/, {
        status: 500,
        body: TOGETHER_ERROR('oops', 'server_error'),
      });
    const summary = await h.runPoll(ffDeps({}, { clock: wakingClock((n) => n === 1 && fault()) }), window());
    expect(summary).toMatchObject({ outcome: 'incomplete', errors: 1, rechecks: 1, followEnded: 'failed' });
    expect(summary.failures).toEqual([expect.stringMatching(/^batches: GET \/batches: HTTP 500/)]);
  });

  test("the key's read failing ends the loop as a failure, before any re-check", async () => {
    together.jobs.batches = [batch(B1, 'IN_PROGRESS')];
    let reads = 0;
    const d = ffDeps(
      {},
      { getApiKey: async () => (++reads === 1 ? together.apiKey : Promise.reject(new Error('down'))) },
    );
    const summary = await h.runPoll(d, window());
    expect(summary).toMatchObject({ outcome: 'incomplete', rechecks: 0, followEnded: 'failed', errors: 1 });
    expect(summary.failures).toEqual(['fast follow: reading the API key: Error: down']);
  });

  test('a job held back (its delivery failed) waits for the tick: re-checks do not spend its attempts', async () => {
    together.jobs.fineTunes = [
      fineTune('ft-h', 'running', T0 - MINUTE),
      fineTune('ft-r', 'running', T0 - MINUTE),
    ];
    const fail = () => {
      together.jobs.fineTunes[0] = fineTune('ft-h', 'completed', clock.t - SECOND);
      together.script('GET', /ft-h\/events$/, { status: 500, body: TOGETHER_ERROR('oops', 'server_error') });
    };
    const summary = await h.runPoll(ffDeps({}, { clock: wakingClock((n) => n === 1 && fail()) }), window());
    // Re-check 1 tried it and failed (the loop ends there); the next tick tries again, a minute later.
    expect(summary).toMatchObject({ rechecks: 1, followEnded: 'failed', heldBack: 1 });
    const eventsOf = () => together.requests.filter((r) => r.path === '/v1/fine-tunes/ft-h/events');
    expect(eventsOf()).toHaveLength(2); // the poll's progress visit, re-check 1's finish
    clock.t = T0 + MINUTE;
    const next = await h.runPoll(ffDeps(), window());
    // The tick delivers it; its re-checks then follow ft-r, and it is gone from what they list.
    expect(next).toMatchObject({ published: 1, heldBack: 0, rechecks: 5, followEnded: 'next tick' });
    expect(h.keys()).toEqual(['fine_tune.completed:ft-h']);
  });

  test('with a held-back job and another running, re-checks skip the held-back one', async () => {
    together.jobs.fineTunes = [
      fineTune('ft-h', 'completed', T0 - MINUTE),
      fineTune('ft-r', 'running', T0 - MINUTE),
    ];
    together.script('GET', /ft-h\/events$/, { status: 500, body: TOGETHER_ERROR('oops', 'server_error') });
    const summary = await h.runPoll(ffDeps(), window());
    expect(summary).toMatchObject({ heldBack: 1, rechecks: 5, followEnded: 'next tick' });
    // Only the poll asked for its events: each re-check listed it and left it to the tick.
    expect(together.requests.filter((r) => r.path === '/v1/fine-tunes/ft-h/events')).toHaveLength(1);
    const state = await new DynamoPollerStateStore(h.dynamo.client, h.table, 'test-scope').load();
    expect(state.fineTunes?.open['ft-h']).toMatchObject({ finished: true, finishFailures: 1 });
  });

  test('the poll log line counts the whole invocation and says how the loop ended', async () => {
    together.jobs.batches = [batch(B1, 'IN_PROGRESS')];
    await h.runPoll(ffDeps({ requestsPerMinute: 4 }), window());
    expect(h.logs).toHaveLength(1);
    expect(h.logs[0]).toMatchObject({
      message: 'poll',
      requests: 4,
      rechecks: 2,
      followEnded: 'budget',
      TogetherRequests: 4,
      latencyMs: SLOTS[1] - T0,
    });
  });

  test('tracked videos count against the budget at their visits, not one a source: the loop stops before exceeding it', async () => {
    const ids = Array.from({ length: 60 }, (_, i) => `vid-${String(i).padStart(2, '0')}`);
    for (const id of ids)
      await writeTracked(h.dynamo.client, h.table, 'test-scope', { kind: 'video', id }, T0 - MINUTE);
    together.jobs.videos = ids.map((id) => video(id, 'in_progress'));
    const base = ffDeps({}, { clock: wakingClock(() => undefined) });
    const summary = await h.runPoll(
      { ...base, config: { ...base.config, sources: { videos: true } } },
      window(),
    );
    // The poll's two listings and 50 GETs; a re-check would make 50 more of the 60 a minute allowed.
    expect({ requests: together.requests.length, summary }).toMatchObject({
      requests: 52,
      summary: { requests: 52, rechecks: 0, followEnded: 'budget' },
    });
  });

  test('a re-check asks for tracked operations by id only within what is left of the budget', async () => {
    for (const id of ['vid-a', 'vid-b'])
      await writeTracked(h.dynamo.client, h.table, 'test-scope', { kind: 'video', id }, T0 - MINUTE);
    const more = Array.from({ length: 100 }, (_, i) => `vid-${String(i).padStart(3, '0')}`);
    together.jobs.videos = [...['vid-a', 'vid-b', ...more].map((id) => video(id, 'in_progress'))];
    // Tracked after the first re-check, which estimated the next at its own 2 requests.
    const clock2 = wakingClock(async (n) => {
      if (n === 2)
        for (const id of more)
          await writeTracked(h.dynamo.client, h.table, 'test-scope', { kind: 'video', id }, clock.t);
    });
    const base = ffDeps({ requestsPerMinute: 30 }, { clock: clock2 });
    const summary = await h.runPoll(
      { ...base, config: { ...base.config, sources: { videos: true } } },
      window(),
    );
    expect({ requests: together.requests.length, summary }).toMatchObject({
      requests: 30,
      summary: { requests: 30, rechecks: 2, followEnded: 'budget' },
    });
  });
});

describe('the re-check slots', () => {
  const w = pollWindow(T0, 2 * MINUTE, RESERVES);

  test('counted back from the latest that ends before the next tick, the first after now', () => {
    expect(nextRecheck(FF, w, T0, T0 + 500)).toBe(SLOTS[0]);
    expect(nextRecheck(FF, w, T0, SLOTS[0])).toBe(SLOTS[1]);
    expect(nextRecheck(FF, w, T0, SLOTS[3] + 1)).toBe(SLOTS[4]);
    expect(nextRecheck(FF, w, T0, SLOTS[4])).toBeUndefined();
    expect(nextRecheck({ ...FF, everyMs: 30 * SECOND }, w, T0, T0 + 500)).toBe(LATEST - 30 * SECOND);
  });

  test("within the function's end: a re-check's work stops while the worst-case delivery and save still fit", () => {
    // A 90 s function (the timeout without fast follow): its work must end 46 s before, at T0 + 44 s.
    const short = pollWindow(T0, 90 * SECOND, RESERVES);
    const hard = short.claimDeadlineMs - short.deliveryMs - FOLLOW_TIMING.workMs;
    expect(hard).toBeLessThan(LATEST);
    expect(nextRecheck(FF, short, T0, T0 + 500)).toBe(hard - 3 * FF.everyMs);
    expect(nextRecheck(FF, short, T0, hard)).toBeUndefined();
  });
});

describe('the environment', () => {
  const base = {
    TABLE_NAME: 't',
    STATE_SCOPE: 's',
    CLAIM_SCOPE: 'c',
    EVENT_BUS_NAME: 'b',
    API_KEY_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:111111111111:secret:k',
  };

  test('off without FAST_FOLLOW_SECONDS; on with it, the budget defaulted', () => {
    expect(readPollerEnv(base).fastFollow).toBeUndefined();
    expect(
      readPollerEnv({ ...base, FAST_FOLLOW_SECONDS: '10', POLL_INTERVAL_SECONDS: '60' }).fastFollow,
    ).toEqual({
      everyMs: 10_000,
      intervalMs: 60_000,
      requestsPerMinute: 60,
    });
  });

  test.each([
    [{ FAST_FOLLOW_SECONDS: '5' }, 'FAST_FOLLOW_SECONDS must be a number of seconds (at least 10), got "5"'],
    [
      { FAST_FOLLOW_SECONDS: '60' },
      'FAST_FOLLOW_SECONDS must be less than POLL_INTERVAL_SECONDS (60), got "60"',
    ],
    [
      { FAST_FOLLOW_SECONDS: '10', FAST_FOLLOW_REQUESTS_PER_MINUTE: '0' },
      'FAST_FOLLOW_REQUESTS_PER_MINUTE must be a whole number of requests (at least 1), got "0"',
    ],
  ])('%j is refused', (env, message) => {
    expect(() => readPollerEnv({ ...base, ...env })).toThrow(message);
  });
});
