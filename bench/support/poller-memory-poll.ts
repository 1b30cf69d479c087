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
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { RequestFailed } from '../../lambda/poller/api';
import { poll, PollerDeps, PollSummary, pollWindow, RESERVES } from '../../lambda/poller/core';
import { FineTuneJob, fineTuneJob, FineTuneSource } from '../../lambda/poller/sources/fine-tunes';
import { DynamoPollerStateStore } from '../../lambda/poller/state';
import { Listing, PollContext } from '../../lambda/poller/tracker';
import { DynamoIdempotencyStore, outcomeClaimKeys } from '../../lambda/shared/idempotency';
import { ApiClock, togetherRequest } from '../../lambda/shared/together-api';

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

function highWaterMark(): number | undefined {
  try {
    const kb = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    return kb === undefined ? undefined : Number(kb) * 1024;
  } catch {
    return undefined;
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const gc = () => (globalThis as { gc?: () => void }).gc?.();

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

async function main() {
  const job = JSON.parse(process.argv[2]) as MemoryJob;
  const started = performance.now();
  const clock: ApiClock = {
    now: () => job.now + Math.round(performance.now() - started),
    sleep,
    random: Math.random,
  };
  const client = new DynamoDBClient({
    endpoint: job.dynamoEndpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
  });
  const table = async () => {
    const name = `bench-${randomUUID()}`;
    await client.send(
      new CreateTableCommand({
        TableName: name,
        AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
    return name;
  };
  let baseUrl = job.warmBaseUrl;
  if (job.candidate === 'buffered') readListingBuffered(job, () => baseUrl);
  const deps = (tableName: string): PollerDeps => ({
    config: {
      apiBaseUrl: baseUrl,
      apiKeySecretName: 'bench',
      watchModels: [],
      modelInfo: {},
      stallAfterMs: 6 * 3600_000,
      modelMissingMs: 3600_000,
      initialLookbackMs: 3600_000,
      retentionSeconds: 7 * 86400,
      metrics: { namespace: 'Bench', service: 'bench' },
    },
    store: new DynamoIdempotencyStore(client, tableName, outcomeClaimKeys('bench')),
    state: new DynamoPollerStateStore(client, tableName, 'bench'),
    publish: async () => undefined,
    getApiKey: async () => job.apiKey,
    notify: async () => undefined,
    clock,
    log: () => undefined,
    newToken: randomUUID,
  });
  // Warm-up on a small listing: JIT, lazily loaded SDK modules, the kept-alive sockets.
  await poll(deps(await table()), pollWindow(clock.now(), 90_000, RESERVES));
  baseUrl = job.baseUrl;
  const measured = deps(await table());
  gc();
  await sleep(50);
  const before = process.memoryUsage();
  const peakBeforeBytes = process.resourceUsage().maxRSS * 1024;
  let peakHeapBytes = before.heapUsed;
  let peakArrayBufferBytes = before.arrayBuffers;
  const sampler = setInterval(() => {
    const m = process.memoryUsage();
    peakHeapBytes = Math.max(peakHeapBytes, m.heapUsed);
    peakArrayBufferBytes = Math.max(peakArrayBufferBytes, m.arrayBuffers);
  }, 5);
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  const summary = await poll(measured, pollWindow(clock.now(), 90_000, RESERVES));
  const wallMs = performance.now() - t0;
  const used = process.cpuUsage(cpu);
  clearInterval(sampler);
  const after = process.memoryUsage();
  const result: MemoryResult = {
    wallMs,
    cpuMs: (used.user + used.system) / 1000,
    baselineBytes: before.rss,
    peakBytes: process.resourceUsage().maxRSS * 1024,
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
  client.destroy();
  process.send!(result, () => process.exit(0));
}

void main().catch((err) => {
  console.error(err);
  process.exit(1);
});
