/**
 * One copy of a Together batch file into S3, in a process of its own so its peak RSS is this copy's alone. Forked by
 * bench/batch-results.ts with the candidate and where to find the file server and dynalite; answers over IPC with
 * the wall time, the baseline RSS before the copy, the peak RSS after it (`resourceUsage().maxRSS`) and what was
 * counted and uploaded, then exits. S3 is an in-process stub: each call waits a fixed latency, then keeps only the
 * body's size. Never asserts on time.
 */
import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { BatchResultsDeps, collectBatchResults } from '../../lambda/batch-results/core';
import { togetherFileOpener } from '../../lambda/batch-results/download';
import { BatchTally, LineSplitter } from '../../lambda/batch-results/lines';
import { S3Ops } from '../../lambda/batch-results/s3-writer';
import { openHttpStream } from '../../lambda/shared/http';
import { DynamoIdempotencyStore } from '../../lambda/shared/idempotency';
import { benchDynamoClient } from './dynamo';
import { gc, highWaterMark, maxRssBytes, report, sleep } from './measured';

export type Candidate = 'streaming' | 'buffered';

export interface CopyJob {
  readonly candidate: Candidate;
  /** Together's API base on the local file server, e.g. http://127.0.0.1:1234/v1. */
  readonly baseUrl: string;
  readonly apiKey: string;
  readonly fileId: string;
  /** A small file copied once before the baseline: JIT, lazy SDK modules, the keep-alive socket. */
  readonly warmFileId: string;
  readonly dynamoEndpoint: string;
  readonly table: string;
  readonly s3LatencyMs: number;
  /**
   * A diagnostic, not a candidate: a full GC as each part goes to S3, so memory holds only what the copy still
   * references (the part, the next one filling) and none of the garbage V8 has not collected yet.
   */
  readonly gcEachPart?: boolean;
}

export interface CopyResult {
  readonly wallMs: number;
  /** RSS right before the copy, after a warm-up copy and a full GC. */
  readonly baselineBytes: number;
  /** The process's peak RSS (`resourceUsage().maxRSS`), read after the copy. */
  readonly peakBytes: number;
  /** The same, read right before the copy: when the copy's peak is no higher, this is what `peakBytes` shows. */
  readonly peakBeforeBytes: number;
  /**
   * Linux's VmHWM after the copy, the peak of this process image only (`maxRSS` also counts the forking parent's
   * RSS at the fork): a cross-check. Undefined where /proc is not there.
   */
  readonly hwmBytes?: number;
  /** The most ArrayBuffer/Buffer memory seen, sampled every 10 ms during the copy. */
  readonly peakArrayBufferBytes: number;
  readonly lines: number;
  readonly failedLines: number;
  readonly totalTokens: number;
  readonly uploadedBytes: number;
  readonly s3Calls: number;
  readonly largestBody: number;
}

/** S3 after a fixed latency per call; part bodies are let go of once "sent", only their sizes kept. */
function stubS3(latencyMs: number, gcEachPart: boolean) {
  const stats = { uploadedBytes: 0, calls: 0, largestBody: 0 };
  const took = async (body?: Buffer) => {
    await sleep(latencyMs);
    stats.calls++;
    if (body) {
      stats.uploadedBytes += body.length;
      stats.largestBody = Math.max(stats.largestBody, body.length);
    }
  };
  const ops: S3Ops = {
    putObject: (p) => took(p.body),
    async createMultipartUpload() {
      await took();
      return `upload-${randomUUID()}`;
    },
    async uploadPart(p) {
      if (gcEachPart) gc();
      await took(p.body);
      return { etag: `"etag-${p.partNumber}"` };
    },
    completeMultipartUpload: () => took(),
    abortMultipartUpload: () => took(),
  };
  return {
    ops,
    stats,
    reset() {
      stats.uploadedBytes = 0;
      stats.calls = 0;
      stats.largestBody = 0;
    },
  };
}

/** Candidate A: the recipe's core, as the Lambda handler wires it, but for S3 and the bus. */
async function streaming(job: CopyJob, s3: S3Ops) {
  const client = benchDynamoClient(job.dynamoEndpoint);
  const deps: BatchResultsDeps = {
    config: {
      bucket: 'bench-batch-results',
      keyPrefix: 'together-batches/',
      apiBaseUrl: job.baseUrl,
      retentionSeconds: 86400,
      metrics: { namespace: 'Bench', service: 'bench' },
    },
    openFile: togetherFileOpener({
      baseUrl: job.baseUrl,
      apiKey: async () => job.apiKey,
      stream: openHttpStream,
      now: Date.now,
    }),
    s3,
    store: new DynamoIdempotencyStore(client, job.table),
    publish: async () => undefined,
    log: () => undefined,
    now: Date.now,
    newToken: randomUUID,
  };
  return async (fileId: string) => {
    const batchId = `batch-${randomUUID()}`;
    const result = await collectBatchResults(
      deps,
      {
        'detail-type': 'batch.done',
        detail: { data: { batch_id: batchId, output_file_id: fileId, status: 'COMPLETED' } },
      },
      15 * 60_000,
    );
    if (result.outcome !== 'published') throw new Error(`collect answered ${result.outcome}`);
    return {
      lines: result.data.lines,
      failedLines: result.data.failed_lines,
      tokens: result.data.total_tokens,
    };
  };
}

/** GET the whole body into one Buffer, sized from content-length when the server gives it. */
function download(url: string, apiKey: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { authorization: `Bearer ${apiKey}`, accept: '*/*' } }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        reject(new Error(`${url} answered ${res.statusCode}`));
        return;
      }
      const length = Number(res.headers['content-length']);
      const sized = Number.isSafeInteger(length) && length >= 0;
      const whole = sized ? Buffer.allocUnsafe(length) : undefined;
      const chunks: Buffer[] = [];
      let at = 0;
      res.on('data', (chunk: Buffer) => {
        if (whole) chunk.copy(whole, at);
        else chunks.push(chunk);
        at += chunk.length;
      });
      res.on('error', reject);
      res.on('end', () => {
        if (!res.complete || (sized && at !== length)) reject(new Error(`${url}: body cut short`));
        else resolve(whole ?? Buffer.concat(chunks, at));
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/** Candidate B, the floor for holding the file: download it all, count its lines, one PutObject. */
function buffered(job: CopyJob, s3: S3Ops) {
  return async (fileId: string) => {
    const body = await download(`${job.baseUrl}/files/${encodeURIComponent(fileId)}/content`, job.apiKey);
    const tally = new BatchTally();
    const lines = new LineSplitter(
      (line) => tally.outputLine(line),
      () => tally.oversizeOutputLine(),
    );
    lines.push(body);
    lines.end();
    await s3.putObject({
      bucket: 'bench-batch-results',
      key: `together-batches/${fileId}/output.jsonl`,
      body,
      contentType: 'application/x-ndjson',
    });
    return { lines: tally.lines, failedLines: tally.failedLines, tokens: tally.totalTokens };
  };
}

async function main() {
  const job = JSON.parse(process.argv[2]) as CopyJob;
  const s3 = stubS3(job.s3LatencyMs, job.gcEachPart === true);
  const copy = job.candidate === 'streaming' ? await streaming(job, s3.ops) : buffered(job, s3.ops);
  await copy(job.warmFileId);
  s3.reset();
  gc();
  await sleep(50);
  const baselineBytes = process.memoryUsage().rss;
  const peakBeforeBytes = maxRssBytes();
  let peakArrayBufferBytes = process.memoryUsage().arrayBuffers;
  const sampler = setInterval(() => {
    peakArrayBufferBytes = Math.max(peakArrayBufferBytes, process.memoryUsage().arrayBuffers);
  }, 10);
  const started = performance.now();
  const counted = await copy(job.fileId);
  const wallMs = performance.now() - started;
  clearInterval(sampler);
  const result: CopyResult = {
    wallMs,
    baselineBytes,
    peakBytes: maxRssBytes(),
    peakBeforeBytes,
    hwmBytes: highWaterMark(),
    peakArrayBufferBytes,
    lines: counted.lines,
    failedLines: counted.failedLines,
    totalTokens: counted.tokens,
    uploadedBytes: s3.stats.uploadedBytes,
    s3Calls: s3.stats.calls,
    largestBody: s3.stats.largestBody,
  };
  report(result);
}

void main().catch((err) => {
  console.error(err);
  process.exit(1);
});
