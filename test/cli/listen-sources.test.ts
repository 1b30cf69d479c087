import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../bin/cli';
import { Io } from '../../bin/cli/io';
import { sourceSwitches } from '../../bin/cli/listen';
import { ApiClock } from '../../lambda/shared/together-api';
import { FakeTogether } from '../support/fake-together';
import {
  batch,
  dedicatedEndpoint,
  deployment,
  evaluation,
  fineTune,
  job,
  gpuCluster,
  MINUTE,
  rlTrainingSession,
  T0,
} from '../support/together-fixtures';

/** `listen`'s switches and summary line come from the poller's source table (lambda/poller/sources/index.ts). */

const together = new FakeTogether();
const clock: ApiClock & { t: number } = {
  t: T0,
  now: () => clock.t,
  sleep: async (ms) => void (clock.t += ms),
  random: () => 0.5,
};
let dir: string;

beforeAll(() => together.start());
afterAll(() => together.stop());
beforeEach(() => {
  together.reset();
  clock.t = T0;
  together.now = clock.now;
  dir = mkdtempSync(join(tmpdir(), 'listen-sources-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function listenOnce(...switches: string[]): Promise<{ code: number; err: string[]; out: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = {
    out: (line) => out.push(line),
    err: (line) => err.push(line),
    readBody: async () => Buffer.from(''),
    env: { TOGETHER_API_KEY: together.apiKey },
    clock,
  };
  const argv = ['listen', '--once', '--api-base-url', together.baseUrl, '--state', join(dir, 's.json')];
  const code = await main([...argv, ...switches.map((s) => `--${s}`)], io);
  return { code, err, out };
}

function seed(): void {
  const now = clock.now();
  together.jobs.fineTunes = [fineTune('ft-a', 'completed', now - MINUTE)];
  together.jobs.batches = [
    batch('0b7c3a52-1d2e-4f60-8a9b-0c1d2e3f4a5b', 'COMPLETED', { completedAt: now - MINUTE }),
  ];
  together.jobs.evaluations = [evaluation('eval-x', 'error', now - MINUTE, { message: 'bad input file' })];
  together.jobs.endpoints = [dedicatedEndpoint('endpoint-cli', 'STARTED', now - MINUTE)];
  together.jobs.jobs = [job('job-cli', 'Complete', now - MINUTE)];
  together.jobs.deployments = [deployment('dep-cli', 'Failed', now - MINUTE)];
  // Already Ready at the first listing: the baseline, no event, but followed for its next transition.
  together.jobs.clusters = [gpuCluster('cluster-cli', 'Ready')];
  together.jobs.rlSessions = [rlTrainingSession('rl-cli', 'ERROR', now - MINUTE)];
}

test('one switch per opt-in source, named by its state item; listen takes each', async () => {
  expect(sourceSwitches()).toEqual([
    'evaluations',
    'endpoints',
    'jobs',
    'deployments',
    'clusters',
    'rl-sessions',
  ]);
  seed();
  const { code, err, out } = await listenOnce(...sourceSwitches());
  expect(code).toBe(0);
  expect(out.map((l) => JSON.parse(l).type).sort()).toEqual([
    'batch.done',
    'deployment.failed',
    'endpoint.ready',
    'evaluation.failed',
    'fine_tune.completed',
    'job.completed',
    'rl_session.failed',
  ]);
  // The cluster and the deployment: followed with no end (each may change state again).
  expect(err.join('\n')).toMatch(
    /poll completed; 1 fine-tunes, 1 batches, 1 evaluations, 1 endpoints, 1 jobs, 1 deployments, 1 clusters, 1 rl-sessions; 7 forwarded, 0 already sent; 2 followed/,
  );
});

test('the summary line names the always-on sources even at 0, an opt-in one only when it listed something', async () => {
  const off = await listenOnce();
  expect(off.code).toBe(0);
  expect(off.err.join('\n')).toMatch(/poll completed; 0 fine-tunes, 0 batches; 0 forwarded/);
  const on = await listenOnce('endpoints');
  expect(on.err.join('\n')).toMatch(/poll completed; 0 fine-tunes, 0 batches; 0 forwarded/);
  seed();
  const some = await listenOnce('endpoints');
  expect(some.err.join('\n')).toMatch(/poll completed; 1 fine-tunes, 1 batches, 1 endpoints; 3 forwarded/);
  expect(some.out.map((l) => JSON.parse(l).type).sort()).toEqual([
    'batch.done',
    'endpoint.ready',
    'fine_tune.completed',
  ]);
});

test('--clusters and --rl-sessions across restarts of listen (its state file): each transition or end once', async () => {
  together.jobs.clusters = [gpuCluster('cluster-l', 'InstallingDrivers')];
  together.jobs.rlSessions = [rlTrainingSession('rl-l', 'RUNNING', clock.now() - MINUTE)];
  const off = await listenOnce();
  expect(off.out).toEqual([]);
  expect(together.requests.filter((r) => /\/v1\/(compute|rl)\//.test(`${r.path}/`))).toEqual([]);
  await listenOnce('clusters', 'rl-sessions');
  together.jobs.clusters[0].status = 'Ready';
  together.jobs.rlSessions[0].status = 'TRAINING_SESSION_STATUS_STOPPED';
  together.jobs.rlSessions[0].updated_at = new Date(clock.now()).toISOString();
  const types: string[] = [];
  for (let i = 1; i <= 3; i++) {
    clock.t += MINUTE;
    const run = await listenOnce('clusters', 'rl-sessions');
    expect(run.code).toBe(0);
    types.push(...run.out.map((l) => JSON.parse(l).type));
  }
  expect(types.sort()).toEqual(['cluster.ready', 'rl_session.stopped']);
});
