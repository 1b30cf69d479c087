import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { PublishCommand } from '@aws-sdk/client-sns';
import { gunzipSync } from 'node:zlib';
import { PollerDeps, PollWindow, pollWindow, RESERVES } from '../../../lambda/poller/core';
import { DynamoPollerStateStore, STATE_VERSION, stateKey } from '../../../lambda/poller/state';
import { randomUUID } from 'node:crypto';
import { handleWebhook } from '../../../lambda/verifier/core';
import { FakeTogether, TOGETHER_ERROR } from '../../support/fake-together';
import { answerErrors, describedPath } from '../../support/openapi';
import { pollerHarness, WATCHED } from '../../support/poller-harness';
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
import { CLAIM_SCOPE, harness } from '../../support/verifier-harness';
import { outcomeClaimId } from '../../../lib/claim-keys';

/**
 * Issue 8: the poller never loses an outcome. Each defect the issue names, scripted over several polls against
 * the fake Together (answers checked against Together's OpenAPI description) and dynalite.
 */

const h = pollerHarness();
const { together, clock } = h;
const DAY = 24 * HOUR;
const B = (n: number) => `0b7c3a52-1d2e-4f60-8a9b-${String(n).padStart(12, '0')}`;
const sorted = (list: string[]) => [...list].sort();

/** Every request we sent is one Together describes, and every answer the fake gave matches its schema. */
function expectFaithfulFake() {
  const undescribed = together.requests.filter((r) => !describedPath(r.method, r.path));
  expect(undescribed.map((r) => `${r.method} ${r.path}`)).toEqual([]);
  const broken = together.answers
    .map((a) => ({
      at: `${a.method} ${a.path} ${a.status}`,
      errors: answerErrors(a.method, a.path, a.status, a.body),
    }))
    .filter((a) => a.errors);
  expect(broken).toEqual([]);
}

/** One poll at virtual time `ms`; `window` makes its window from that time (default: the Lambda's). */
async function pollAt(ms: number, d?: PollerDeps, window?: () => PollWindow) {
  clock.t = ms;
  return h.runPoll(d, window?.());
}

describe('1. batches: no completed_at, or a terminal state listed late', () => {
  test('a batch seen running that ends without completed_at is published, dated when seen finished', async () => {
    together.jobs.batches = [batch(B(1), 'IN_PROGRESS')];
    await pollAt(T0);
    together.jobs.batches = [batch(B(1), 'FAILED', { error: 'input file invalid' })];
    expect(together.jobs.batches[0]).not.toHaveProperty('completed_at');
    await pollAt(T0 + MINUTE);
    expect(h.keys()).toEqual([`batch.done:${B(1)}`]);
    // Never dated by created_at (an hour before): by the poll that saw it finished.
    expect(h.published()[0].detail).toMatchObject({
      created_at: iso(T0 + MINUTE),
      data: { status: 'FAILED', error: 'input file invalid' },
    });
    expectFaithfulFake();
  });

  test('a batch never seen running, without completed_at, is published by the next poll that lists it', async () => {
    await pollAt(T0);
    together.jobs.batches = [batch(B(2), 'CANCELLED')];
    await pollAt(T0 + MINUTE);
    await pollAt(T0 + 2 * MINUTE);
    expect(h.keys()).toEqual([`batch.done:${B(2)}`]);
  });

  test('a terminal state listed after a later batch moved the watermark is still published', async () => {
    together.jobs.batches = [
      batch(B(1), 'IN_PROGRESS'),
      batch(B(2), 'COMPLETED', { completedAt: T0 - 10_000, output: 'file-2' }),
    ];
    await pollAt(T0);
    expect(h.keys()).toEqual([`batch.done:${B(2)}`]);
    // The listing lagged: B1 finished before B2, and B3 (never listed before) too.
    together.jobs.batches = [
      batch(B(1), 'COMPLETED', { completedAt: T0 - 30_000, output: 'file-1' }),
      batch(B(2), 'COMPLETED', { completedAt: T0 - 10_000, output: 'file-2' }),
      batch(B(3), 'COMPLETED', { completedAt: T0 - 20_000, output: 'file-3' }),
    ];
    await pollAt(T0 + MINUTE);
    await pollAt(T0 + 2 * MINUTE);
    expect(sorted(h.keys())).toEqual(
      sorted([`batch.done:${B(2)}`, `batch.done:${B(1)}`, `batch.done:${B(3)}`]),
    );
  });

  test('history stays history: undated batches at deploy, and those whose deadline passed long ago', async () => {
    together.jobs.batches = [batch(B(4), 'FAILED'), batch(B(5), 'COMPLETED', { completedAt: T0 - 5 * HOUR })];
    await pollAt(T0);
    await pollAt(T0 + MINUTE);
    // An undated batch whose deadline (plus an hour) is before the horizon cannot be new.
    const old = { ...batch(B(6), 'EXPIRED'), job_deadline: iso(T0 - 3 * DAY) };
    together.jobs.batches.push(old);
    await pollAt(T0 + 2 * MINUTE);
    expect(h.keys()).toEqual([]);
  });
});

describe('2. isolation: one failing job or source costs only itself', () => {
  test('a fine-tune whose events keep failing holds back only itself, then is published without them', async () => {
    together.jobs.fineTunes = [
      fineTune('ft-bad', 'error', T0 - 2 * MINUTE),
      fineTune('ft-ok', 'completed', T0 - MINUTE),
    ];
    together.jobs.batches = [batch(B(1), 'COMPLETED', { completedAt: T0 - MINUTE, output: 'file-1' })];
    together.jobs.models = [model(WATCHED)];
    const failing = Array.from({ length: 20 }, () => ({
      status: 503,
      body: TOGETHER_ERROR('unavailable', 'server_error'),
    }));
    together.script('GET', /ft-bad\/events$/, ...failing);

    const first = await pollAt(T0);
    expect(first).toMatchObject({ outcome: 'incomplete', errors: 1, heldBack: 1 });
    expect(sorted(h.keys())).toEqual(sorted(['fine_tune.completed:ft-ok', `batch.done:${B(1)}`]));

    // Later outcomes keep flowing while it fails.
    together.jobs.fineTunes.push(fineTune('ft-new', 'cancelled', T0 + 30_000));
    for (let i = 1; i <= 3; i++) {
      expect(await pollAt(T0 + i * MINUTE)).toMatchObject({ outcome: 'incomplete', errors: 1, heldBack: 1 });
    }
    expect(h.keys()).toContain('fine_tune.cancelled:ft-new');
    expect(h.keys()).not.toContain('fine_tune.failed:ft-bad');

    // The fifth attempt publishes it without the details its events would have given.
    expect(await pollAt(T0 + 4 * MINUTE)).toMatchObject({ outcome: 'completed', heldBack: 0, published: 1 });
    expect(h.published().at(-1)!.detail).toMatchObject({
      id: 'fine_tune.failed:ft-bad',
      data: { fine_tune_id: 'ft-bad', error_message: 'fine-tune ended with status error', step: null },
    });
    expect(
      h.logs.some(
        (l) => l.message === 'publishing a finished fine-tune without its events, which could not be read',
      ),
    ).toBe(true);
    expect(new Set(h.keys()).size).toBe(h.keys().length);
  });

  test('a hung events request times out and costs only that job', async () => {
    together.jobs.fineTunes = [
      fineTune('ft-hung', 'running', T0 - MINUTE),
      fineTune('ft-ok', 'completed', T0 - MINUTE),
    ];
    together.jobs.events.set('ft-hung', [fineTuneEvent('checkpoint_save', T0 - MINUTE, { step: 10 })]);
    together.script('GET', /ft-hung\/events$/, { status: 200, body: { data: [] }, delayMs: 1_500 });
    const d = h.deps({ config: { ...h.deps().config, limits: { requestTimeoutMs: 300 } } });
    const first = await pollAt(T0, d);
    expect(first).toMatchObject({ outcome: 'incomplete', errors: 1 });
    expect(first.failures![0]).toMatch(/ft-hung.*no complete answer within 300 ms/);
    expect(h.keys()).toEqual(['fine_tune.completed:ft-ok']);
    await pollAt(T0 + MINUTE, d);
    expect(h.keys()).toEqual(['fine_tune.completed:ft-ok', 'fine_tune.checkpoint:ft-hung:10']);
  });

  test('a failing source does not stop the others; its outcomes come when it works again', async () => {
    together.jobs.fineTunes = [fineTune('ft-a', 'completed', T0 - MINUTE)];
    together.jobs.batches = [batch(B(1), 'COMPLETED', { completedAt: T0 - MINUTE, output: 'file-1' })];
    together.script('GET', /^\/v1\/fine-tunes$/, {
      status: 500,
      body: TOGETHER_ERROR('boom', 'server_error'),
    });
    const first = await pollAt(T0);
    expect(first).toMatchObject({ outcome: 'incomplete', errors: 1 });
    expect(first.failures).toEqual([expect.stringMatching(/^fine-tunes: GET \/fine-tunes: HTTP 500: boom/)]);
    expect(h.keys()).toEqual([`batch.done:${B(1)}`]);
    await pollAt(T0 + MINUTE);
    expect(h.keys()).toEqual([`batch.done:${B(1)}`, 'fine_tune.completed:ft-a']);
  });

  test('Together failing every events request: the poll is bounded by its visits, not stopped; listings flow', async () => {
    together.jobs.fineTunes = Array.from({ length: 20 }, (_, i) =>
      fineTune(`ft-${i}`, 'running', T0 - MINUTE),
    );
    await pollAt(T0);
    together.requests.length = 0;
    together.jobs.batches = [batch(B(1), 'COMPLETED', { completedAt: T0 + 30_000, output: 'f' })];
    together.script(
      'GET',
      /\/events$/,
      ...Array.from({ length: 50 }, () => ({ status: 502, body: TOGETHER_ERROR('bad gateway') })),
    );
    const d = h.deps({ config: { ...h.deps().config, limits: { visitsPerPoll: 8 } } });
    const second = await pollAt(T0 + MINUTE, d);
    expect(second).toMatchObject({ outcome: 'incomplete', errors: 8, visited: 8 });
    expect(second.stoppedBy).toBeUndefined();
    expect(together.requests.filter((r) => r.path.endsWith('/events'))).toHaveLength(8);
    expect(h.keys()).toEqual([`batch.done:${B(1)}`]);
  });
});

describe('3. bounded work with progress: hundreds of unfinished jobs, a slow API', () => {
  const N = 300;
  const CAP = 25;

  test('300 running jobs at 200 ms a request, 15 s a poll: a completion at once, every checkpoint within ceil(N/cap)+1 polls', async () => {
    // Latency on the virtual clock: every request costs 200 ms, as if none ran in parallel.
    together.latency = () => void (clock.t += 200);
    const ids = Array.from({ length: N }, (_, i) => `ft-${String(i).padStart(3, '0')}`);
    together.jobs.fineTunes = ids.map((id) => fineTune(id, 'queued', T0 - 10 * MINUTE));
    const d = h.deps({ config: { ...h.deps().config, limits: { visitsPerPoll: CAP } } });
    const window = () => pollWindow(clock.now(), 90_000, { ...RESERVES, maxWorkMs: 15_000 });
    await pollAt(T0, d, window);
    const visited = () =>
      new Set(together.requests.filter((r) => r.path.endsWith('/events')).map((r) => r.path.split('/')[3]));
    expect(visited().size).toBe(CAP);

    // Poll 2: every job saves a checkpoint; one of them (late in every order) has completed.
    for (const id of ids)
      together.jobs.events.set(id, [fineTuneEvent('checkpoint_save', T0 + 30_000, { step: 10 })]);
    for (const job of together.jobs.fineTunes) job.status = 'running';
    together.jobs.fineTunes[N - 1] = fineTune(ids[N - 1], 'completed', T0 + 50_000);
    const polls = Math.ceil(N / CAP) + 1;
    const published: number[] = [];
    for (let p = 0; p < polls; p++) {
      const summary = await pollAt(T0 + (p + 1) * MINUTE, d, window);
      expect(summary.outOfTime).toBe(false);
      published.push(summary.published);
      if (p === 0) expect(h.keys()).toContain(`fine_tune.completed:${ids[N - 1]}`);
      // Round robin: no job is visited twice before every job was visited once.
      if (p === Math.ceil(N / CAP) - 2) expect(visited().size).toBe(N);
    }
    const checkpoints = h.keys().filter((k) => k.startsWith('fine_tune.checkpoint:'));
    expect(sorted(checkpoints)).toEqual(sorted(ids.map((id) => `fine_tune.checkpoint:${id}:10`)));
    expect(new Set(h.keys()).size).toBe(h.keys().length);
    // Each poll visited at most CAP jobs' events.
    expect(Math.max(...published)).toBeLessThanOrEqual(CAP + 2);
  });

  test('a budget too small for the visits: terminal states still first, and the shortfall is counted', async () => {
    together.latency = () => void (clock.t += 200);
    together.jobs.fineTunes = Array.from({ length: 100 }, (_, i) =>
      fineTune(`ft-${i}`, 'running', T0 - MINUTE),
    );
    const d = h.deps({ config: { ...h.deps().config, limits: { visitsPerPoll: 50 } } });
    const window = () => pollWindow(clock.now(), 90_000, { ...RESERVES, maxWorkMs: 3_000 });
    await pollAt(T0, d, window);
    together.jobs.fineTunes[99] = fineTune('ft-99', 'completed', T0 + 30_000);
    const second = await pollAt(T0 + MINUTE, d, window);
    expect(second).toMatchObject({ outcome: 'incomplete', outOfTime: true });
    expect(h.keys()).toEqual(['fine_tune.completed:ft-99']);
    const line = h.logs.filter((l) => l.message === 'poll').at(-1)!;
    expect(line).toMatchObject({ OutOfTime: 1, PollIncomplete: 1, level: 'WARN' });
  });

  test('a 429 is counted (RateLimited, PollIncomplete), though not as an error', async () => {
    together.script('GET', /^\/v1\/fine-tunes$/, {
      status: 429,
      headers: { 'x-ratelimit-remaining': '0' },
      body: TOGETHER_ERROR('rate limit exceeded', 'rate_limit_exceeded'),
    });
    expect(await pollAt(T0)).toMatchObject({ outcome: 'stopped', rateLimited: true, errors: 0 });
    expect(h.logs.at(-1)).toMatchObject({ RateLimited: 1, PollIncomplete: 1, PollErrors: 0 });
  });

  test('the events a listing carries are used: no events request for those jobs', async () => {
    const withEvents = (id: string, step: number) =>
      fineTune(id, 'running', T0 - MINUTE, {
        events: [fineTuneEvent('checkpoint_save', T0 - 30_000, { step })],
      });
    together.jobs.fineTunes = [withEvents('ft-e1', 20), withEvents('ft-e2', 30)];
    await pollAt(T0);
    expect(sorted(h.keys())).toEqual(['fine_tune.checkpoint:ft-e1:20', 'fine_tune.checkpoint:ft-e2:30']);
    expect(together.requests.filter((r) => r.path.endsWith('/events'))).toEqual([]);
    expectFaithfulFake();
  });

  test('a followed job the listing no longer shows is asked for by id, and published when it finished', async () => {
    const id = '7f1e2d3c-4b5a-4697-8877-665544332211';
    together.jobs.fineTunes = [fineTune(id, 'running', T0 - MINUTE)];
    await pollAt(T0);
    together.jobs.fineTunes = [fineTune(id, 'completed', T0 + 30_000)];
    together.jobs.unlisted.add(id);
    await pollAt(T0 + MINUTE);
    expect(h.keys()).toEqual([`fine_tune.completed:${id}`]);
    expect(together.requests.some((r) => r.path === `/v1/fine-tunes/${id}`)).toBe(true);
    // One Together no longer knows is let go, with a warning.
    together.jobs.fineTunes = [fineTune('ft-gone', 'running', T0 + MINUTE)];
    await pollAt(T0 + 2 * MINUTE);
    together.jobs.fineTunes = [];
    await pollAt(T0 + 3 * MINUTE);
    expect(
      h.logs.some(
        (l) =>
          l.message === 'followed job no longer known to Together: no longer followed' &&
          l.jobId === 'ft-gone',
      ),
    ).toBe(true);
    expect((await pollAt(T0 + 4 * MINUTE)).followed).toEqual({
      fineTunes: 0,
      batches: 0,
      evaluations: 0,
      endpoints: 0,
      jobs: 0,
      deployments: 0,
      clusters: 0,
      rlSessions: 0,
      videos: 0,
      queueJobs: 0,
    });
    expectFaithfulFake();
  });
});

describe('4. a claim never lapses while the poller still runs', () => {
  test('claims and the lease last past the function end; a webhook meanwhile waits (409), one publish', async () => {
    together.jobs.fineTunes = [fineTune('ft-w', 'completed', T0 - MINUTE)];
    clock.t = T0;
    const window = h.window();
    const verifier = harness({ dynamoClient: h.dynamo.client, table: h.table, now: clock.now });
    const seen: Record<string, number> = {};
    let webhookStatus = 0;
    const base = h.deps();
    const d = h.deps({
      publish: async (type, detail) => {
        const item = async (id: string) =>
          (await h.dynamo.client.send(new GetItemCommand({ TableName: h.table, Key: { id: { S: id } } })))
            .Item!;
        seen.claim = Number(
          (await item(outcomeClaimId(CLAIM_SCOPE, 'fine_tune.completed:ft-w'))).in_progress_expiry.N,
        );
        seen.lease = Number((await item(stateKey('test-scope', 'lease'))).lease_until.N);
        // The publish is slow: the function's own end is near when the same outcome arrives by webhook.
        clock.t = window.endMs - 1_000;
        const pushed = envelope('evt_push', 'fine_tune.completed', {
          fine_tune_id: 'ft-w',
          model_name: 'm',
          eval_loss: null,
        });
        webhookStatus = (await handleWebhook(signedRequest(pushed), verifier.deps, 10_000)).statusCode;
        await base.publish(type, detail);
      },
    });
    await h.runPoll(d, window);
    expect(seen.claim).toBeGreaterThanOrEqual(window.endMs + 30_000);
    expect(seen.lease).toBeGreaterThanOrEqual(window.endMs + 30_000);
    expect(webhookStatus).toBe(409);
    expect(h.keys()).toEqual(['fine_tune.completed:ft-w']);
  });

  test('no claim starts when the time left cannot cover publish and complete; the next poll delivers', async () => {
    together.jobs.fineTunes = [fineTune('ft-late', 'completed', T0 - MINUTE)];
    clock.t = T0;
    const tight: PollWindow = {
      workDeadlineMs: T0 + 20_000,
      claimDeadlineMs: T0 + 10_000,
      endMs: T0 + 30_000,
      deliveryMs: 15_000,
    };
    const first = await h.runPoll(h.deps(), tight);
    expect(first).toMatchObject({ outcome: 'incomplete', outOfTime: true, published: 0 });
    const claim = await h.dynamo.client.send(
      new GetItemCommand({
        TableName: h.table,
        Key: { id: { S: outcomeClaimId(CLAIM_SCOPE, 'fine_tune.completed:ft-late') } },
      }),
    );
    expect(claim.Item).toBeUndefined();
    await pollAt(T0 + MINUTE);
    expect(h.keys()).toEqual(['fine_tune.completed:ft-late']);
  });

  test("the Lambda's window: requests stop early enough to deliver, claims early enough to save", () => {
    const w = pollWindow(T0, 90_000, RESERVES);
    expect(w.endMs).toBe(T0 + 90_000);
    expect(w.claimDeadlineMs).toBe(w.endMs - RESERVES.saveMs);
    expect(w.workDeadlineMs).toBeLessThanOrEqual(w.claimDeadlineMs - RESERVES.deliveryMs);
    expect(w.workDeadlineMs - T0).toBeGreaterThanOrEqual(30_000);
  });
});

describe('5. two constructs sharing one table', () => {
  const other = new FakeTogether();
  beforeAll(() => other.start());
  afterAll(() => other.stop());
  beforeEach(() => other.reset());

  test("each poller keeps its own state and lease: neither inherits the other's watermark", async () => {
    // A's account: a job finished just now. B's account: one finished 20 minutes ago, inside B's first lookback.
    together.jobs.fineTunes = [fineTune('ft-a', 'completed', T0 - MINUTE)];
    other.jobs.fineTunes = [fineTune('ft-b', 'completed', T0 - 20 * MINUTE)];
    const a = h.deps({}, 'scope-a');
    const b = h.deps(
      { config: { ...h.deps().config, apiBaseUrl: other.baseUrl }, getApiKey: async () => other.apiKey },
      'scope-b',
    );
    await pollAt(T0, a);
    clock.t = T0 + MINUTE;
    // Both at once: separate leases, so neither steps aside.
    const [ra, rb] = await Promise.all([h.runPoll(a), h.runPoll(b)]);
    expect([ra.outcome, rb.outcome]).toEqual(['completed', 'completed']);
    expect(sorted(h.keys())).toEqual(['fine_tune.completed:ft-a', 'fine_tune.completed:ft-b']);
    for (const scope of ['scope-a', 'scope-b']) {
      const item = await h.dynamo.client.send(
        new GetItemCommand({ TableName: h.table, Key: { id: { S: stateKey(scope, 'fineTunes') } } }),
      );
      expect(item.Item?.v?.N).toBe('2');
    }
  });
});

describe('6. one stall alert per episode, remembered beyond the dedupe retention', () => {
  test('a job stuck for days is reported once; a new stall after progress is reported again', async () => {
    together.jobs.fineTunes = [fineTune('ft-s', 'running', T0 - 7 * HOUR)];
    together.jobs.events.set('ft-s', [fineTuneEvent('training_start', T0 - 7 * HOUR)]);
    const d = h.deps({ config: { ...h.deps().config, retentionSeconds: 3600 } });
    await pollAt(T0, d);
    for (const at of [T0 + 2 * HOUR, T0 + DAY, T0 + 8 * DAY]) await pollAt(at, d);
    expect(h.keys()).toEqual([`fine_tune.stalled:ft-s:${iso(T0 - 7 * HOUR)}`]);
    together.jobs.events.get('ft-s')!.push(fineTuneEvent('epoch_complete', T0 + 9 * DAY));
    await pollAt(T0 + 9 * DAY + MINUTE, d);
    await pollAt(T0 + 9 * DAY + 7 * HOUR, d);
    expect(h.keys()).toEqual([
      `fine_tune.stalled:ft-s:${iso(T0 - 7 * HOUR)}`,
      `fine_tune.stalled:ft-s:${iso(T0 + 9 * DAY)}`,
    ]);
  });
});

describe('7. watched models: missing for a duration, one event per episode', () => {
  test('a two-minute glitch publishes nothing; a real removal later does; a return and a second removal again', async () => {
    const others = [model('Qwen/Qwen3.5-9B')];
    const listed = (present: boolean) =>
      (together.jobs.models = present ? [model(WATCHED), ...others] : [...others]);
    listed(true);
    await pollAt(T0);
    listed(false);
    await pollAt(T0 + MINUTE);
    await pollAt(T0 + 2 * MINUTE);
    listed(true);
    await pollAt(T0 + 3 * MINUTE);
    expect(h.keys()).toEqual([]);

    listed(false);
    for (const m of [10, 30, 69]) await pollAt(T0 + m * MINUTE);
    expect(h.keys()).toEqual([]);
    await pollAt(T0 + 70 * MINUTE);
    await pollAt(T0 + 90 * MINUTE);
    expect(h.keys()).toEqual([`model.deprecated:${WATCHED}:${iso(T0 + 10 * MINUTE)}`]);

    listed(true);
    await pollAt(T0 + 2 * HOUR);
    listed(false);
    await pollAt(T0 + 3 * HOUR);
    await pollAt(T0 + 4 * HOUR);
    expect(h.keys()).toEqual([
      `model.deprecated:${WATCHED}:${iso(T0 + 10 * MINUTE)}`,
      `model.deprecated:${WATCHED}:${iso(T0 + 3 * HOUR)}`,
    ]);
  });

  test('a watched model Together never listed is named in the poll log, not published', async () => {
    together.jobs.models = [model('Qwen/Qwen3.5-9B')];
    expect(await pollAt(T0)).toMatchObject({ notListed: [WATCHED], outcome: 'completed' });
    await pollAt(T0 + 2 * HOUR);
    expect(h.keys()).toEqual([]);
  });
});

describe('an invocation killed mid-publish', () => {
  test('later polls publish every outcome exactly once', async () => {
    together.jobs.fineTunes = ['ft-a', 'ft-b', 'ft-c', 'ft-d'].map((id, i) =>
      fineTune(id, 'completed', T0 - (i + 1) * MINUTE),
    );
    together.jobs.batches = [batch(B(1), 'COMPLETED', { completedAt: T0 - MINUTE, output: 'file-1' })];
    // The process dies inside the second PutEvents, before EventBridge took it: from then on nothing it does lands.
    const base = h.deps();
    let killed = false;
    let publishes = 0;
    const hang = () => new Promise<never>(() => undefined);
    const alive =
      <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
      (...args: A) =>
        killed ? hang() : fn(...args);
    const dying: PollerDeps = {
      ...base,
      publish: (type, detail) => {
        if (++publishes === 2) killed = true;
        return killed ? hang() : base.publish(type, detail);
      },
      store: {
        claim: alive((r) => base.store.claim(r)),
        complete: alive((r) => base.store.complete(r)),
        release: alive((r) => base.store.release(r)),
      },
      state: {
        acquireLease: alive((...a) => base.state.acquireLease(...a)),
        releaseLease: alive((...a) => base.state.releaseLease(...a)),
        load: alive(() => base.state.load()),
        save: alive((s) => base.state.save(s)),
      },
    };
    clock.t = T0;
    void h.runPoll(dying); // never settles: the process is gone
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(killed).toBe(true);
    expect(h.keys()).toHaveLength(1);

    // Its lease and its claim hold until after its function's end: the next tick steps aside.
    expect(await pollAt(T0 + MINUTE)).toMatchObject({ outcome: 'skipped' });
    for (const at of [T0 + 3 * MINUTE, T0 + 4 * MINUTE]) await pollAt(at);
    expect(sorted(h.keys())).toEqual(
      sorted([
        ...['ft-a', 'ft-b', 'ft-c', 'ft-d'].map((id) => `fine_tune.completed:${id}`),
        `batch.done:${B(1)}`,
      ]),
    );
  });
});

describe('found in review: failures that starved, replayed or leaked', () => {
  const fail = (n: number) =>
    Array.from({ length: n }, () => ({ status: 503, body: TOGETHER_ERROR('unavailable', 'server_error') }));

  test('eight running jobs whose events keep failing: the others, and the batches, still flow every poll', async () => {
    together.jobs.fineTunes = [1, 2, 3, 4, 5, 6, 7, 8].map((i) =>
      fineTune(`ft-bad${i}`, 'running', T0 - MINUTE),
    );
    together.jobs.fineTunes.push(fineTune('ft-zok', 'running', T0 - MINUTE));
    together.jobs.batches = [batch(B(1), 'IN_PROGRESS')];
    together.script('GET', /ft-bad\d\/events$/, ...fail(1000));
    await pollAt(T0);
    together.jobs.batches = [batch(B(1), 'COMPLETED', { completedAt: T0 + 30_000, output: 'f' })];
    together.jobs.unlisted.add(B(1));
    together.jobs.events.set('ft-zok', [fineTuneEvent('checkpoint_save', T0 + 30_000, { step: 10 })]);
    const second = await pollAt(T0 + MINUTE);
    expect(second.stoppedBy).toBeUndefined();
    expect(sorted(h.keys())).toEqual(sorted([`batch.done:${B(1)}`, 'fine_tune.checkpoint:ft-zok:10']));
  });

  test('six finished jobs whose events fail do not hold back a finished batch', async () => {
    together.jobs.fineTunes = [1, 2, 3, 4, 5, 6].map((i) => fineTune(`ft-bad${i}`, 'error', T0 - MINUTE));
    together.jobs.batches = [batch(B(1), 'COMPLETED', { completedAt: T0 - MINUTE, output: 'f' })];
    together.script('GET', /ft-bad\d\/events$/, ...fail(1000));
    await pollAt(T0);
    expect(h.keys()).toEqual([`batch.done:${B(1)}`]);
  });

  test('failing visits go to the back of the round robin: the healthy jobs behind them are visited', async () => {
    const ids = Array.from({ length: 6 }, (_, i) => `ft-${i}`);
    together.jobs.fineTunes = ids.map((id) => fineTune(id, 'running', T0 - MINUTE));
    const d = h.deps({ config: { ...h.deps().config, limits: { visitsPerPoll: 2 } } });
    together.script('GET', /ft-[01]\/events$/, ...fail(1000));
    for (const id of ids.slice(2))
      together.jobs.events.set(id, [fineTuneEvent('checkpoint_save', T0 - 30_000, { step: 1 })]);
    for (let p = 0; p < 4; p++) await pollAt(T0 + p * MINUTE, d);
    expect(sorted(h.keys())).toEqual(ids.slice(2).map((id) => `fine_tune.checkpoint:${id}:1`));
  });

  test('one empty /batches answer does not replay undated history (no completed_at, no job_deadline)', async () => {
    const old = (n: number) => {
      const b: Record<string, unknown> = batch(B(n), 'FAILED');
      delete b.job_deadline;
      return b;
    };
    together.jobs.batches = [old(7), old(8)];
    await pollAt(T0);
    together.script('GET', /^\/v1\/batches$/, { status: 200, body: [] });
    await pollAt(T0 + MINUTE);
    await pollAt(T0 + 2 * MINUTE);
    await pollAt(T0 + DAY);
    expect(h.keys()).toEqual([]);
  });

  test("the refused-key alert never carries the key, even when Together's message echoes it", async () => {
    together.script('GET', /^\/v1\/fine-tunes$/, {
      status: 401,
      body: TOGETHER_ERROR(`Invalid API key provided: ${together.apiKey}`),
    });
    await pollAt(T0);
    const message = h.sns.commandCalls(PublishCommand)[0].args[0].input.Message!;
    expect(message).toContain('Invalid API key provided: [API key]');
    expect(message).not.toContain(together.apiKey);
  });

  test('failures while a job ran do not count toward publishing it without its events once it finished', async () => {
    together.jobs.fineTunes = [fineTune('ft-flaky', 'running', T0 - MINUTE)];
    together.jobs.events.set('ft-flaky', [fineTuneEvent('checkpoint_save', T0 - 30_000, { step: 10 })]);
    together.script('GET', /ft-flaky\/events$/, ...fail(5));
    for (let p = 0; p < 4; p++) await pollAt(T0 + p * MINUTE);
    together.jobs.fineTunes = [fineTune('ft-flaky', 'error', T0 + 4 * MINUTE)];
    together.jobs.events
      .get('ft-flaky')!
      .push(fineTuneEvent('job_error', T0 + 4 * MINUTE, { message: 'OOM at step 12', level: 'error' }));
    await pollAt(T0 + 5 * MINUTE);
    await pollAt(T0 + 6 * MINUTE);
    expect(h.keys()).toEqual(['fine_tune.checkpoint:ft-flaky:10', 'fine_tune.failed:ft-flaky']);
    expect(h.published()[1].detail.data.error_message).toBe('OOM at step 12');
  });

  test('without dated batches the remembered set stays bounded (the horizon follows successful listings)', async () => {
    for (let p = 0; p < 30; p++) {
      const now = T0 + p * 2 * DAY;
      together.jobs.batches = [
        {
          ...batch(B(100 + p), 'COMPLETED', { output: 'f' }),
          created_at: iso(now - HOUR),
          job_deadline: iso(now + DAY),
        },
      ];
      await pollAt(now);
    }
    expect(h.keys()).toHaveLength(29); // the first is history at deploy (undated)
    const item = await h.dynamo.client.send(
      new GetItemCommand({ TableName: h.table, Key: { id: { S: stateKey('test-scope', 'batches') } } }),
    );
    const state = JSON.parse(gunzipSync(item.Item!.state!.B!).toString());
    expect(Object.keys(state.done).length).toBeLessThanOrEqual(2);
  });
});

test("a state item nearing DynamoDB's item limit is warned about before it is written", async () => {
  const warnings: string[] = [];
  const store = new DynamoPollerStateStore(h.dynamo.client, h.table, 'big', (part, why) =>
    warnings.push(`${part}: ${why}`),
  );
  // Random ids barely compress (~21 bytes each gzipped): 15,000 undated batches remembered is ~320 KB.
  const done = Object.fromEntries(Array.from({ length: 15_000 }, () => [randomUUID(), -T0]));
  await store.save({ batches: { v: STATE_VERSION, since: T0, horizon: T0, open: {}, done } });
  expect(warnings).toEqual([
    expect.stringMatching(/^batches: the batches state is \d+ KB of DynamoDB's 400 KB item limit/),
  ]);
  await store.save({ fineTunes: { v: STATE_VERSION, since: T0, horizon: T0, open: {}, done: {} } });
  expect(warnings).toHaveLength(1);
});
