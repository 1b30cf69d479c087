import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileTrackInbox, inboxDir } from '../../bin/cli/file-inbox';
import { MAX_TRACKED_ID_LENGTH } from '../../lib/track';
import { capture } from '../support/cli';
import { pollerHarness } from '../support/poller-harness';
import { MINUTE, queueJob, T0, video } from '../support/together-fixtures';

/** `together-webhooks track` and `listen --track-*` (issue 19): ids handed in, followed to their events. */

const h = pollerHarness();
const { together, clock } = h;
let dir: string;
beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'track-cli-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const withTracking = () =>
  h.deps({ config: { ...h.deps().config, watchModels: [], sources: { videos: true, queueJobs: true } } });

test('track video and track queue write to a table (here dynalite, by --endpoint); the poller follows each to its event', async () => {
  clock.t = T0;
  together.jobs.videos = [video('vid-cli', 'completed', { at: T0 - 1000 })];
  together.jobs.queueJobs = [queueJob('req-cli', 'acme/m', 'failed', T0 - 1000)];
  const where = ['--table', h.table, '--scope', 'test-scope', '--endpoint', h.dynamo.endpoint];
  const c = capture({}, '', clock);
  expect(await c.run('track', 'video', 'vid-cli', ...where)).toBe(0);
  expect(await c.run('track', 'queue', 'req-cli', '--model', 'acme/m', ...where)).toBe(0);
  expect(await c.run('track', 'video', 'vid-cli', ...where)).toBe(0);
  expect(c.out).toEqual([
    'tracked video:vid-cli',
    'tracked queue:acme/m:req-cli',
    'video:vid-cli was tracked already',
  ]);
  expect(c.err).toEqual([]);
  await h.runPoll(withTracking());
  expect(h.keys().sort()).toEqual(['queue_job.failed:acme/m:req-cli', 'video.completed:vid-cli']);
});

async function listenOnce(...more: string[]) {
  const c = capture({ TOGETHER_API_KEY: together.apiKey }, '', clock);
  const code = await c.run(
    'listen',
    '--once',
    '--api-base-url',
    together.baseUrl,
    '--state',
    join(dir, 's.json'),
    ...more,
  );
  return { code, out: c.out, err: c.err };
}

test('listen --track-video / --track-queue: in the inbox before the first poll, each outcome once across restarts', async () => {
  clock.t = T0;
  together.jobs.videos = [video('vid-l', 'in_progress')];
  together.jobs.queueJobs = [queueJob('req-l', 'acme/m', 'done', T0 - 1000)];
  const first = await listenOnce('--track-video', 'vid-l', '--track-queue', 'req-l', '--model', 'acme/m');
  expect(first.code).toBe(0);
  expect(first.out.map((l) => JSON.parse(l).type)).toEqual(['queue_job.done']);
  together.jobs.videos = [video('vid-l', 'completed', { at: T0 + 30_000 })];
  clock.t = T0 + MINUTE;
  const second = await listenOnce();
  expect(second.out.map((l) => JSON.parse(l).id)).toEqual(['video.completed:vid-l']);
  clock.t = T0 + 2 * MINUTE;
  // Handed in again after it was delivered: the claim in the state file catches it.
  const third = await listenOnce('--track-video', 'vid-l');
  expect(third.out).toEqual([]);
  expect(readdirSync(inboxDir(join(dir, 's.json')))).toEqual([]);
});

test('track --state reaches a listen on this machine: its next poll follows the id', async () => {
  clock.t = T0;
  together.jobs.videos = [video('vid-s', 'failed', { at: T0 - 1000, message: 'bad prompt' })];
  const state = join(dir, 's.json');
  const c = capture({}, '', clock);
  expect(await c.run('track', 'video', 'vid-s', '--state', state)).toBe(0);
  expect(existsSync(inboxDir(state))).toBe(true);
  const run = await listenOnce();
  expect(run.out.map((l) => JSON.parse(l).data)).toEqual([
    { video_id: 'vid-s', model: 'google/veo-3.0', error_message: 'bad prompt' },
  ]);
});

test.each([
  [[], /what to track: video <id> or queue <request_id> --model M, got ""/],
  [['image', 'x', '--state', 'f'], /got "image"/],
  [['queue', 'r', '--state', 'f'], /--model is required for a queue job/],
  [
    ['video', 'a b', '--state', 'f'],
    /a video id must be 1-256 printable characters without spaces, got "a b"/,
  ],
  [['video', 'v'], /where to: --table T --scope S .* or --state FILE/],
  [['video', 'v', '--table', 't'], /--scope is required with --table/],
  [['video', 'v', '--table', 't', '--state', 'f'], /not both/],
  [
    ['video', 'v', '--table', 't', '--scope', 'a b', '--endpoint', 'http://127.0.0.1:9'],
    /scope must be 1-100 .* got "a b"/,
  ],
  [['video', 'v', 'w', '--state', 'f'], /one operation at a time, got "w" too/],
])('track %j: exit 2, saying what is wrong', async (argv, message) => {
  const c = capture();
  expect(await c.run('track', ...argv)).toBe(2);
  expect(c.err.join('\n')).toMatch(new RegExp(`^together-webhooks track: .*${message.source}`));
});

test('listen --model without --track-queue, or a bad id, exits 2 before polling', async () => {
  const a = await listenOnce('--model', 'acme/m');
  expect([a.code, a.err.join('\n')]).toEqual([2, expect.stringMatching(/--model goes with --track-queue/)]);
  const b = await listenOnce('--track-queue', 'req');
  expect([b.code, b.err.join('\n')]).toEqual([2, expect.stringMatching(/--model is required/)]);
  expect(together.requests).toEqual([]);
});

test("track video with the longest id accepted into listen's inbox is tracked: files are named by a digest of the key", async () => {
  clock.t = T0;
  const id = 'v'.repeat(MAX_TRACKED_ID_LENGTH);
  const state = join(dir, 's.json');
  const c = capture({}, '', clock);
  const code = await c.run('track', 'video', id, '--state', state);
  expect({ code, out: c.out, err: c.err }).toEqual({ code: 0, out: [`tracked video:${id}`], err: [] });
  expect(readdirSync(inboxDir(state))).toEqual([
    `${createHash('sha256').update(`video:${id}`).digest('hex')}.json`,
  ]);
  together.jobs.videos = [video(id, 'completed', { at: T0 - 1000 })];
  const run = await listenOnce();
  expect(run.out.map((l) => JSON.parse(l).id)).toEqual([`video.completed:${id}`]);
});

test("a malformed file in listen's inbox (JSON null, a field missing) is named unreadable and removed by the poll, not thrown on", async () => {
  clock.t = T0;
  const state = join(dir, 's.json');
  const c = capture({}, '', clock);
  expect(await c.run('track', 'video', 'vid-ok', '--state', state)).toBe(0);
  writeFileSync(join(inboxDir(state), 'null.json'), 'null');
  writeFileSync(
    join(inboxDir(state), 'no-id.json'),
    JSON.stringify({ key: 'video:x', kind: 'video', tracked_at: T0 }),
  );
  // Named as unreadable (the poller's WARN line and removal take them), the good entry read as before.
  const read = await new FileTrackInbox(state).read();
  expect({ entries: [...read.entries.keys()], unreadable: [...read.unreadable].sort() }).toEqual({
    entries: ['video:vid-ok'],
    unreadable: ['file:no-id.json', 'file:null.json'],
  });
  together.jobs.videos = [video('vid-ok', 'completed', { at: T0 - 1000 })];
  const run = await listenOnce();
  expect(run.code).toBe(0);
  expect(run.out.map((l) => JSON.parse(l).id)).toEqual(['video.completed:vid-ok']);
  expect(readdirSync(inboxDir(state))).toEqual([]);
});
