import { answerErrors, describedPath } from './support/openapi';
import { pollerHarness } from './support/poller-harness';
import { evaluation, MINUTE, T0 } from './support/together-fixtures';

/** Issue 12, recipe 5: Together's evaluation jobs through the poller, with the same exactly-once rules as fine-tunes. */

const h = pollerHarness();
const { together, clock } = h;
const withEvaluations = () => h.deps({ config: { ...h.deps().config, evaluations: true } });

async function pollAt(ms: number) {
  clock.t = ms;
  return h.runPoll(withEvaluations());
}

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
