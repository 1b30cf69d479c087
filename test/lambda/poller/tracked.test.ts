import { GetItemCommand, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { trackInboxKey } from '../../../lib/claim-keys';
import { MAX_TRACKED_ID_LENGTH, TRACK_CAPACITY, writeTracked } from '../../../lib/track';
import { PollerDeps, pollWindow, RESERVES } from '../../../lambda/poller/core';
import { DynamoTrackInbox, MAX_EXPIRED_PER_POLL } from '../../../lambda/poller/tracked';
import { pollerHarness } from '../../support/poller-harness';
import { HOUR, MINUTE, queueJob, T0, video } from '../../support/together-fixtures';

/** The tracking inbox (issue 19): one item per poller, written atomically by many, read once a poll. */

const h = pollerHarness();
const { together, clock } = h;
const SCOPE = 'test-scope';
const withTracking = (more: Partial<PollerDeps> = {}, expiryMs?: number) =>
  h.deps({
    config: {
      ...h.deps().config,
      watchModels: [],
      sources: { videos: true, queueJobs: true },
      ...(expiryMs ? { trackingExpiryMs: expiryMs } : {}),
    },
    ...more,
  });
const track = (id: string, at = clock.t) =>
  writeTracked(h.dynamo.client, h.table, SCOPE, { kind: 'video', id }, at);

async function item() {
  const out = await h.dynamo.client.send(
    new GetItemCommand({
      TableName: h.table,
      Key: { id: { S: trackInboxKey(SCOPE) } },
      ConsistentRead: true,
    }),
  );
  return out.Item ?? {};
}

test('tracking the same id twice changes nothing: one entry, its first time, one event', async () => {
  expect(await track('vid-1', T0 - MINUTE)).toEqual({ key: 'video:vid-1', added: true });
  expect(await track('vid-1', T0)).toEqual({ key: 'video:vid-1', added: false });
  expect((await item())['video:vid-1'].M!.tracked_at.N).toBe(String(T0 - MINUTE));
  together.jobs.videos = [video('vid-1', 'completed', { at: T0 - 1000 })];
  clock.t = T0;
  await h.runPoll(withTracking());
  expect(h.keys()).toEqual(['video.completed:vid-1']);
  expect(together.requests.filter((r) => r.path === '/v2/videos/vid-1')).toHaveLength(1);
});

test('writers at once never overwrite each other; the same id from two at once is added once', async () => {
  const ids = Array.from({ length: 25 }, (_, i) => `vid-${i}`);
  await Promise.all(ids.map((id) => track(id)));
  const same = await Promise.all([track('vid-same'), track('vid-same'), track('vid-same')]);
  expect(same.filter((r) => r.added)).toHaveLength(1);
  const { entries } = await new DynamoTrackInbox(h.dynamo.client, h.table, SCOPE).read();
  expect([...entries.keys()].sort()).toEqual([...ids.map((id) => `video:${id}`), 'video:vid-same'].sort());
});

test("the poller's state saves and removals leave what a writer adds meanwhile", async () => {
  together.jobs.videos = [video('vid-a', 'completed', { at: T0 - 1000 }), video('vid-b', 'in_progress')];
  await track('vid-a');
  const base = withTracking();
  clock.t = T0;
  // A writer adds vid-b while the poll runs, after the inbox was read.
  await h.runPoll(
    withTracking({
      inbox: {
        read: async () => {
          const read = await base.inbox!.read();
          await track('vid-b');
          return read;
        },
        remove: (key) => base.inbox!.remove(key),
      },
    }),
  );
  expect(h.keys()).toEqual(['video.completed:vid-a']);
  expect(Object.keys(await item()).sort()).toEqual(['id', 'video:vid-b']);
  clock.t = T0 + MINUTE;
  await h.runPoll(base);
  expect(together.requests.filter((r) => r.path === '/v2/videos/vid-b')).toHaveLength(1);
});

test('expiry: an entry unfinished after trackingExpiry is dropped with a warning and no event', async () => {
  together.jobs.videos = [video('vid-slow', 'in_progress')];
  together.jobs.queueJobs = [queueJob('req-slow', 'acme/m', 'running')];
  clock.t = T0;
  await track('vid-slow');
  await writeTracked(h.dynamo.client, h.table, SCOPE, { kind: 'queue', id: 'req-slow', model: 'acme/m' }, T0);
  await h.runPoll(withTracking({}, 2 * HOUR));
  clock.t = T0 + 2 * HOUR - MINUTE;
  await h.runPoll(withTracking({}, 2 * HOUR));
  expect(together.requests.filter((r) => r.path === '/v2/videos/vid-slow')).toHaveLength(2);
  clock.t = T0 + 2 * HOUR;
  const summary = await h.runPoll(withTracking({}, 2 * HOUR));
  expect(together.requests.filter((r) => r.path === '/v2/videos/vid-slow')).toHaveLength(2);
  expect(summary.followed).toMatchObject({ videos: 0, queueJobs: 0 });
  const expired = h.logs.filter((l) => String(l.message).includes('expired'));
  expect(expired.map((l) => [l.level, l.key])).toEqual([
    ['WARN', 'video:vid-slow'],
    ['WARN', 'queue:acme/m:req-slow'],
  ]);
  expect(Object.keys(await item())).toEqual(['id']);
  expect(h.keys()).toEqual([]);
});

test('many expiring at once: at most MAX_EXPIRED_PER_POLL removed a poll, none followed, all gone in two polls', async () => {
  clock.t = T0;
  const ids = Array.from({ length: MAX_EXPIRED_PER_POLL + 10 }, (_, i) => `vid-old-${i}`);
  for (const id of ids) await track(id);
  clock.t = T0 + 25 * HOUR;
  await h.runPoll(withTracking());
  expect(Object.keys(await item())).toHaveLength(10 + 1);
  expect(h.logs.filter((l) => String(l.message).includes('expired'))).toHaveLength(MAX_EXPIRED_PER_POLL);
  clock.t = T0 + 25 * HOUR + MINUTE;
  await h.runPoll(withTracking());
  expect(Object.keys(await item())).toEqual(['id']);
  expect(together.requests.filter((r) => r.path.startsWith('/v2/videos'))).toEqual([]);
});

test('one Together reported finished but not yet delivered outlives its expiry until it is delivered', async () => {
  clock.t = T0;
  await track('vid-late');
  together.jobs.videos = [video('vid-late', 'completed', { at: T0 - 1000 })];
  // EventBridge refuses the publish: the video is finished, its event not delivered.
  h.bus.nextPutEvents({
    FailedEntryCount: 1,
    Entries: [{ ErrorCode: 'InternalFailure', ErrorMessage: 'down' }],
  });
  clock.t = T0 + 2 * HOUR - MINUTE;
  await h.runPoll(withTracking({}, 2 * HOUR));
  expect(h.bus.entries()).toHaveLength(1);
  clock.t = T0 + 3 * HOUR;
  await h.runPoll(withTracking({}, 2 * HOUR));
  expect(h.bus.entries()).toHaveLength(2);
  expect(h.logs.filter((l) => String(l.message).includes('expired'))).toEqual([]);
  expect(Object.keys(await item())).toEqual(['id']);
});

test('the default expiry is one day', async () => {
  together.jobs.videos = [video('vid-day', 'in_progress')];
  clock.t = T0;
  await track('vid-day');
  clock.t = T0 + 24 * HOUR - MINUTE;
  await h.runPoll(withTracking());
  expect(Object.keys(await item())).toContain('video:vid-day');
  clock.t = T0 + 24 * HOUR;
  await h.runPoll(withTracking());
  expect(Object.keys(await item())).toEqual(['id']);
});

test('entries no writer of ours makes are left out, not followed, and named as unreadable', async () => {
  await h.dynamo.client.send(
    new PutItemCommand({
      TableName: h.table,
      Item: {
        id: { S: trackInboxKey(SCOPE) },
        'video:vid-1': { M: { kind: { S: 'video' }, id: { S: 'vid-2' }, tracked_at: { N: String(T0) } } },
        'video:x': { S: 'not a map' },
        'queue:m:r': { M: { kind: { S: 'queue' }, id: { S: 'r' }, tracked_at: { N: String(T0) } } },
      },
    }),
  );
  const read = await new DynamoTrackInbox(h.dynamo.client, h.table, SCOPE).read();
  expect({ entries: read.entries.size, unreadable: [...read.unreadable].sort() }).toEqual({
    entries: 0,
    unreadable: ['queue:m:r', 'video:vid-1', 'video:x'],
  });
});

test('a full inbox refuses a new entry with an error that says it is full', async () => {
  const long = (n: number) => `${String(n).padStart(6, '0')}${'x'.repeat(MAX_TRACKED_ID_LENGTH - 6)}`;
  const model = 'm'.repeat(MAX_TRACKED_ID_LENGTH);
  let n = 0;
  let error: Error | undefined;
  // Bounded: the longest entries allowed fill 400 KB in fewer than 400 writes.
  for (; n < 1000 && !error; n++) {
    await writeTracked(h.dynamo.client, h.table, SCOPE, { kind: 'queue', id: long(n), model }, T0).catch(
      (err: Error) => (error = err),
    );
  }
  expect(error?.message).toMatch(
    /tracking inbox poller#test-scope#track .* is full \(DynamoDB's 400 KB item limit/,
  );
  // The stated capacity holds for the longest entries too.
  expect(n).toBeGreaterThan(350);
  expect(TRACK_CAPACITY).toBeGreaterThan(n);
}, 60_000);

test("with fast follow, expiring is the scheduled poll's: one invocation removes at most MAX_EXPIRED_PER_POLL of a source", async () => {
  for (let i = 0; i < 300; i++) await track(`old-${i}`, T0 - 2 * 24 * HOUR);
  await track('running', T0 - MINUTE); // keeps the source re-checked
  together.jobs.videos = [video('running', 'in_progress')];
  clock.t = T0;
  const ticking = { now: clock.now, random: clock.random, sleep: async (ms: number) => void (clock.t += ms) };
  const fastFollow = { everyMs: 10_000, requestsPerMinute: 600, intervalMs: MINUTE };
  const base = withTracking({ clock: ticking });
  const summary = await h.runPoll(
    { ...base, config: { ...base.config, fastFollow } },
    pollWindow(clock.now(), 2 * MINUTE, RESERVES),
  );
  const expired = h.logs.filter((l) => String(l.message).startsWith('tracked operation expired'));
  expect({ rechecks: summary.rechecks, expired: expired.length }).toEqual({
    rechecks: 5,
    expired: MAX_EXPIRED_PER_POLL,
  });
});

test('an inbox attribute the poller cannot read is removed by the next poll with a warning, not kept forever', async () => {
  const Key = { id: { S: trackInboxKey(SCOPE) } };
  await h.dynamo.client.send(
    new UpdateItemCommand({
      TableName: h.table,
      Key,
      UpdateExpression: 'SET #a = :a, #b = :b, #c = :c',
      ExpressionAttributeNames: { '#a': 'video:vid-1', '#b': 'queue:acme/m:req-1', '#c': 'video:other' },
      ExpressionAttributeValues: {
        ':a': { S: 'vid-1' }, // not a map
        ':b': { M: { kind: { S: 'queue' }, id: { S: 'req-1' }, model: { S: 'acme/m' } } }, // no tracked_at
        ':c': { M: { kind: { S: 'video' }, id: { S: 'vid-2' }, tracked_at: { N: String(T0) } } }, // not its key
      },
    }),
  );
  await track('vid-ok', T0);
  together.jobs.videos = [video('vid-ok', 'in_progress')];
  clock.t = T0;
  await h.runPoll(withTracking());
  expect(Object.keys(await item()).sort()).toEqual(['id', 'video:vid-ok']);
  const warned = h.logs.filter((l) => l.message === 'unreadable tracking entry: removed, no event');
  expect(warned.map((l) => l.key).sort()).toEqual(['queue:acme/m:req-1', 'video:other', 'video:vid-1']);
  expect(warned.every((l) => l.level === 'WARN')).toBe(true);
});

test('unreadable attributes are removed at most MAX_EXPIRED_PER_POLL a poll', async () => {
  const names = Array.from({ length: 60 }, (_, i) => `video:junk-${i}`);
  await h.dynamo.client.send(
    new PutItemCommand({
      TableName: h.table,
      Item: { id: { S: trackInboxKey(SCOPE) }, ...Object.fromEntries(names.map((n) => [n, { S: 'junk' }])) },
    }),
  );
  clock.t = T0;
  await h.runPoll(withTracking());
  expect(Object.keys(await item())).toHaveLength(1 + names.length - MAX_EXPIRED_PER_POLL);
  clock.t = T0 + MINUTE;
  await h.runPoll(withTracking());
  expect(Object.keys(await item())).toEqual(['id']);
});
