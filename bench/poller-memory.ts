/**
 * npm run bench:poller-memory (also part of npm run bench): peak memory of ONE poll (the poller core's `poll()`) over
 * a `GET /fine-tunes` listing of 10,000, 50,000 and 100,000 fine-tunes, each with 3-20 embedded events (~4.2 KB a
 * job: 42, 212 and 424 MB of JSON), served over loopback at zero latency, dynalite for claims and state. Side by side
 * in one run, interleaved rounds (the order alternating): the poll as shipped, and the same poll with the listing
 * read as before streaming (whole answer, one JSON.parse; no size cap). Each poll runs in a child process of its own
 * (bench/support/poller-memory-poll.ts) after a warm-up poll and a full GC; the listings and dynalite live in
 * another (bench/support/poller-memory-server.ts), and this process stays small: Linux starts a forked child's
 * `maxRSS` at the parent's RSS. Medians with the spread over rounds, and per-round ratios. Never asserts on time.
 *
 * ROUNDS=<n> (default 3), SIZES=10000,50000 (default 10000,50000,100000), CANDIDATES=shipped (default both).
 */
import { totalmem } from 'node:os';
import { machine, runForkedBench, runMeasured } from './support/fork';
import type { MemoryCandidate, MemoryJob, MemoryResult } from './support/poller-memory-poll';
import type { MemoryServerReady } from './support/poller-memory-server';
import { median, mib, withSpread } from './support/stats';

const ROUNDS = Number(process.env.ROUNDS ?? 3);
const SIZES = (process.env.SIZES ?? '10000,50000,100000').split(',').map(Number);
const NAMES: Record<MemoryCandidate, string> = {
  shipped: 'A shipped: poll() as the poller runs it',
  buffered: 'B buffered: whole answer, one JSON.parse',
};
const CANDIDATES = (process.env.CANDIDATES ?? 'shipped,buffered').split(',') as MemoryCandidate[];

function pollOnce(ready: MemoryServerReady, size: number, candidate: MemoryCandidate): Promise<MemoryResult> {
  const job: MemoryJob = {
    candidate,
    baseUrl: ready.listings[`n${size}`].baseUrl,
    warmBaseUrl: ready.listings.warm.baseUrl,
    apiKey: ready.apiKey,
    dynamoEndpoint: ready.dynamoEndpoint,
    now: ready.now,
  };
  // Room for the buffered candidate at 100,000 jobs: the point is to see what it needs.
  return runMeasured('poller-memory-poll.ts', job, `the ${candidate} poll`, [
    '--expose-gc',
    '--max-old-space-size=8192',
  ]);
}

const growth = (r: MemoryResult) => mib(r.peakBytes - r.baselineBytes);
const hwmGrowth = (r: MemoryResult) => mib((r.hwmBytes ?? NaN) - r.baselineBytes);
const heapGrowth = (r: MemoryResult) => mib(r.peakHeapBytes - r.baselineHeapBytes);

function outcome(r: MemoryResult, jobs: number): string {
  const s = r.summary;
  if (s.checked.fineTunes === jobs) return `listed ${jobs.toLocaleString('en-US')}, published ${s.published}`;
  return `listing FAILED: ${(s.failures?.[0] ?? s.reason ?? s.outcome).slice(0, 140)}`;
}

function printTable(ready: MemoryServerReady, results: Map<string, MemoryResult[]>): void {
  console.log(
    `\n## one poll over a large GET /fine-tunes, ${new Date().toISOString().slice(0, 10)} (${machine()}, ` +
      `${Math.round(totalmem() / 2 ** 30)} GiB; ${ROUNDS} ` +
      'interleaved rounds, median (min-max); each poll in its own process)\n',
  );
  console.log(
    '| fine-tunes | listing, MB | candidate | result | peak RSS over baseline, MiB | RSS growth vs B | ' +
      'VmHWM over baseline, MiB | peak heap over baseline, MiB (sampled) | peak ArrayBuffers, MiB | ' +
      'baseline RSS, MiB | wall ms | CPU ms |',
  );
  console.log('| ---: | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const size of SIZES) {
    const listing = ready.listings[`n${size}`];
    const b = results.get(`${size}/buffered`);
    for (const candidate of CANDIDATES) {
      const rs = results.get(`${size}/${candidate}`)!;
      const ratio =
        candidate === 'buffered' || !b
          ? candidate === 'buffered'
            ? '1.00x'
            : '-'
          : `${withSpread(
              rs.map((r, i) => growth(r) / growth(b[i])),
              2,
            )}x`;
      console.log(
        `| ${size.toLocaleString('en-US')} | ${(listing.bytes / 1e6).toFixed(0)} | ${NAMES[candidate]} | ` +
          `${outcome(rs[0], size)}${rs.every((r) => outcome(r, size) === outcome(rs[0], size)) ? '' : ' (varied)'} | ` +
          `${withSpread(rs.map(growth), 1)} | ${ratio} | ${withSpread(rs.map(hwmGrowth), 1)} | ` +
          `${withSpread(rs.map(heapGrowth), 1)} | ${withSpread(
            rs.map((r) => mib(r.peakArrayBufferBytes)),
            1,
          )} | ` +
          `${median(rs.map((r) => mib(r.baselineBytes))).toFixed(0)} | ${withSpread(rs.map((r) => r.wallMs))} | ` +
          `${withSpread(rs.map((r) => r.cpuMs))} |`,
      );
    }
  }
}

void runForkedBench({
  server: {
    script: 'poller-memory-server.ts',
    what: 'the listing server',
    nodeFlags: ['--max-old-space-size=4096'],
    env: { SIZES: SIZES.join(',') },
  },
  rounds: ROUNDS,
  sizes: SIZES,
  candidates: CANDIDATES,
  id: (c) => c,
  run: pollOnce,
  print: printTable,
  runs: { one: 'poll', many: 'polls', baselines: '; peak = baseline + growth' },
}).catch((err) => {
  console.error(err);
  process.exit(1);
});
