/**
 * npm run bench:latency (also part of npm run bench): outcome-to-bus latency of the poller on a virtual clock, at
 * the one-minute schedule and with fast follow at 30 s and 10 s, with Together requests per minute and the
 * monthly Lambda cost of each. The real poller core (poll, then follow.ts's loop) runs against the fake Together,
 * whose jobs start and finish at seeded random times on the virtual clock, with dynalite for claims and state.
 * Latency = the virtual time of the publish minus the virtual time the job finished. Never asserts.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DEFAULTS } from '../lib/contract';
import { poll, PollSummary, pollWindow, RESERVES } from '../lambda/poller/core';
import { ApiClock } from '../lambda/shared/together-api';
import { startDynalite } from '../test/support/dynalite';
import { FakeTogether } from '../test/support/fake-together';
import { batch, fineTune, iso } from '../test/support/together-fixtures';
import { benchPollerDeps } from './support/poller-deps';
import { median, spread } from './support/stats';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const HOURS = Number(process.env.HOURS ?? 6);
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const T0 = Date.UTC(2026, 11, 1, 0, 0, 0);

/** The workload: jobs starting uniformly over the run, each running 2-90 minutes; half fine-tunes, half batches. */
const JOBS_PER_HOUR = 40;
const MIN_RUN_MS = 2 * MINUTE;
const MAX_RUN_MS = 90 * MINUTE;
/** Virtual latency of each call: Together, a DynamoDB call, a PutEvents, the secret's read. */
const LATENCY = { together: 150, dynamo: 10, eventBridge: 20, secret: 20 };

/** Lambda list prices, us-east-1: arm64 (the construct's architecture, lib/assets.ts) per GB-s, and per request. */
const ARM64_GB_SECOND = 0.0000133334;
const LAMBDA_REQUEST = 0.2 / 1e6;
const MEMORY_GB = DEFAULTS.pollerMemoryMb / 1024;
const INVOCATIONS_PER_MONTH = 30 * 24 * 60;

interface Setting {
  readonly name: string;
  /** Fast follow's period; undefined: off. */
  readonly everyMs?: number;
  /** The construct's timeout for it. */
  readonly timeoutMs: number;
}

const SETTINGS: Setting[] = [
  { name: 'one-minute schedule', timeoutMs: 90 * SECOND },
  { name: 'fast follow 30 s', everyMs: 30 * SECOND, timeoutMs: 2 * MINUTE },
  { name: 'fast follow 10 s', everyMs: 10 * SECOND, timeoutMs: 2 * MINUTE },
];

/** Mulberry32: a small seeded generator, so every round of every setting sees the same jobs. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Job {
  readonly id: string;
  readonly kind: 'fineTune' | 'batch';
  readonly startMs: number;
  readonly finishMs: number;
}

function workload(seed: number): Job[] {
  const random = seeded(seed);
  const count = Math.round(JOBS_PER_HOUR * HOURS);
  return Array.from({ length: count }, (_, i) => {
    const startMs = T0 + Math.floor(random() * HOURS * 60 * MINUTE);
    const finishMs = startMs + MIN_RUN_MS + Math.floor(random() * (MAX_RUN_MS - MIN_RUN_MS));
    const kind = random() < 0.5 ? 'fineTune' : 'batch';
    const id =
      kind === 'batch'
        ? `00000000-0000-4000-8000-${String(seed * 10_000 + i).padStart(12, '0')}`
        : `ft-${seed}-${i}`;
    return { id, kind, startMs, finishMs };
  });
}

/** What the fake lists at `t`: the jobs started by then, finished or not. */
function showJobs(together: FakeTogether, jobs: readonly Job[], t: number): void {
  const started = jobs.filter((j) => j.startMs <= t);
  together.jobs.fineTunes = started
    .filter((j) => j.kind === 'fineTune')
    .map((j) =>
      j.finishMs <= t
        ? fineTune(j.id, 'completed', j.finishMs, { created_at: iso(j.startMs) })
        : fineTune(j.id, 'running', j.startMs, { created_at: iso(j.startMs) }),
    );
  together.jobs.batches = started
    .filter((j) => j.kind === 'batch')
    .map((j) => ({
      ...(j.finishMs <= t
        ? batch(j.id, 'COMPLETED', { completedAt: j.finishMs, output: `file-${j.id}` })
        : batch(j.id, 'IN_PROGRESS')),
      created_at: iso(j.startMs),
    }));
}

interface RunResult {
  latenciesMs: number[];
  unpublished: number;
  requests: number;
  minutes: number;
  /** Virtual ms each invocation ran, with something followed when it started, and with nothing. */
  busyMs: number[];
  idleMs: number[];
  dynamoWrites: number;
  skippedTicks: number;
  rechecks: number;
}

/** DynamoDB calls take virtual time and are counted: the middleware every command passes through. */
function timedDynamo(client: DynamoDBClient, clock: { t: number }, writes: { n: number }): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      clock.t += LATENCY.dynamo;
      if (/^(Put|Update|Delete)Item/.test(context.commandName ?? '')) writes.n++;
      return next(args);
    },
    { step: 'initialize', name: 'benchVirtualLatency' },
  );
}

/** One setting over one workload: a tick a minute for HOURS, each tick's invocation run to its end. */
async function runSetting(
  setting: Setting,
  jobs: readonly Job[],
  minutes: number,
  together: FakeTogether,
  dynamo: Awaited<ReturnType<typeof startDynalite>>,
): Promise<RunResult> {
  const clock: ApiClock & { t: number } = {
    t: T0,
    now: () => clock.t,
    sleep: async (ms) => void (clock.t += ms),
    random: () => 0.5,
  };
  together.reset();
  together.now = clock.now;
  together.latency = () => {
    clock.t += LATENCY.together;
    showJobs(together, jobs, clock.t);
  };
  const writes = { n: 0 };
  const client = new DynamoDBClient({
    endpoint: dynamo.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
  });
  timedDynamo(client, clock, writes);
  const table = await dynamo.createTable('latency');
  const publishedAt = new Map<string, number>();
  const base = benchPollerDeps({
    client,
    table,
    apiBaseUrl: together.baseUrl,
    apiKey: together.apiKey,
    clock,
  });
  const deps = {
    ...base,
    config: {
      ...base.config,
      fastFollow: setting.everyMs
        ? {
            everyMs: setting.everyMs,
            intervalMs: MINUTE,
            requestsPerMinute: DEFAULTS.fastFollowRequestsPerMinute,
          }
        : undefined,
    },
    getApiKey: async () => {
      clock.t += LATENCY.secret;
      return together.apiKey;
    },
    publish: async (_type: string, detail: string) => {
      clock.t += LATENCY.eventBridge;
      const id = (JSON.parse(detail) as { id: string }).id.split(':')[1];
      if (!publishedAt.has(id)) publishedAt.set(id, clock.t);
    },
  };
  const result = await tick(setting, deps, clock, minutes);
  client.destroy();
  return {
    ...result,
    ...latencies(jobs, publishedAt),
    requests: together.requests.length,
    dynamoWrites: writes.n,
  };
}

async function tick(
  setting: Setting,
  deps: Parameters<typeof poll>[0],
  clock: { t: number },
  minutes: number,
): Promise<Pick<RunResult, 'minutes' | 'busyMs' | 'idleMs' | 'skippedTicks' | 'rechecks'>> {
  const out = { minutes, busyMs: [] as number[], idleMs: [] as number[], skippedTicks: 0, rechecks: 0 };
  let followedBefore = 0;
  for (let minute = 0; minute < minutes; minute++) {
    const at = T0 + minute * MINUTE;
    // The previous invocation still running at this tick: the lease makes this one skip.
    if (clock.t > at) {
      out.skippedTicks++;
      continue;
    }
    clock.t = at;
    const summary: PollSummary = await poll(deps, pollWindow(at, setting.timeoutMs, RESERVES));
    (followedBefore > 0 ? out.busyMs : out.idleMs).push(clock.t - at);
    followedBefore = Object.values(summary.followed).reduce((a, b) => a + b, 0);
    out.rechecks += summary.rechecks ?? 0;
  }
  return out;
}

/** Finished early enough to be published within the run (the last five minutes are left out). */
function latencies(jobs: readonly Job[], publishedAt: Map<string, number>) {
  const end = T0 + HOURS * 60 * MINUTE - 5 * MINUTE;
  const due = jobs.filter((j) => j.finishMs < end);
  const latenciesMs = due
    .filter((j) => publishedAt.has(j.id))
    .map((j) => publishedAt.get(j.id)! - j.finishMs);
  return { latenciesMs, unpublished: due.length - latenciesMs.length };
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

const mean = (xs: number[]) => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);

/** Dollars a month for invocations of `ms` each, a tick a minute: billed duration x memory, plus the requests. */
function monthlyLambda(ms: number): number {
  return INVOCATIONS_PER_MONTH * ((Math.ceil(ms) / 1000) * MEMORY_GB * ARM64_GB_SECOND + LAMBDA_REQUEST);
}

function report(results: Map<string, RunResult[]>, idle: Map<string, RunResult>): void {
  const s = (xs: number[], digits = 1) => `${median(xs).toFixed(digits)} (${spread(xs, digits)})`;
  console.log(
    `\nOutcome-to-bus latency on a virtual clock, ${ROUNDS} rounds (seeds 1-${ROUNDS}) of ${HOURS} h, ` +
      `${JOBS_PER_HOUR} jobs an hour (half fine-tunes, half batches, 2-90 min each); Together ${LATENCY.together} ms ` +
      `a request, DynamoDB ${LATENCY.dynamo} ms, PutEvents ${LATENCY.eventBridge} ms. Median over rounds (min-max).\n`,
  );
  console.log(
    '| setting | p50 s | p99 s | max s | Together req/min | re-checks/min | DynamoDB writes/min | ' +
      'busy invocation s | Lambda $/month busy | skipped ticks | unpublished |',
  );
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const [name, runs] of results) {
    const per = (f: (r: RunResult) => number) => runs.map(f);
    const busy = per((r) => mean(r.busyMs));
    console.log(
      `| ${name} | ${s(per((r) => percentile(r.latenciesMs, 50) / 1000))} | ` +
        `${s(per((r) => percentile(r.latenciesMs, 99) / 1000))} | ${s(per((r) => Math.max(...r.latenciesMs) / 1000))} | ` +
        `${s(per((r) => r.requests / r.minutes))} | ${s(per((r) => r.rechecks / r.minutes))} | ` +
        `${s(per((r) => r.dynamoWrites / r.minutes))} | ${s(
          busy.map((ms) => ms / 1000),
          2,
        )} | ` +
        `${s(busy.map(monthlyLambda), 2)} | ${Math.max(...per((r) => r.skippedTicks))} | ` +
        `${Math.max(...per((r) => r.unpublished))} |`,
    );
  }
  const samples = [...results.values()][0].map((r) => r.latenciesMs.length);
  console.log(`\nOutcomes measured per round: ${spread(samples)}.`);
  console.log('\nAn idle account (no jobs), 30 ticks each:\n');
  console.log('| setting | Together req/min | re-checks/min | invocation s | Lambda $/month |');
  console.log('| --- | ---: | ---: | ---: | ---: |');
  for (const [name, r] of idle) {
    const ms = mean(r.idleMs);
    console.log(
      `| ${name} | ${(r.requests / r.minutes).toFixed(1)} | ${(r.rechecks / r.minutes).toFixed(1)} | ` +
        `${(ms / 1000).toFixed(2)} | ${monthlyLambda(ms).toFixed(2)} |`,
    );
  }
}

async function main() {
  const together = await new FakeTogether().start();
  const dynamo = await startDynalite();
  const results = new Map<string, RunResult[]>(SETTINGS.map((s) => [s.name, []]));
  const idle = new Map<string, RunResult>();
  const started = Date.now();
  for (const setting of SETTINGS) idle.set(setting.name, await runSetting(setting, [], 30, together, dynamo));
  // Interleaved: each round runs every setting on the same seeded jobs.
  for (let round = 1; round <= ROUNDS; round++) {
    const jobs = workload(round);
    for (const setting of SETTINGS) {
      results.get(setting.name)!.push(await runSetting(setting, jobs, HOURS * 60, together, dynamo));
    }
  }
  report(results, idle);
  console.log(`node ${process.version}; the run took ${Math.round((Date.now() - started) / 1000)} s.`);
  await dynamo.stop();
  await together.stop();
}

void main().catch((err) => {
  console.error(err);
  process.exit(1);
});
