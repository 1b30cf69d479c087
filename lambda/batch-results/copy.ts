import type { Logger } from '../shared/log';
import type { BatchDone } from './batch-done';
import { OpenFile, TogetherFileError } from './download';
import { BatchTally, LineSplitter, MAX_LINE_BYTES, numberedLines, toBuffer } from './lines';
import { S3ObjectWriter, S3Ops, S3Target } from './s3-writer';

/**
 * Copying a batch's files from Together into S3 as they stream, counting their lines and tokens on the way: what
 * `batch.collected` then tells. Object keys are fixed per batch, so a retry after a partial failure overwrites what
 * it left.
 */

/** The `data` of `batch.collected`, as the catalogue describes it. */
export type BatchCollectedData = {
  readonly batch_id: string;
  readonly s3_uri: string | null;
  readonly error_s3_uri: string | null;
  readonly lines: number;
  readonly failed_lines: number;
  readonly total_tokens: number;
  readonly prompt_tokens: number;
  readonly completion_tokens: number;
  readonly bytes: number;
};

export interface Collected {
  readonly data: BatchCollectedData;
  readonly tokensByModel: Map<string, number>;
}

/** What a copy needs of the handler's dependencies. */
export interface CopyDeps {
  readonly config: {
    readonly bucket: string;
    /** Prepended to `<batch id>/output.jsonl`, e.g. `together-batches/`. */
    readonly keyPrefix: string;
  };
  readonly openFile: OpenFile;
  readonly s3: S3Ops;
  readonly log: Logger;
}

export const OUTPUT_OBJECT = 'output.jsonl';
export const ERRORS_OBJECT = 'errors.jsonl';
/** Lines over `MAX_LINE_BYTES` logged per batch; the rest are only counted. */
const MAX_OVERSIZE_LOGS = 10;

/** `<keyPrefix><batch id>/<name>` in the bucket. */
export function objectKey(keyPrefix: string, batchId: string, name: string): string {
  return `${keyPrefix}${batchId}/${name}`;
}

/** Copies the batch's output file, then its error file, into S3; returns what they count to. */
export async function copyBatchFiles(
  deps: CopyDeps,
  input: BatchDone,
  deadlineMs: number,
): Promise<Collected> {
  const tally = new BatchTally(input.model);
  const oversize = oversizeReporter(deps, input.batchId);
  let output: CopiedOutput | undefined;
  if (input.outputFileId !== undefined) {
    const lines = numberedLines(
      (line) => tally.outputLine(line),
      oversize('output', () => tally.oversizeOutputLine()),
    );
    output = await copyOutputFile(deps, input.batchId, input.outputFileId, deadlineMs, lines);
  }
  let errorUri: string | null = null;
  if (input.errorFileId !== undefined) {
    const lines = numberedLines(
      (line) => tally.errorLine(line),
      oversize('errors', () => tally.oversizeErrorLine()),
    );
    errorUri = await copyErrorFile(deps, input.batchId, input.errorFileId, deadlineMs, lines);
  }
  return { data: collectedData(input.batchId, output, errorUri, tally), tokensByModel: tally.tokensByModel };
}

interface CopiedOutput {
  readonly uri: string;
  readonly bytes: number;
}

async function copyOutputFile(
  deps: CopyDeps,
  batchId: string,
  fileId: string,
  deadlineMs: number,
  lines: LineSplitter,
): Promise<CopiedOutput> {
  const target = objectTarget(deps, batchId, OUTPUT_OBJECT);
  const bytes = await copyFile(deps, fileId, target, deadlineMs, lines);
  return { uri: s3Uri(target), bytes };
}

/** The error file's S3 URI; null when Together no longer has it. */
async function copyErrorFile(
  deps: CopyDeps,
  batchId: string,
  fileId: string,
  deadlineMs: number,
  lines: LineSplitter,
): Promise<string | null> {
  const target = objectTarget(deps, batchId, ERRORS_OBJECT);
  try {
    await copyFile(deps, fileId, target, deadlineMs, lines);
    return s3Uri(target);
  } catch (err) {
    // Gone at Together: every retry would fail the same way and hold back the output already copied.
    if (!(err instanceof TogetherFileError && err.status === 404)) throw err;
    deps.log({
      level: 'WARN',
      message: `error file ${fileId}: HTTP 404; collected without it (error_s3_uri null, its lines not counted)`,
      batch_id: batchId,
    });
    return null;
  }
}

/** Streams one Together file into one S3 object, feeding `lines` on the way; returns its size. */
async function copyFile(
  deps: CopyDeps,
  fileId: string,
  target: S3Target,
  deadlineMs: number,
  lines: LineSplitter,
): Promise<number> {
  const download = await deps.openFile(fileId, deadlineMs);
  const writer = new S3ObjectWriter(deps.s3, target);
  try {
    for await (const chunk of download.body) {
      const buf = toBuffer(chunk);
      lines.push(buf);
      await writer.write(buf);
    }
    lines.end();
    await writer.finish();
    return writer.bytes;
  } catch (err) {
    download.close();
    await writer.abort(deps.log);
    throw err;
  } finally {
    download.close();
  }
}

/**
 * Reports lines too long to read: `oversize(file, count)` is the splitter's `onOversize` for one file, counting the
 * line with `count` and logging the first few of the batch (both files together).
 */
function oversizeReporter(
  deps: CopyDeps,
  batchId: string,
): (file: string, count: () => void) => (line: number, bytes: number) => void {
  let logged = 0;
  return (file, count) => (line, bytes) => {
    count();
    if (logged++ >= MAX_OVERSIZE_LOGS) return;
    deps.log({
      level: 'WARN',
      message: `a line over ${MAX_LINE_BYTES} bytes was counted as failed without being read`,
      batch_id: batchId,
      file,
      line,
      bytes,
    });
  };
}

function collectedData(
  batchId: string,
  output: CopiedOutput | undefined,
  errorUri: string | null,
  tally: BatchTally,
): BatchCollectedData {
  return {
    batch_id: batchId,
    s3_uri: output?.uri ?? null,
    error_s3_uri: errorUri,
    lines: tally.lines,
    failed_lines: tally.failedLines,
    total_tokens: tally.totalTokens,
    prompt_tokens: tally.promptTokens,
    completion_tokens: tally.completionTokens,
    bytes: output?.bytes ?? 0,
  };
}

function objectTarget(deps: CopyDeps, batchId: string, name: string): S3Target {
  return { bucket: deps.config.bucket, key: objectKey(deps.config.keyPrefix, batchId, name) };
}

function s3Uri(target: S3Target): string {
  return `s3://${target.bucket}/${target.key}`;
}
