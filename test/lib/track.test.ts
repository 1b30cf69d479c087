import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { trackInboxKey } from '../../lib/claim-keys';
import { TRACK_ENV } from '../../lib/contract';
import { checkTrackRequest, track, TRACK_CLIENT_CONFIG, trackQueueJob, trackVideo } from '../../lib/track';
import { pollerHarness } from '../support/poller-harness';
import { MINUTE, queueJob, T0, video } from '../support/together-fixtures';

/** `together-webhooks/track` (issue 19): a function of yours hands an operation in; the poller follows it. */

const h = pollerHarness();
const { together, clock } = h;
const SCOPE = 'test-scope';
const env = () => ({ [TRACK_ENV.table]: h.table, [TRACK_ENV.scope]: SCOPE });
const options = () => ({ client: h.dynamo.client, env: env(), now: clock.now });
const withTracking = () =>
  h.deps({ config: { ...h.deps().config, watchModels: [], sources: { videos: true, queueJobs: true } } });

test('trackVideo and trackQueueJob write where the environment says; the poller follows each to its event', async () => {
  clock.t = T0;
  together.jobs.videos = [video('vid-h', 'in_progress')];
  together.jobs.queueJobs = [queueJob('req-h', 'acme/m', 'running')];
  expect(await trackVideo('vid-h', options())).toEqual({ key: 'video:vid-h', added: true });
  expect(await trackQueueJob('req-h', 'acme/m', options())).toEqual({
    key: 'queue:acme/m:req-h',
    added: true,
  });
  expect(await trackVideo('vid-h', options())).toEqual({ key: 'video:vid-h', added: false });
  await h.runPoll(withTracking());
  expect(h.keys()).toEqual([]);
  together.jobs.videos = [video('vid-h', 'completed', { at: T0 + 30_000 })];
  together.jobs.queueJobs = [queueJob('req-h', 'acme/m', 'done', T0 + 40_000)];
  clock.t = T0 + MINUTE;
  await h.runPoll(withTracking());
  expect(h.keys().sort()).toEqual(['queue_job.done:acme/m:req-h', 'video.completed:vid-h']);
  const out = await h.dynamo.client.send(
    new GetItemCommand({
      TableName: h.table,
      Key: { id: { S: trackInboxKey(SCOPE) } },
      ConsistentRead: true,
    }),
  );
  expect(Object.keys(out.Item ?? {})).toEqual(['id']);
});

test('explicit tableName and scope take the place of the environment', async () => {
  const r = await track(
    { kind: 'video', id: 'vid-o' },
    { client: h.dynamo.client, tableName: h.table, scope: SCOPE, env: {}, now: () => T0 },
  );
  expect(r.added).toBe(true);
});

test('without a table or scope it says which variables to set', async () => {
  await expect(trackVideo('vid-1', { client: h.dynamo.client, env: {} })).rejects.toThrow(
    /no tracking inbox: set TOGETHER_TRACK_TABLE and TOGETHER_TRACK_SCOPE .*addTrackingEnvironment/,
  );
  await expect(
    trackVideo('vid-1', {
      client: h.dynamo.client,
      env: { ...env(), [TRACK_ENV.scope]: 'no spaces allowed' },
    }),
  ).rejects.toThrow(/scope must be 1-100 letters.*got "no spaces allowed"/);
});

test('input is checked with errors that show the value received', () => {
  expect(() => checkTrackRequest({ kind: 'image', id: 'x' })).toThrow(
    `kind must be 'video' or 'queue', got "image"`,
  );
  expect(() => checkTrackRequest({ kind: 'video', id: '' })).toThrow(
    /a video id must be 1-256 printable .* got ""/,
  );
  expect(() => checkTrackRequest({ kind: 'video', id: 'a b' })).toThrow(/got "a b"/);
  expect(() => checkTrackRequest({ kind: 'video', id: 'x'.repeat(257) })).toThrow(/1-256/);
  expect(() => checkTrackRequest({ kind: 'video', id: 'v', model: 'm' })).toThrow(
    'a video takes no model, got "m"',
  );
  expect(() => checkTrackRequest({ kind: 'queue', id: 'r' })).toThrow(
    /the queued job's model must be .* got undefined/,
  );
  expect(() => checkTrackRequest(undefined)).toThrow(/kind must be/);
  expect(checkTrackRequest({ kind: 'queue', id: 'r', model: 'acme/m' })).toEqual({
    kind: 'queue',
    id: 'r',
    model: 'acme/m',
  });
});

test("the helper's own client has timeouts on every call", () => {
  expect(TRACK_CLIENT_CONFIG.requestHandler).toMatchObject({
    connectionTimeout: 1_000,
    requestTimeout: 2_000,
    throwOnRequestTimeout: true,
  });
  expect(TRACK_CLIENT_CONFIG.maxAttempts).toBe(3);
});
