import { fineTuneId, fineTuneListing } from '../../support/fine-tune-listing';
import { answerErrors } from '../../support/openapi';
import { pollerHarness } from '../../support/poller-harness';
import { batch, HOUR, T0 } from '../../support/together-fixtures';

const B1 = '0b7c3a52-1d2e-4f60-8a9b-0c1d2e3f4a5b';

/**
 * A large account: GET /fine-tunes is not paginated, so the poller reads every job the account has, each with its
 * events embedded. The listing is read as it streams, keeping a few fields of each job, so a listing larger than
 * the poller could hold whole is still read, and one that breaks off is never taken for the whole listing.
 */

const h = pollerHarness();
const { together } = h;

/** Together's words for what a listing should publish on a first poll: every outcome within the lookback. */
function expectedKeys(jobs: Array<Record<string, unknown>>, since: number): string[] {
  const keys: string[] = [];
  for (const job of jobs) {
    const events = job.events as Array<{ type: string; step: number; created_at: string }>;
    const end = Date.parse(job.updated_at as string);
    const terminal = ['completed', 'error', 'cancelled'].includes(job.status as string);
    if (terminal && end < since) continue;
    for (const e of events)
      if (e.type === 'checkpoint_save' && Date.parse(e.created_at) >= since)
        keys.push(`fine_tune.checkpoint:${job.id}:${e.step}`);
    if (job.status === 'completed') keys.push(`fine_tune.completed:${job.id}`);
  }
  return keys.sort();
}

describe('a listing of 17,000 fine-tunes with their events (~72 MB, beyond the 64 MiB the poller once read whole)', () => {
  const jobs = [...fineTuneListing({ total: 17_000, now: T0, running: 200, recent: 10 })];
  const bytes = Buffer.byteLength(JSON.stringify({ data: jobs }));

  test('is read whole: every job checked, every new outcome published once, the next poll publishes nothing', async () => {
    expect(bytes).toBeGreaterThan(64 * 1024 * 1024);
    together.jobs.fineTunes = jobs;
    const first = await h.runPoll();
    expect(first).toMatchObject({ outcome: 'completed', checked: { fineTunes: 17_000 } });
    expect(first.failures).toBeUndefined();
    const keys = [...h.keys()].sort();
    expect(keys).toEqual(expectedKeys(jobs, T0 - HOUR));
    expect(keys.filter((k) => k.startsWith('fine_tune.completed:'))).toHaveLength(10);
    expect(first.followed.fineTunes).toBe(200);
    // Its events came with the listing: no job needed a request of its own for them.
    expect(together.requests.filter((r) => r.path.endsWith('/events'))).toEqual([]);
    // The answers were Together's as the spec describes them.
    const broken = together.answers.filter((a) => answerErrors(a.method, a.path, a.status, a.body));
    expect(broken.map((a) => `${a.method} ${a.path}`)).toEqual([]);

    h.clock.t = T0 + 60_000;
    const second = await h.runPoll();
    expect(second).toMatchObject({ outcome: 'completed', checked: { fineTunes: 17_000 }, published: 0 });
    expect(h.keys()).toHaveLength(keys.length);
    // Two polls over ~72 MB each, the fake serialising them: slow on a busy 2-core machine, not a timing.
  }, 120_000);
});

describe('a listing that cannot be read whole costs the fine-tunes only, and nothing it showed is acted on', () => {
  const jobs = [...fineTuneListing({ total: 300, now: T0, running: 5, recent: 10 })];

  test('malformed halfway: one clear failure, batches still published, the next poll publishes every job once', async () => {
    together.jobs.fineTunes = jobs;
    together.jobs.batches = [batch(B1, 'COMPLETED', { completedAt: T0 - 60_000, output: 'file-out-1' })];
    const text = JSON.stringify({ data: jobs });
    // Job 151 of 300 is broken; the 150 before it, ten finished within the lookback, must not be published.
    const id = `"id":"${fineTuneId(150)}"`;
    together.script('GET', /^\/v1\/fine-tunes$/, { status: 200, text: text.replace(id, `${id},,`) });
    const first = await h.runPoll();
    expect(first.outcome).toBe('incomplete');
    expect(first.checked.fineTunes).toBe(0);
    expect(first.failures).toEqual([
      expect.stringMatching(
        /^fine-tunes: GET \/fine-tunes: malformed JSON \(item 151 of "data" \(ending near byte \d+\) is not valid JSON: .*\); none of the 150 fine-tunes read before it is used$/,
      ),
    ]);
    expect(h.keys()).toEqual([`batch.done:${B1}`]);

    h.clock.t = T0 + 60_000;
    const second = await h.runPoll();
    expect(second).toMatchObject({ outcome: 'completed', checked: { fineTunes: 300 } });
    const fineTuneKeys = h.keys().filter((k) => k.startsWith('fine_tune.'));
    expect(fineTuneKeys.sort()).toEqual(expectedKeys(jobs, T0 - HOUR));
  });

  test('more jobs than the memory holds: the failure names the count and what to do, every poll, and nothing else is lost', async () => {
    together.jobs.fineTunes = jobs;
    together.jobs.batches = [batch(B1, 'COMPLETED', { completedAt: T0 - 60_000, output: 'file-out-1' })];
    const d = h.deps({ config: { ...h.deps().config, limits: { maxListedItems: 299 } } });
    const summary = await h.runPoll(d);
    expect(summary.failures).toEqual([
      "fine-tunes: GET /fine-tunes lists more than 299 fine-tunes, the most this poller holds in its memory: raise the poller's memorySize, or delete the fine-tune jobs you no longer need (DELETE /fine-tunes/{id}) so the listing shrinks",
    ]);
    expect(h.keys()).toEqual([`batch.done:${B1}`]);
  });
});
