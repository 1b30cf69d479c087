import { answerErrors, describedPath } from '../../../support/openapi';
import { pollerHarness } from '../../../support/poller-harness';
import { evaluation, HOUR, MINUTE, T0 } from '../../../support/together-fixtures';

/** Issue 12, recipe 5: Together's evaluation jobs through the poller, with the same exactly-once rules as fine-tunes. */

const h = pollerHarness();
const { together, clock } = h;
const withEvaluations = () => h.withSources({ evaluations: true });

const pollAt = (ms: number) => h.pollAt(ms, withEvaluations());

test('an evaluation scripted running -> completed and another -> error: one event each, typed, checked against the spec', async () => {
  together.jobs.evaluations = [
    evaluation('eval-score', 'running', T0 - MINUTE),
    evaluation('eval-bad', 'queued', T0 - MINUTE),
  ];
  await pollAt(T0);
  expect(h.keys()).toEqual([]);
  together.jobs.evaluations = [
    evaluation('eval-score', 'completed', T0 + 30_000, {
      type: 'score',
      results: {
        aggregated_scores: { mean_score: 7.4, std_score: 1.1, pass_percentage: 82.5 },
        generation_fail_count: 0,
        judge_fail_count: 0,
        invalid_score_count: 0,
        failed_samples: 0,
        result_file_id: 'file-1234-aefd',
      },
    }),
    evaluation('eval-bad', 'user_error', T0 + 40_000, {
      results: { error: 'input file has no "prompt" column' },
      message: 'validation failed',
    }),
  ];
  await pollAt(T0 + MINUTE);
  await pollAt(T0 + 2 * MINUTE);
  expect(h.keys().sort()).toEqual(['evaluation.completed:eval-score', 'evaluation.failed:eval-bad']);
  const byKey = Object.fromEntries(h.published().map((p) => [p.detail.id, p]));
  expect(byKey['evaluation.completed:eval-score'].detail.data).toEqual({
    workflow_id: 'eval-score',
    evaluation_type: 'score',
    pass_percentage: 82.5,
    mean_score: 7.4,
    result_file_id: 'file-1234-aefd',
    summary: 'score: mean 7.4, 82.5% passed',
  });
  expect(byKey['evaluation.failed:eval-bad'].detail.data).toEqual({
    workflow_id: 'eval-bad',
    status: 'user_error',
    error_message: 'input file has no "prompt" column',
  });
  for (const r of together.requests) expect(describedPath(r.method, r.path)).toBeDefined();
  const broken = together.answers.filter((a) => answerErrors(a.method, a.path, a.status, a.body));
  expect(
    broken.map((a) => `${a.method} ${a.path}: ${answerErrors(a.method, a.path, a.status, a.body)}`),
  ).toEqual([]);
  expect(together.requests.filter((r) => r.path === '/v1/evaluation').map((r) => r.search)).toContain(
    '?limit=100',
  );
});

test('classify and compare results are summarized in their own terms', async () => {
  await pollAt(T0);
  together.jobs.evaluations = [
    evaluation('eval-classify', 'completed', T0 + 10_000, {
      type: 'classify',
      results: { pass_percentage: 91, label_counts: '{"yes": 91, "no": 9}', result_file_id: 'file-c' },
    }),
    evaluation('eval-compare', 'completed', T0 + 20_000, {
      type: 'compare',
      results: { num_samples: 100, A_wins: 60, B_wins: 30, Ties: 10, result_file_id: 'file-d' },
    }),
  ];
  await pollAt(T0 + MINUTE);
  const data = Object.fromEntries(h.published().map((p) => [p.detail.data.workflow_id, p.detail.data]));
  expect(data['eval-classify']).toMatchObject({ pass_percentage: 91, summary: 'classify: 91% passed' });
  expect(data['eval-compare']).toMatchObject({ mean_score: null, summary: 'compare: A 60, B 30, ties 10' });
});

test('a followed evaluation that falls off the listed 100 is asked for by id; nothing is published twice', async () => {
  together.jobs.evaluations = [evaluation('eval-old', 'running', T0 - MINUTE)];
  await pollAt(T0);
  // 100 newer jobs push it off the list; then it finishes.
  together.jobs.evaluations = [
    ...Array.from({ length: 100 }, (_, i) => evaluation(`eval-new-${i}`, 'running', T0 + i)),
    evaluation('eval-old', 'completed', T0 + 30_000, { results: { aggregated_scores: { mean_score: 5 } } }),
  ];
  for (const m of [1, 2, 3]) await pollAt(T0 + m * MINUTE);
  expect(h.keys()).toEqual(['evaluation.completed:eval-old']);
  expect(together.requests.some((r) => r.path === '/v1/evaluation/eval-old')).toBe(true);
});

test('off unless asked for: the default poller never calls /evaluation', async () => {
  together.jobs.evaluations = [evaluation('eval-x', 'completed', T0 - MINUTE)];
  clock.t = T0;
  await h.runPoll();
  expect(together.requests.filter((r) => r.path.startsWith('/v1/evaluation'))).toEqual([]);
});

describe('a listing capped at 100 (issue 16: evaluations lost silently)', () => {
  /** `n` evaluations created one second apart from `from`, newest first as Together lists them. */
  const sweep = (prefix: string, n: number, from: number, status: (i: number) => string) =>
    Array.from({ length: n }, (_, i) =>
      evaluation(`${prefix}-${String(i).padStart(3, '0')}`, status(i), from + i * 1000 + 500, {
        createdAt: from + i * 1000,
      }),
    ).reverse();
  const published = () => new Set(h.published().map((p) => p.detail.data.workflow_id as string));
  const pollLine = () => h.logs.filter((l) => l.message === 'poll').at(-1)!;

  test('150 evaluations created and finished between two listings are all published: a full page is read per status', async () => {
    await pollAt(T0);
    together.jobs.evaluations = sweep('eval-sweep', 150, T0 + 1000, (i) =>
      i % 5 < 3 ? 'completed' : 'error',
    );
    const summary = await pollAt(T0 + MINUTE);
    expect(published().size).toBe(150);
    expect(summary.incomplete).toBeUndefined();
    expect(pollLine().ListingIncomplete).toBe(0);
    const searches = together.requests.filter((r) => r.path === '/v1/evaluation').map((r) => r.search);
    expect(searches).toEqual(
      expect.arrayContaining(['?limit=100', '?status=completed&limit=100', '?status=error&limit=100']),
    );
    for (const r of together.requests) expect(describedPath(r.method, r.path)).toBeDefined();
  });

  test('one that still cannot be read whole is counted and logged, and the horizon holds for what shows up later', async () => {
    await pollAt(T0);
    // 150 of one status since the last listing: Together shows 100 of them, however it is asked.
    const all = sweep('eval-many', 150, T0 + 1000, () => 'completed');
    together.jobs.evaluations = all;
    // Two hours on (a key refused meanwhile, say): a horizon that moved would now be past every one of them.
    const summary = await pollAt(T0 + 2 * HOUR);
    expect(published().size).toBe(100);
    expect(summary.incomplete).toEqual([
      expect.stringMatching(
        /^evaluations: more than 100 evaluation jobs completed created since .*: jobs beyond/,
      ),
    ]);
    expect(pollLine()).toMatchObject({ level: 'WARN', ListingIncomplete: 1 });
    // The 100 shown leave the listing (deleted, say): the 50 it could not show are listed, and still new.
    together.jobs.evaluations = all.slice(100);
    await pollAt(T0 + 2 * HOUR + MINUTE);
    expect(published().size).toBe(150);
    expect(h.keys().length).toBe(150);
  });

  test('a first listing over a long history is whole when the unfinished jobs fit a page', async () => {
    together.jobs.evaluations = [
      ...sweep('eval-running', 30, T0 - 10 * MINUTE, () => 'running'),
      ...sweep('eval-history', 200, T0 - 30 * 86_400_000, () => 'completed'),
    ];
    const summary = await pollAt(T0);
    expect(summary.incomplete).toBeUndefined();
    expect(h.keys()).toEqual([]); // history, not replayed
    expect(summary.followed.evaluations).toBe(30);
  });

  test('a first listing with more unfinished jobs than a page can show says so', async () => {
    together.jobs.evaluations = sweep('eval-queued', 120, T0 - 10 * MINUTE, () => 'queued');
    const summary = await pollAt(T0);
    expect(summary.incomplete).toEqual([
      expect.stringContaining('more than 100 evaluation jobs queued at the first listing'),
    ]);
  });
});
