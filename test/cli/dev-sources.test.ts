import { dev } from '../../bin/cli/dev';
import { parseArgs } from '../../bin/cli/args';
import { COMMANDS } from '../../bin/cli/commands';
import { Io } from '../../bin/cli/io';
import { FakeTogether } from '../support/fake-together';
import { job, rlTrainingSession } from '../support/together-fixtures';

/**
 * `npm start` (`dev`) takes `listen`'s source switches: with TOGETHER_API_KEY, the opt-in sources' outcomes reach its
 * local bus. One clock here, the real one: the fake Together dates its jobs by it, as the poller reads them.
 */

const together = new FakeTogether();
beforeAll(() => together.start());
afterAll(() => together.stop());

function realTimes(item: Record<string, unknown>, at: number): Record<string, unknown> {
  const when = new Date(at).toISOString();
  const dated: Record<string, unknown> = {
    ...item,
    created_at: new Date(at - 3_600_000).toISOString(),
    updated_at: when,
  };
  if (Array.isArray(item.status_updates))
    dated.status_updates = [{ status: item.status, message: 'done', timestamp: when }];
  return dated;
}

/** Runs `dev` until its first poll's line (and `until`, if given), then stops it as Ctrl-C would. */
async function runDev(switches: string[], until: (types: string[]) => boolean = () => true) {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = {
    out: (line) => out.push(line),
    err: (line) => err.push(line),
    readBody: async () => Buffer.alloc(0),
    env: { TOGETHER_API_KEY: together.apiKey, TOGETHER_WEBHOOK_SECRET: 'dev-sources-secret' },
  };
  const argv = ['--port', '0', '--api-base-url', together.baseUrl, ...switches];
  const stop = new AbortController();
  const running = dev(parseArgs(argv, COMMANDS.dev.spec), io, { signal: stop.signal });
  const types = () =>
    out.map((l) => (JSON.parse(l) as { event: { 'detail-type': string } }).event['detail-type']);
  const done = () => err.some((l) => l.startsWith('poller:')) && until(types());
  for (let i = 0; i < 1500 && !done(); i++) await new Promise((r) => setTimeout(r, 20));
  stop.abort();
  return { code: await running, types: types(), pollLine: err.find((l) => l.startsWith('poller:')) };
}

beforeEach(() => {
  together.reset();
  const now = Date.now();
  together.jobs.jobs = [realTimes(job('job-dev', 'Complete', now), now - 5_000)];
  together.jobs.rlSessions = [realTimes(rlTrainingSession('rl-dev', 'ERROR', now), now - 5_000)];
});

test('dev --jobs --rl-sessions routes job.completed and rl_session.failed polled from the fake Together', async () => {
  const run = await runDev(['--jobs', '--rl-sessions'], (types) => types.length >= 2);
  expect(run.code).toBe(0);
  expect(run.types.sort()).toEqual(['job.completed', 'rl_session.failed']);
  expect(run.pollLine).toMatch(/1 jobs.*1 rl-sessions.*2 published/);
  const paths = together.requests.map((r) => r.path);
  expect(paths).toEqual(expect.arrayContaining(['/v1/jobs', '/v1/rl/training-sessions']));
});

test('dev without the switches polls none of the opt-in sources', async () => {
  const run = await runDev([]);
  expect(run.code).toBe(0);
  expect(run.pollLine).toMatch(/^poller: completed;/);
  expect(run.types).toEqual([]);
  expect(together.requests.map((r) => r.path)).toEqual(expect.arrayContaining(['/v1/fine-tunes']));
  expect(
    together.requests.filter((r) => r.path.startsWith('/v1/jobs') || r.path.startsWith('/v1/rl')),
  ).toEqual([]);
});
