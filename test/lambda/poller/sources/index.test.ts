import { isEnabled, JOB_SOURCES, perSource } from '../../../../lambda/poller/sources';
import { stateKey } from '../../../../lambda/poller/state';
import { sourceSwitches } from '../../../../bin/cli/listen';
import { pollerHarness } from '../../../support/poller-harness';

const h = pollerHarness();

test('the job sources, in the order they are polled and summarized; four opt-in, each by its flag', () => {
  expect(JOB_SOURCES.map(({ key, item, optIn }) => ({ key, item, optIn }))).toEqual([
    { key: 'fineTunes', item: 'fine-tunes', optIn: undefined },
    { key: 'batches', item: 'batches', optIn: undefined },
    { key: 'evaluations', item: 'evaluations', optIn: 'EVALUATIONS' },
    { key: 'endpoints', item: 'endpoints', optIn: 'ENDPOINTS' },
    { key: 'jobs', item: 'jobs', optIn: 'JOBS' },
    { key: 'deployments', item: 'deployments', optIn: 'DEPLOYMENTS' },
    { key: 'clusters', item: 'clusters', optIn: 'CLUSTERS' },
    { key: 'rlSessions', item: 'rl-sessions', optIn: 'RL_SESSIONS' },
    { key: 'videos', item: 'videos', optIn: 'TRACKING' },
    { key: 'queueJobs', item: 'queue-jobs', optIn: 'TRACKING' },
  ]);
  expect(JOB_SOURCES.filter((row) => isEnabled(row, {})).map((row) => row.key)).toEqual([
    'fineTunes',
    'batches',
  ]);
  expect(JOB_SOURCES.filter((row) => isEnabled(row, { endpoints: true })).map((row) => row.key)).toEqual([
    'fineTunes',
    'batches',
    'endpoints',
  ]);
  expect(JOB_SOURCES.filter((row) => isEnabled(row, { rlSessions: true })).map((row) => row.key)).toEqual([
    'fineTunes',
    'batches',
    'rlSessions',
  ]);
  // One flag turns both tracked sources on.
  expect(
    JOB_SOURCES.filter((row) => isEnabled(row, { videos: true, queueJobs: true })).map((r) => r.key),
  ).toEqual(['fineTunes', 'batches', 'videos', 'queueJobs']);
  // listen follows its own inbox always: no switch for the tracked sources.
  expect(sourceSwitches()).toEqual([
    'evaluations',
    'endpoints',
    'jobs',
    'deployments',
    'clusters',
    'rl-sessions',
  ]);
  expect(perSource((row) => row.item)).toEqual({
    fineTunes: 'fine-tunes',
    batches: 'batches',
    evaluations: 'evaluations',
    endpoints: 'endpoints',
    jobs: 'jobs',
    deployments: 'deployments',
    clusters: 'clusters',
    rlSessions: 'rl-sessions',
    videos: 'videos',
    queueJobs: 'queue-jobs',
  });
});

test('the state items keep their keys: poller#<scope>#<item>', () => {
  expect(
    [
      'fineTunes',
      'batches',
      'evaluations',
      'endpoints',
      'jobs',
      'deployments',
      'clusters',
      'rlSessions',
      'videos',
      'queueJobs',
      'models',
      'health',
      'lease',
    ].map((p) => stateKey('s', p as 'lease')),
  ).toEqual([
    'poller#s#fine-tunes',
    'poller#s#batches',
    'poller#s#evaluations',
    'poller#s#endpoints',
    'poller#s#jobs',
    'poller#s#deployments',
    'poller#s#clusters',
    'poller#s#rl-sessions',
    'poller#s#videos',
    'poller#s#queue-jobs',
    'poller#s#models',
    'poller#s#health',
    'poller#s#lease',
  ]);
});

test("the poll's log line keeps its keys in their order, opt-in sources counted as 0 when off", async () => {
  const summary = await h.runPoll();
  expect(Object.keys(summary.checked)).toEqual([
    'fineTunes',
    'batches',
    'evaluations',
    'endpoints',
    'jobs',
    'deployments',
    'clusters',
    'rlSessions',
    'videos',
    'queueJobs',
    'models',
  ]);
  expect(Object.keys(summary.followed)).toEqual([
    'fineTunes',
    'batches',
    'evaluations',
    'endpoints',
    'jobs',
    'deployments',
    'clusters',
    'rlSessions',
    'videos',
    'queueJobs',
  ]);
  const line = h.logs.find((l) => l.message === 'poll')!;
  expect(Object.keys(line).slice(0, 6)).toEqual([
    'level',
    'message',
    'outcome',
    'checked',
    'followed',
    'visited',
  ]);
  expect(line.checked).toEqual({
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
    models: 0,
  });
});

test("no two sources share a key or an item, and none takes the name of the state's other items", () => {
  const keys = JOB_SOURCES.map((row) => row.key as string);
  const items = JOB_SOURCES.map((row) => row.item);
  expect(new Set(keys).size).toBe(keys.length);
  expect(new Set(items).size).toBe(items.length);
  // models and health are state parts of their own; lease is the poll lease's item, track the tracking inbox.
  for (const reserved of ['models', 'health', 'lease', 'track']) {
    expect([reserved, keys.includes(reserved) || items.includes(reserved)]).toEqual([reserved, false]);
  }
});
