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
import type { Candidate, CopyJob, CopyResult } from './support/batch-copy';
import type { ServerReady } from './support/batch-server';
import { machine, runForkedBench, runMeasured } from './support/fork';
import { median, mib, withSpread } from './support/stats';

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const SIZES_MIB = [64, 256];
const S3_LATENCY_MS = 20;
interface CopyCandidate {
  readonly id: string;
  readonly candidate: Candidate;
  readonly gcEachPart?: boolean;
  readonly name: string;
}
const CANDIDATES: readonly CopyCandidate[] = [
  { id: 'A', candidate: 'streaming', name: 'A streaming: collectBatchResults' },
  { id: 'B', candidate: 'buffered', name: 'B buffered floor: one Buffer, one PutObject' },
  // Not a candidate: where A's memory goes (what it references vs garbage not yet collected).
  { id: 'A-gc', candidate: 'streaming', gcEachPart: true, name: 'diagnostic: A with a full GC at each part' },
];

async function copyOnce(ready: ServerReady, size: number, c: CopyCandidate): Promise<CopyResult> {
  const file = ready.files[`file-${size}mib`];
  const job: CopyJob = {
    candidate: c.candidate,
    gcEachPart: c.gcEachPart,
    baseUrl: ready.baseUrl,
    apiKey: ready.apiKey,
    fileId: file.id,
    warmFileId: 'file-warm',
    dynamoEndpoint: ready.dynamoEndpoint,
    table: ready.table,
    s3LatencyMs: S3_LATENCY_MS,
  };
  const r = await runMeasured<CopyResult>('batch-copy.ts', job, `the ${job.candidate} copy`, ['--expose-gc']);
  // Not a timing: a copy that lost bytes or miscounted would make its figures meaningless.
  if (r.uploadedBytes !== file.bytes || r.lines !== file.lines || r.totalTokens !== file.totalTokens) {
    throw new Error(
      `${c.name}, ${size} MiB: uploaded ${r.uploadedBytes} of ${file.bytes} bytes, counted ${r.lines} of ` +
        `${file.lines} lines and ${r.totalTokens} of ${file.totalTokens} tokens`,
    );
  }
  return r;
}

const growth = (r: CopyResult) => mib(r.peakBytes - r.baselineBytes);
const hwmGrowth = (r: CopyResult) => mib((r.hwmBytes ?? NaN) - r.baselineBytes);

function printTable(ready: ServerReady, results: Map<string, CopyResult[]>): void {
  console.log(
    `\n## batch results copy, ${new Date().toISOString().slice(0, 10)} (${machine()}; ${ROUNDS} interleaved rounds, ` +
      `median (min-max); parts of ${mib(ready.partBytes)} MiB, S3 stub ${S3_LATENCY_MS} ms a call)\n`,
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
}

void runForkedBench({
  server: { script: 'batch-server.ts', what: 'the file server', env: { SIZES_MIB: SIZES_MIB.join(',') } },
  rounds: ROUNDS,
  sizes: SIZES_MIB,
  candidates: CANDIDATES,
  id: (c) => c.id,
  run: copyOnce,
  print: printTable,
  runs: { one: 'copy', many: 'copies' },
}).catch((err) => {
  console.error(err);
  process.exit(1);
});
