import { fineTune, fineTuneEvent, MINUTE, T0 } from '../../support/together-fixtures';
import { TOGETHER_ERROR } from '../../support/fake-together';
import { pollerHarness } from '../../support/poller-harness';

/**
 * What the property test against Prism's random Together (test/lambda/poller/prism.test.ts) showed, pinned down against
 * the hand-written fake: answers for another job, text over several lines, and many followed jobs that keep
 * failing once the listing drops them.
 */

const h = pollerHarness();
const { together, clock } = h;
const sorted = (list: string[]) => [...list].sort();
const pollAt = (t: number, d = h.deps()) => {
  clock.t = t;
  return h.runPoll(d);
};
const fail = (n: number) =>
  Array.from({ length: n }, () => ({ status: 503, body: TOGETHER_ERROR('unavailable', 'server_error') }));

test('followed jobs the listing dropped and that keep failing wait their turn: a listed job behind them is still visited', async () => {
  const gone = ['ft-g1', 'ft-g2', 'ft-g3', 'ft-g4'];
  const d = h.deps({ config: { ...h.deps().config, limits: { visitsPerPoll: 2 } } });
  together.jobs.fineTunes = gone.map((id) => fineTune(id, 'running', T0 - MINUTE));
  await pollAt(T0, d);
  // They vanish from the listing and asking for them fails, poll after poll; a new job trains meanwhile.
  together.jobs.fineTunes = [fineTune('ft-ok', 'running', T0)];
  together.jobs.events.set('ft-ok', [fineTuneEvent('checkpoint_save', T0 + 30_000, { step: 10 })]);
  together.script('GET', /^\/v1\/fine-tunes\/ft-g\d$/, ...fail(1000));
  // Five followed jobs, two visits a poll: each is visited within ceil(5 / 2) polls.
  for (let p = 1; p <= 3; p++) await pollAt(T0 + p * MINUTE, d);
  expect(h.keys()).toEqual(['fine_tune.checkpoint:ft-ok:10']);
});

test('an answer for another job is a failure naming the request as sent and what was wrong', async () => {
  const id = 'ft a/b';
  together.jobs.fineTunes = [fineTune(id, 'running', T0 - MINUTE)];
  await pollAt(T0);
  together.jobs.fineTunes = [];
  together.script('GET', /^\/v1\/fine-tunes\/ft%20a%2Fb$/, {
    status: 200,
    body: fineTune('ft-other', 'completed', T0),
  });
  const summary = await pollAt(T0 + MINUTE);
  expect(summary.failures).toEqual([
    'fine-tunes ft a/b: GET /fine-tunes/ft%20a%2Fb: answered with another job ("ft-other")',
  ]);
  expect(h.keys()).toEqual([]);
});

test("Together's words over several lines, and an id with a line break, are reported on one line", async () => {
  together.jobs.fineTunes = [fineTune('ft-1', 'running', T0 - MINUTE), fineTune('ft\n2', 'running', T0)];
  together.script(
    'GET',
    /\/events$/,
    ...Array.from({ length: 2 }, () => ({
      status: 500,
      body: TOGETHER_ERROR('worker crashed:\n  File "train.py", line 3\r\n\tKeyError', 'server_error'),
    })),
  );
  const summary = await pollAt(T0);
  expect(sorted(summary.failures ?? [])).toEqual(
    sorted([
      'fine-tunes ft-1: GET /fine-tunes/ft-1/events: HTTP 500: worker crashed: File "train.py", line 3 KeyError',
      'fine-tunes ft 2: GET /fine-tunes/ft%0A2/events: HTTP 500: worker crashed: File "train.py", line 3 KeyError',
    ]),
  );
});

test('a refused key and a rate limit name the request they stopped at, on one line', async () => {
  together.script('GET', /^\/v1\/fine-tunes$/, {
    status: 401,
    body: TOGETHER_ERROR('Invalid API key\nprovided', 'invalid_request_error', 'invalid_api_key'),
  });
  const refused = await pollAt(T0);
  expect(refused.reason).toBe(
    'GET /fine-tunes: Together rejected the API key (HTTP 401): Invalid API key provided',
  );
  together.script('GET', /^\/v1\/fine-tunes$/, {
    status: 429,
    body: TOGETHER_ERROR('slow\ndown', 'rate_limit'),
    headers: { 'x-ratelimit-remaining': '0' },
  });
  const limited = await pollAt(T0 + MINUTE);
  expect(limited.reason).toBe('GET /fine-tunes: rate limited by Together (HTTP 429, remaining 0): slow down');
});
