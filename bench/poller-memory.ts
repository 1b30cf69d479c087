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
import { ChildProcess, fork } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import type { MemoryCandidate, MemoryJob, MemoryResult } from './support/poller-memory-poll';
import type { MemoryServerReady } from './support/poller-memory-server';

const ROUNDS = Number(process.env.ROUNDS ?? 3);
const SIZES = (process.env.SIZES ?? '10000,50000,100000').split(',').map(Number);
const MiB = 1024 * 1024;
const NAMES: Record<MemoryCandidate, string> = {
  shipped: 'A shipped: poll() as the poller runs it',
  buffered: 'B buffered: whole answer, one JSON.parse',
};
const CANDIDATES = (process.env.CANDIDATES ?? 'shipped,buffered').split(',') as MemoryCandidate[];
const env = { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };

function startServer(): Promise<{ child: ChildProcess; ready: MemoryServerReady }> {
  const child = fork(join(__dirname, 'support', 'poller-memory-server.ts'), [], {
    execArgv: ['--import', 'tsx', '--max-old-space-size=4096'],
    env: { ...env, SIZES: SIZES.join(',') },
  });
  return new Promise((resolve, reject) => {
    child.once('message', (ready: MemoryServerReady) => resolve({ child, ready }));
    child.once('exit', (code) => reject(new Error(`the listing server exited with ${code}`)));
  });
}

function pollOnce(job: MemoryJob): Promise<MemoryResult> {
  return new Promise((resolve, reject) => {
    const child = fork(join(__dirname, 'support', 'poller-memory-poll.ts'), [JSON.stringify(job)], {
      // Room for the buffered candidate at 100,000 jobs: the point is to see what it needs.
      execArgv: ['--import', 'tsx', '--expose-gc', '--max-old-space-size=8192'],
      env,
    });
    let result: MemoryResult | undefined;
    child.on('message', (m: MemoryResult) => (result = m));
    child.on('error', reject);
    child.on('exit', (code) =>
      result ? resolve(result) : reject(new Error(`the ${job.candidate} poll exited with ${code}`)),
    );
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const withSpread = (xs: number[], digits = 0) =>
  `${median(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}-${Math.max(...xs).toFixed(digits)})`;
const mib = (bytes: number) => bytes / MiB;
const growth = (r: MemoryResult) => mib(r.peakBytes - r.baselineBytes);
const hwmGrowth = (r: MemoryResult) => mib((r.hwmBytes ?? NaN) - r.baselineBytes);
const heapGrowth = (r: MemoryResult) => mib(r.peakHeapBytes - r.baselineHeapBytes);

function outcome(r: MemoryResult, jobs: number): string {
  const s = r.summary;
  if (s.checked.fineTunes === jobs) return `listed ${jobs.toLocaleString('en-US')}, published ${s.published}`;
  return `listing FAILED: ${(s.failures?.[0] ?? s.reason ?? s.outcome).slice(0, 140)}`;
}

async function main() {
  const startedAt = Date.now();
  const server = await startServer();
  const { ready } = server;
  const results = new Map<string, MemoryResult[]>();
  let parentRss = 0;
  for (let round = 0; round < ROUNDS; round++) {
    for (const size of SIZES) {
      const order = round % 2 === 0 ? CANDIDATES : [...CANDIDATES].reverse();
      for (const candidate of order) {
        parentRss = Math.max(parentRss, process.memoryUsage.rss());
        const r = await pollOnce({
          candidate,
          baseUrl: ready.listings[`n${size}`].baseUrl,
          warmBaseUrl: ready.listings.warm.baseUrl,
          apiKey: ready.apiKey,
          dynamoEndpoint: ready.dynamoEndpoint,
          now: ready.now,
        });
        results.set(`${size}/${candidate}`, [...(results.get(`${size}/${candidate}`) ?? []), r]);
        process.stderr.write('.');
      }
    }
  }
  process.stderr.write('\n');
  server.child.send({ cmd: 'stop' });

  console.log(
    `\n## one poll over a large GET /fine-tunes, ${new Date().toISOString().slice(0, 10)} (node ${process.version}, ` +
      `${cpus().length} cores, ${cpus()[0]?.model.trim()}, ${Math.round(totalmem() / 2 ** 30)} GiB; ${ROUNDS} ` +
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
  const all = [...results.values()].flat();
  const masked = all.filter((r) => r.peakBeforeBytes >= r.peakBytes).length;
  console.log(
    `\nmaxRSS floor from the forking process: ${mib(parentRss).toFixed(0)} MiB (baselines ` +
      `${Math.min(...all.map((r) => mib(r.baselineBytes))).toFixed(0)}-` +
      `${Math.max(...all.map((r) => mib(r.baselineBytes))).toFixed(0)} MiB; peak = baseline + growth).` +
      (masked > 0
        ? ` ${masked} polls peaked no higher than before the poll (start-up): their growth is an upper bound.`
        : ' Every poll peaked above its pre-poll maxRSS.'),
  );
  console.log(`whole run: ${((Date.now() - startedAt) / 1000).toFixed(0)} s`);
}

void main().catch((err) => {
  console.error(err);
  process.exit(1);
});
