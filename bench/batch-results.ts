/**
 * npm run bench:batch (also part of npm run bench): the batch results recipe's copy of a Together file into S3, for
 * 64 MiB and 256 MiB of generated batch JSONL served over loopback, side by side in one run with the buffered floor
 * (the whole body into one Buffer, the same line count, one PutObject). Each copy runs in a child process of its own
 * (bench/support/batch-copy.ts), so its peak RSS is that candidate's alone; the file server holding the files and
 * dynalite for the recipe's claim run in another (bench/support/batch-server.ts). S3 is a stub in the copying
 * process answering each call after 20 ms and keeping only the bodies' sizes; the bus is a no-op. Interleaved
 * rounds, medians with the spread, ratios. This process stays small on purpose: Linux starts a forked child's
 * `maxRSS` at the parent's RSS. Never asserts on time.
 */
import { ChildProcess, fork } from 'node:child_process';
import { cpus } from 'node:os';
import { join } from 'node:path';
import type { Candidate, CopyJob, CopyResult } from './support/batch-copy';
import type { ServerReady } from './support/batch-server';

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const MiB = 1024 * 1024;
const SIZES_MIB = [64, 256];
const S3_LATENCY_MS = 20;
const CANDIDATES: ReadonlyArray<{ id: string; candidate: Candidate; gcEachPart?: boolean; name: string }> = [
  { id: 'A', candidate: 'streaming', name: 'A streaming: collectBatchResults' },
  { id: 'B', candidate: 'buffered', name: 'B buffered floor: one Buffer, one PutObject' },
  // Not a candidate: where A's memory goes (what it references vs garbage not yet collected).
  { id: 'A-gc', candidate: 'streaming', gcEachPart: true, name: 'diagnostic: A with a full GC at each part' },
];
const env = { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };

function startServer(): Promise<{ child: ChildProcess; ready: ServerReady }> {
  const child = fork(join(__dirname, 'support', 'batch-server.ts'), [], {
    execArgv: ['--import', 'tsx'],
    env: { ...env, SIZES_MIB: SIZES_MIB.join(',') },
  });
  return new Promise((resolve, reject) => {
    child.once('message', (ready: ServerReady) => resolve({ child, ready }));
    child.once('exit', (code) => reject(new Error(`the file server exited with ${code}`)));
  });
}

function copyOnce(job: CopyJob): Promise<CopyResult> {
  return new Promise((resolve, reject) => {
    const child = fork(join(__dirname, 'support', 'batch-copy.ts'), [JSON.stringify(job)], {
      execArgv: ['--import', 'tsx', '--expose-gc'],
      env,
    });
    let result: CopyResult | undefined;
    child.on('message', (m: CopyResult) => (result = m));
    child.on('error', reject);
    child.on('exit', (code) =>
      result ? resolve(result) : reject(new Error(`the ${job.candidate} copy exited with ${code}`)),
    );
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const withSpread = (xs: number[], digits = 0) =>
  `${median(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}-${Math.max(...xs).toFixed(digits)})`;
const mib = (bytes: number) => bytes / MiB;

async function main() {
  const startedAt = Date.now();
  const server = await startServer();
  const { ready } = server;
  const results = new Map<string, CopyResult[]>();
  let parentRss = 0;
  for (let round = 0; round < ROUNDS; round++) {
    for (const size of SIZES_MIB) {
      // Alternate the order, so no candidate always follows the same other.
      const order = round % 2 === 0 ? CANDIDATES : [...CANDIDATES].reverse();
      for (const c of order) {
        const file = ready.files[`file-${size}mib`];
        parentRss = Math.max(parentRss, process.memoryUsage.rss());
        const r = await copyOnce({
          candidate: c.candidate,
          gcEachPart: c.gcEachPart,
          baseUrl: ready.baseUrl,
          apiKey: ready.apiKey,
          fileId: file.id,
          warmFileId: 'file-warm',
          dynamoEndpoint: ready.dynamoEndpoint,
          table: ready.table,
          s3LatencyMs: S3_LATENCY_MS,
        });
        // Not a timing: a copy that lost bytes or miscounted would make its figures meaningless.
        if (r.uploadedBytes !== file.bytes || r.lines !== file.lines || r.totalTokens !== file.totalTokens) {
          throw new Error(
            `${c.name}, ${size} MiB: uploaded ${r.uploadedBytes} of ${file.bytes} bytes, counted ${r.lines} of ` +
              `${file.lines} lines and ${r.totalTokens} of ${file.totalTokens} tokens`,
          );
        }
        results.set(`${size}/${c.id}`, [...(results.get(`${size}/${c.id}`) ?? []), r]);
        process.stderr.write('.');
      }
    }
  }
  process.stderr.write('\n');
  server.child.send({ cmd: 'stop' });

  const growth = (r: CopyResult) => mib(r.peakBytes - r.baselineBytes);
  const hwmGrowth = (r: CopyResult) => mib((r.hwmBytes ?? NaN) - r.baselineBytes);
  console.log(
    `\n## batch results copy, ${new Date().toISOString().slice(0, 10)} (node ${process.version}, ` +
      `${cpus().length} cores, ${cpus()[0]?.model.trim()}; ${ROUNDS} interleaved rounds, median (min-max); ` +
      `parts of ${mib(ready.partBytes)} MiB, S3 stub ${S3_LATENCY_MS} ms a call)\n`,
  );
  console.log(
    '| file | candidate | wall ms | MiB/s | peak RSS over baseline, MiB | wall A/B | RSS growth A/B | ' +
      'peak ArrayBuffers, MiB | VmHWM over baseline, MiB | baseline RSS, MiB | S3 calls | largest body, MiB |',
  );
  console.log('| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const size of SIZES_MIB) {
    const b = results.get(`${size}/B`)!;
    for (const c of CANDIDATES) {
      const rs = results.get(`${size}/${c.id}`)!;
      const wallRatio = rs.map((r, i) => r.wallMs / b[i].wallMs);
      const rssRatio = rs.map((r, i) => growth(r) / growth(b[i]));
      const ratios =
        c.id === 'B' ? '1.00x | 1.00x' : `${withSpread(wallRatio, 2)}x | ${withSpread(rssRatio, 2)}x`;
      console.log(
        `| ${size} MiB | ${c.name} | ${withSpread(rs.map((r) => r.wallMs))} | ` +
          `${withSpread(rs.map((r) => mib(ready.files[`file-${size}mib`].bytes) / (r.wallMs / 1000)))} | ` +
          `${withSpread(rs.map(growth), 1)} | ${ratios} | ` +
          `${withSpread(
            rs.map((r) => mib(r.peakArrayBufferBytes)),
            1,
          )} | ${withSpread(rs.map(hwmGrowth), 1)} | ` +
          `${median(rs.map((r) => mib(r.baselineBytes))).toFixed(0)} | ${median(rs.map((r) => r.s3Calls))} | ` +
          `${median(rs.map((r) => mib(r.largestBody))).toFixed(1)} |`,
      );
    }
  }
  const all = [...results.values()].flat();
  const masked = all.filter((r) => r.peakBeforeBytes >= r.peakBytes).length;
  console.log(
    `\nmaxRSS floor from the forking process: ${mib(parentRss).toFixed(0)} MiB (baselines ` +
      `${Math.min(...all.map((r) => mib(r.baselineBytes))).toFixed(0)}-` +
      `${Math.max(...all.map((r) => mib(r.baselineBytes))).toFixed(0)} MiB).` +
      (masked > 0
        ? ` ${masked} copies peaked no higher than before the copy (start-up): their growth is an upper bound.`
        : ' Every copy peaked above its pre-copy maxRSS.'),
  );
  console.log(`whole run: ${((Date.now() - startedAt) / 1000).toFixed(0)} s`);
}

void main().catch((err) => {
  console.error(err);
  process.exit(1);
});
