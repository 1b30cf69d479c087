/**
 * npm run bench:poller (also part of npm run bench): one poll's wall time, CPU time and Together requests for
 * 10, 1,000 and 10,000 fine-tunes with 1% and 10% unfinished, against the fake Together answering after 50 ms,
 * beside the floor every poller pays (one GET /fine-tunes and its JSON.parse), in the same run. The fake and
 * dynalite run in a child process, so the CPU figures are the poller's alone. Never asserts on time.
 */
import { ChildProcess, fork } from 'node:child_process';
import { join } from 'node:path';
import { poll, pollWindow, RESERVES } from '../lambda/poller/core';
import { realClock, togetherRequest } from '../lambda/shared/together-api';
import { benchDynamoClient } from './support/dynamo';
import { benchPollerDeps } from './support/poller-deps';
import { median, spread } from './support/stats';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const LATENCY_MS = 50;
const SIZES = [10, 1_000, 10_000];
const UNFINISHED = [0.01, 0.1];

class Servers {
  private next = 1;
  private readonly waiting = new Map<number, (value: unknown) => void>();
  private constructor(private readonly child: ChildProcess) {
    child.on('message', (m: { id: number; value: unknown }) => this.waiting.get(m.id)?.(m.value));
  }

  static async start(): Promise<Servers> {
    const child = fork(join(__dirname, 'support', 'poller-servers.ts'), [], {
      execArgv: ['--import', 'tsx'],
      env: { ...process.env, LATENCY_MS: String(LATENCY_MS) },
    });
    const servers = new Servers(child);
    await new Promise((resolve) => servers.waiting.set(0, resolve));
    return servers;
  }

  ask<T>(message: Record<string, unknown>): Promise<T> {
    const id = this.next++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve as (value: unknown) => void);
      this.child.send({ ...message, id });
    });
  }
}

interface Sample {
  wallMs: number;
  cpuMs: number;
  requests: number;
  published: number;
}

async function measure(servers: Servers, run: () => Promise<{ published: number }>): Promise<Sample> {
  await servers.ask<number>({ cmd: 'requests' });
  const cpu = process.cpuUsage();
  const started = performance.now();
  const { published } = await run();
  const wallMs = performance.now() - started;
  const used = process.cpuUsage(cpu);
  return {
    wallMs,
    cpuMs: (used.user + used.system) / 1000,
    requests: await servers.ask<number>({ cmd: 'requests' }),
    published,
  };
}

/** The floor every poller pays: one GET /fine-tunes and its JSON.parse. */
async function floorListing(baseUrl: string, apiKey: string): Promise<{ published: number }> {
  const res = await togetherRequest({
    baseUrl,
    apiKey,
    method: 'GET',
    path: '/fine-tunes',
    deadlineMs: Date.now() + 30_000,
    maxAttempts: 1,
  });
  if (!Array.isArray((res.json as { data?: unknown }).data)) throw new Error('no listing');
  return { published: 0 };
}

interface Samples {
  readonly floor: Sample[];
  readonly first: Sample[];
  readonly steady: Sample[];
}

/** `total` fine-tunes, `unfinished` of them running: ROUNDS rounds, each on a fresh table. */
async function sampleListing(servers: Servers, total: number, unfinished: number): Promise<Samples> {
  const now = Date.now();
  const { baseUrl, apiKey, endpoint } = await servers.ask<{
    baseUrl: string;
    apiKey: string;
    endpoint: string;
  }>({ cmd: 'jobs', total, unfinished, now });
  const client = benchDynamoClient(endpoint);
  const samples: Samples = { floor: [], first: [], steady: [] };
  for (let round = 0; round < ROUNDS; round++) {
    const table = await servers.ask<string>({ cmd: 'table' });
    const deps = benchPollerDeps({
      client,
      table,
      apiBaseUrl: baseUrl,
      apiKey,
      clock: realClock,
      watchModels: ['meta-llama/Llama-3.3-70B-Instruct-Turbo'],
    });
    const onePoll = () => poll(deps, pollWindow(Date.now(), 90_000, RESERVES));
    // Interleaved within the round: the floor, the first poll after deploy, then a steady-state poll.
    samples.floor.push(await measure(servers, () => floorListing(baseUrl, apiKey)));
    samples.first.push(await measure(servers, onePoll));
    samples.steady.push(await measure(servers, onePoll));
  }
  client.destroy();
  return samples;
}

function tableRows(total: number, share: number, unfinished: number, samples: Samples): string[] {
  const rows: string[] = [];
  const floorCpu = median(samples.floor.map((s) => s.cpuMs));
  for (const [name, list] of [
    ['first poll', samples.first],
    ['next poll', samples.steady],
  ] as const) {
    const cpu = list.map((s) => s.cpuMs);
    rows.push(
      `| ${total.toLocaleString('en-US')} | ${share * 100}% (${unfinished}) | ${name} | ` +
        `${median(list.map((s) => s.wallMs)).toFixed(0)} (${spread(list.map((s) => s.wallMs))}) | ` +
        `${median(cpu).toFixed(0)} (${spread(cpu)}) | ${(median(cpu) / floorCpu).toFixed(1)}x | ` +
        `${median(list.map((s) => s.requests))} | ${median(list.map((s) => s.published))} |`,
    );
  }
  rows.push(
    `| ${total.toLocaleString('en-US')} | ${share * 100}% (${unfinished}) | floor: GET /fine-tunes + parse | ` +
      `${median(samples.floor.map((s) => s.wallMs)).toFixed(0)} | ${floorCpu.toFixed(0)} | 1.0x | 1 | 0 |`,
  );
  return rows;
}

async function main() {
  const servers = await Servers.start();
  const rows: string[] = [];
  for (const total of SIZES) {
    for (const share of UNFINISHED) {
      const unfinished = Math.max(1, Math.round(total * share));
      rows.push(...tableRows(total, share, unfinished, await sampleListing(servers, total, unfinished)));
    }
  }
  await servers.ask({ cmd: 'stop' });
  console.log(
    `\nOne poll, fake Together at ${LATENCY_MS} ms a request, node ${process.version}, ${ROUNDS} rounds: ` +
      'median (min-max).\n',
  );
  console.log('| fine-tunes | unfinished | run | wall ms | CPU ms | CPU vs floor | requests | published |');
  console.log('| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |');
  for (const row of rows) console.log(row);
}

void main().catch((err) => {
  console.error(err);
  process.exit(1);
});
