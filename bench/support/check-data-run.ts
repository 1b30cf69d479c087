import { checkStream } from '../../bin/cli/check-data/core';
import { generatedData } from '../../test/support/fine-tune-data';
import { gc, highWaterMark, maxRssBytes, report } from './measured';

/**
 * One measured run of bench/check-data.ts, in a process of its own: `check-data`'s core over generated JSONL, or the
 * floor (the same bytes split at newlines and each line JSON.parse'd, no rules). Reports wall and CPU time, the
 * baseline RSS, the peak (maxRSS) and RSS sampled at each MiB.
 */

export type CheckCandidate = 'check-data' | 'floor';
export interface CheckJob {
  readonly candidate: CheckCandidate;
  readonly mib: number;
}
export interface CheckResult {
  readonly wallMs: number;
  readonly cpuMs: number;
  readonly bytes: number;
  readonly samples: number;
  readonly baselineBytes: number;
  readonly peakBytes: number;
  readonly peakBeforeBytes: number;
  readonly sampledPeakBytes: number;
  readonly hwmBytes?: number;
}

async function floor(source: AsyncIterable<Buffer>): Promise<{ bytes: number; samples: number }> {
  let bytes = 0;
  let samples = 0;
  for await (const chunk of source) {
    bytes += chunk.length;
    for (let start = 0; start < chunk.length;) {
      const end = chunk.indexOf(10, start);
      JSON.parse(chunk.toString('utf8', start, end));
      samples++;
      start = end + 1;
    }
  }
  return { bytes, samples };
}

async function main(job: CheckJob): Promise<void> {
  await checkStream(generatedData(2)); // warm-up: JIT and the block's generation
  gc();
  const baselineBytes = process.memoryUsage.rss();
  const peakBeforeBytes = maxRssBytes();
  let sampledPeakBytes = baselineBytes;
  const each = () => void (sampledPeakBytes = Math.max(sampledPeakBytes, process.memoryUsage.rss()));
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  const source = generatedData(job.mib, { each });
  const r = job.candidate === 'floor' ? await floor(source) : await checkStream(source);
  const wallMs = Number(process.hrtime.bigint() - start) / 1e6;
  const used = process.cpuUsage(cpu);
  if (job.candidate === 'check-data' && (r as { problemCount: number }).problemCount !== 0)
    throw new Error('generated data had problems: the benchmark measures a valid file');
  report({
    wallMs,
    cpuMs: (used.user + used.system) / 1000,
    bytes: r.bytes,
    samples: r.samples,
    baselineBytes,
    peakBytes: maxRssBytes(),
    peakBeforeBytes,
    sampledPeakBytes,
    hwmBytes: highWaterMark(),
  } satisfies CheckResult);
}

void main(JSON.parse(process.argv[2]) as CheckJob).catch((err) => {
  console.error(err);
  process.exit(1);
});
