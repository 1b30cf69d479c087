/**
 * One poll (the poller core's `poll()`) over one large `GET /fine-tunes` listing, in a process of its own so its
 * peak RSS is this poll's alone. Forked by bench/poller-memory.ts; answers over IPC with the baseline RSS before the
 * poll, the peak after it (`resourceUsage().maxRSS` and Linux's VmHWM), heap and ArrayBuffer peaks sampled every
 * 5 ms, wall and CPU time, and the poll's summary, then exits. Claims and state go to dynalite in the server process;
 * the bus and the alert topic are no-ops. Never asserts on time.
 *
 * Candidates:
 *  - `shipped`: `poll()` exactly as the poller runs it.
 *  - `buffered`: the same poll, but the fine-tunes listing read the way the poller read it before streaming: the
 *    whole answer into memory (`togetherRequest`: chunks, one Buffer, one string), one `JSON.parse` of it, then
 *    each item picked with the same `fineTuneJob`. No size cap, so its memory can be measured where the old 64 MiB
 *    cap made the listing fail.
 */
import { randomUUID } from 'node:crypto';
import { createDedupeTable } from '../../bin/cli/local-table';
import { RequestFailed } from '../../lambda/poller/api';
import { poll, PollerDeps, PollSummary, pollWindow, RESERVES } from '../../lambda/poller/core';
import { FineTuneJob, fineTuneJob, FineTuneSource } from '../../lambda/poller/sources/fine-tunes';
import { Listing, PollContext } from '../../lambda/poller/tracker';
import { ApiClock, togetherRequest } from '../../lambda/shared/together-api';
import { benchDynamoClient } from './dynamo';
import { gc, highWaterMark, maxRssBytes, report, sleep } from './measured';
import { benchPollerDeps } from './poller-deps';

export type MemoryCandidate = 'shipped' | 'buffered';

export interface MemoryJob {
  readonly candidate: MemoryCandidate;
  readonly baseUrl: string;
  readonly warmBaseUrl: string;
  readonly apiKey: string;
  readonly dynamoEndpoint: string;
  /** The listings' date: the poll's clock starts there. */
  readonly now: number;
}

export interface MemoryResult {
  readonly wallMs: number;
  readonly cpuMs: number;
  /** RSS right before the poll, after a warm-up poll and a full GC. */
  readonly baselineBytes: number;
  /** `resourceUsage().maxRSS` after the poll. */
  readonly peakBytes: number;
  /** The same, right before the poll: when the poll's peak is no higher, `peakBytes` shows this. */
  readonly peakBeforeBytes: number;
  /** VmHWM after the poll (this process image only), undefined without /proc. */
  readonly hwmBytes?: number;
  readonly baselineHeapBytes: number;
  /** Sampled every 5 ms: a synchronous parse longer than that can hide a short peak between samples. */
  readonly peakHeapBytes: number;
  readonly peakArrayBufferBytes: number;
  /** What the poll did: a listing that failed shows here. */
  readonly summary: Pick<
    PollSummary,
    'outcome' | 'reason' | 'checked' | 'published' | 'requests' | 'failures'
  >;
}

/** The listing read as before streaming: the whole answer, one parse, then picked. */
function readListingBuffered(job: MemoryJob, baseUrlOf: () => string): void {
  FineTuneSource.prototype.list = async function (ctx: PollContext): Promise<Listing<FineTuneJob>> {
    const res = await togetherRequest({
      baseUrl: baseUrlOf(),
      apiKey: job.apiKey,
      method: 'GET',
      path: '/fine-tunes',
      deadlineMs: Date.now() + 60_000,
      maxAttempts: 1,
      timeoutMs: 60_000,
      maxResponseBytes: 2 ** 31 - 1,
    });
    const answer = res.json as { data?: unknown };
    if (res.status !== 200 || !Array.isArray(answer?.data))
      throw new RequestFailed(`GET /fine-tunes: HTTP ${res.status}, no data array`);
    return {
      jobs: answer.data
        .map((item) => fineTuneJob(item, ctx))
        .filter((j): j is FineTuneJob => j !== undefined),
    };
  };
}

/** The listings' date, advancing with this process's time. */
function listingClock(now: number): ApiClock {
  const started = performance.now();
  return {
    now: () => now + Math.round(performance.now() - started),
    sleep,
    random: Math.random,
  };
}

/** One poll after a full GC: the baseline before it, the peaks during and after it, its time and its summary. */
async function measurePoll(deps: PollerDeps, clock: ApiClock): Promise<MemoryResult> {
  gc();
  await sleep(50);
  const before = process.memoryUsage();
  const peakBeforeBytes = maxRssBytes();
  let peakHeapBytes = before.heapUsed;
  let peakArrayBufferBytes = before.arrayBuffers;
  const sampler = setInterval(() => {
    const m = process.memoryUsage();
    peakHeapBytes = Math.max(peakHeapBytes, m.heapUsed);
    peakArrayBufferBytes = Math.max(peakArrayBufferBytes, m.arrayBuffers);
  }, 5);
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  const summary = await poll(deps, pollWindow(clock.now(), 90_000, RESERVES));
  const wallMs = performance.now() - t0;
  const used = process.cpuUsage(cpu);
  clearInterval(sampler);
  const after = process.memoryUsage();
  return {
    wallMs,
    cpuMs: (used.user + used.system) / 1000,
    baselineBytes: before.rss,
    peakBytes: maxRssBytes(),
    peakBeforeBytes,
    hwmBytes: highWaterMark(),
    baselineHeapBytes: before.heapUsed,
    peakHeapBytes: Math.max(peakHeapBytes, after.heapUsed),
    peakArrayBufferBytes: Math.max(peakArrayBufferBytes, after.arrayBuffers),
    summary: {
      outcome: summary.outcome,
      reason: summary.reason,
      checked: summary.checked,
      published: summary.published,
      requests: summary.requests,
      failures: summary.failures,
    },
  };
}

async function main() {
  const job = JSON.parse(process.argv[2]) as MemoryJob;
  const clock = listingClock(job.now);
  const client = benchDynamoClient(job.dynamoEndpoint);
  let baseUrl = job.warmBaseUrl;
  if (job.candidate === 'buffered') readListingBuffered(job, () => baseUrl);
  // Each poll on a table of its own, so the measured one finds no claims or state from the warm-up.
  const deps = async () =>
    benchPollerDeps({
      client,
      table: await createDedupeTable(client, `bench-${randomUUID()}`),
      apiBaseUrl: baseUrl,
      apiKey: job.apiKey,
      clock,
    });
  // Warm-up on a small listing: JIT, lazily loaded SDK modules, the kept-alive sockets.
  await poll(await deps(), pollWindow(clock.now(), 90_000, RESERVES));
  baseUrl = job.baseUrl;
  const result = await measurePoll(await deps(), clock);
  client.destroy();
  report(result);
}

void main().catch((err) => {
  console.error(err);
  process.exit(1);
});
