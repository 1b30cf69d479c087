import { createHash } from 'node:crypto';
import { outcomeKey, TogetherEnvelope, withOutcomeKey } from '../../lib/events';
import { requiredEnv } from '../shared/env';
import type { HttpStream, HttpStreamExchange } from '../shared/http';
import { deliverOnce, IdempotencyStore } from '../shared/idempotency';
import { errorName, Logger, LogLine, MetricsContext } from '../shared/log';
import { publishOutcomeUnknown } from '../shared/publisher';
import { DYNAMODB_LIMITS, EVENTBRIDGE_LIMITS, SdkLimits, worstCaseMs } from '../shared/sdk-config';
import { checkApiBaseUrl, DEFAULT_API_BASE_URL, errorDetail } from '../shared/together-api';

/**
 * The batch results recipe: on `batch.done`, copy the batch's output file (and error file) from Together to S3 as
 * it streams, count its lines and tokens on the way, and publish one `batch.collected` per batch.
 *
 * The claim on `batch.collected:<batch id>` covers the whole work (download, upload, PutEvents), so a redelivered
 * `batch.done` copies nothing twice, and any failure before EventBridge took the event releases the claim for
 * Lambda's retry. Object keys are fixed per batch, so a retry after a partial failure overwrites what it left.
 */

export const COLLECTED_TYPE = 'batch.collected';
/** S3 wants every part but the last to be at least 5 MiB; 8 MiB keeps what the copy holds at about two parts. */
export const PART_BYTES = 8 * 1024 * 1024;
export const MIN_PART_BYTES = 5 * 1024 * 1024;
/** S3's most parts per upload. */
export const MAX_PARTS = 10_000;
/** A longer line is counted as failed without being held. */
export const MAX_LINE_BYTES = 16 * 1024 * 1024;
export const JSONL_CONTENT_TYPE = 'application/x-ndjson';
export const UNKNOWN_MODEL = 'unknown';
/** Past this many models in one batch, the rest are counted as `other`: a metric dimension each costs money. */
export const MAX_MODELS = 50;

/**
 * S3 calls carry up to a part (8 MiB), so a longer request timeout than the table's (20 s is 0.4 MB/s); retried,
 * since a part is idempotent.
 */
export const S3_LIMITS: SdkLimits = { connectionTimeoutMs: 1_000, requestTimeoutMs: 20_000, maxAttempts: 3 };
/** After the last byte: the part still uploading, the last part, CompleteMultipartUpload, one after another. */
export const S3_CALLS_TO_FINISH = 3;
/** deliverOnce's attempts at marking the claim completed, and their jittered backoff (under a second in all). */
const COMPLETE_ATTEMPTS = 3;
const COMPLETE_BACKOFF_ALLOWANCE_MS = 1_000;
/** S3's longest object key, in bytes. */
export const MAX_KEY_BYTES = 1024;
/** An abort is best effort (the bucket's lifecycle rule is the backstop): never wait longer than this for it. */
export const ABORT_WAIT_MS = 10_000;

export interface CollectLimits {
  /**
   * Downloads stop this long before the function's end, leaving time for the last part, completing the upload,
   * PutEvents and marking (or releasing) the claim at the SDK clients' worst case.
   */
  readonly finishReserveMs: number;
  /** A claim outlives the function by this much, so it never lapses while the function still runs. */
  readonly claimMarginMs: number;
  /** Below this much download time the claim is not even taken. */
  readonly minWorkMs: number;
}

export const DEFAULT_LIMITS: CollectLimits = {
  finishReserveMs: Math.max(
    // Finishing: the upload, PutEvents, marking the claim completed.
    S3_CALLS_TO_FINISH * worstCaseMs(S3_LIMITS) +
      worstCaseMs(EVENTBRIDGE_LIMITS) +
      COMPLETE_ATTEMPTS * worstCaseMs(DYNAMODB_LIMITS) +
      COMPLETE_BACKOFF_ALLOWANCE_MS,
    // Cut off at the deadline inside a write (a part settling, an upload being created), then the part just sent,
    // the abort and releasing the claim.
    3 * worstCaseMs(S3_LIMITS) + ABORT_WAIT_MS + worstCaseMs(DYNAMODB_LIMITS),
  ),
  claimMarginMs: 30_000,
  minWorkMs: 5_000,
};

export interface BatchResultsConfig {
  readonly bucket: string;
  /** Prepended to `<batch id>/output.jsonl`, e.g. `together-batches/`. */
  readonly keyPrefix: string;
  /** Together's API base; an `output_url` is only followed when it is this base's file content URL. */
  readonly apiBaseUrl: string;
  readonly retentionSeconds: number;
  readonly metrics: MetricsContext;
  readonly limits?: Partial<CollectLimits>;
}

/** A file's bytes as they come; `close` lets go of the connection early (harmless once it is over). */
export interface FileDownload {
  readonly body: AsyncIterable<Uint8Array>;
  close(): void;
}

/** Starts the download of a Together file; throws when Together does not answer 2xx. */
export type OpenFile = (fileId: string, deadlineMs: number) => Promise<FileDownload>;

export interface S3Target {
  readonly bucket: string;
  readonly key: string;
}

export interface UploadedPart {
  readonly etag: string;
  /** Base64 CRC32, when the upload was created with that checksum algorithm. */
  readonly checksumCrc32?: string;
}

/** The S3 calls the copy makes; the adapter maps them onto the SDK. */
export interface S3Ops {
  putObject(p: S3Target & { body: Buffer; contentType: string }): Promise<void>;
  /** Returns the upload id. */
  createMultipartUpload(p: S3Target & { contentType: string }): Promise<string>;
  /** Returns the part's ETag and the checksum S3 stored for it, which completing the upload names again. */
  uploadPart(p: S3Target & { uploadId: string; partNumber: number; body: Buffer }): Promise<UploadedPart>;
  completeMultipartUpload(
    p: S3Target & { uploadId: string; parts: ReadonlyArray<UploadedPart & { partNumber: number }> },
  ): Promise<void>;
  abortMultipartUpload(p: S3Target & { uploadId: string }): Promise<void>;
}

export interface BatchResultsDeps {
  readonly config: BatchResultsConfig;
  readonly openFile: OpenFile;
  readonly s3: S3Ops;
  readonly store: IdempotencyStore;
  /** Puts one event on the bus; throws unless EventBridge accepted it. */
  readonly publish: (detailType: string, detail: string) => Promise<void>;
  readonly log: Logger;
  /** Epoch ms. */
  readonly now: () => number;
  readonly newToken: () => string;
}

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

export type CollectResult =
  | { readonly outcome: 'nothing_to_collect'; readonly batchId: string }
  | {
      readonly outcome: 'published';
      readonly key: string;
      readonly data: BatchCollectedData;
      readonly tokensByModel: Readonly<Record<string, number>>;
    }
  | { readonly outcome: 'duplicate'; readonly key: string };

/** What a `batch.done` asks to collect. */
export interface BatchDone {
  readonly batchId: string;
  readonly outputFileId?: string;
  readonly errorFileId?: string;
  /** A model the event names, for lines that name none. */
  readonly model?: string;
}

/** An `output_url` that is not the configured API's file content URL: following it could hand the key to anyone. */
export class RefusedUrlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RefusedUrlError';
  }
}

/** Together answered a file download with a non-2xx status. */
export class TogetherFileError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'TogetherFileError';
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function nonEmptyString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** A file id we put in a URL path: one plain segment. */
export function checkFileId(id: string, field: string): string {
  // eslint-disable-next-line no-control-regex
  if (id.length > 256 || /[\u0000-\u001f\u007f/\\]/.test(id) || id === '.' || id === '..') {
    throw new Error(`data.${field} is not a usable file id: ${JSON.stringify(id.slice(0, 80))}`);
  }
  return id;
}

/** `<base>/files/<id>/content`. */
export function fileContentUrl(baseUrl: string, fileId: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/files/${encodeURIComponent(fileId)}/content`;
}

/**
 * The file id in `url` when it is exactly `<base>/files/<id>/content` (same scheme, host, port and path prefix, no
 * query, fragment or credentials); undefined otherwise.
 */
export function fileIdFromUrl(url: string, baseUrl: string): string | undefined {
  let u: URL;
  let base: URL;
  try {
    u = new URL(url);
    base = new URL(baseUrl);
  } catch {
    return undefined;
  }
  if (u.origin !== base.origin || u.username || u.password || u.search || u.hash) return undefined;
  // Against the raw text too: URL parsing resolves `..` and drops a bare `?`, which the match must not hide.
  if (url.includes('?') || url.includes('#') || /\/\.\.?(\/|$)/.test(url)) return undefined;
  const prefix = `${base.pathname.replace(/\/+$/, '')}/files/`;
  if (!u.pathname.startsWith(prefix) || !u.pathname.endsWith('/content')) return undefined;
  const segment = u.pathname.slice(prefix.length, -'/content'.length);
  if (segment === '' || segment.includes('/')) return undefined;
  let id: string;
  try {
    id = decodeURIComponent(segment);
  } catch {
    return undefined;
  }
  return id;
}

/** Reads and checks the EventBridge event; throws on anything that is not a usable `batch.done`. */
export function readBatchDone(event: unknown, apiBaseUrl: string): BatchDone {
  const e = isObject(event) ? event : {};
  if (e['detail-type'] !== 'batch.done') {
    throw new Error(`expected a batch.done event, got detail-type ${String(e['detail-type']).slice(0, 80)}`);
  }
  const data = isObject(e.detail) && isObject(e.detail.data) ? e.detail.data : undefined;
  const batchId = nonEmptyString(data?.batch_id);
  if (!data || !batchId) throw new Error('batch.done without a non-empty string data.batch_id');
  // eslint-disable-next-line no-control-regex
  if (batchId.length > 256 || /[\u0000-\u001f\u007f]/.test(batchId)) {
    throw new Error(`batch.done with an unusable batch_id: ${JSON.stringify(batchId.slice(0, 80))}`);
  }
  let outputFileId = nonEmptyString(data.output_file_id);
  const outputUrl = nonEmptyString(data.output_url);
  if (outputFileId === undefined && outputUrl !== undefined) {
    outputFileId = fileIdFromUrl(outputUrl, apiBaseUrl);
    if (outputFileId === undefined) {
      throw new RefusedUrlError(
        `batch ${batchId}: refusing output_url ${JSON.stringify(outputUrl.slice(0, 200))}: only ` +
          `${apiBaseUrl.replace(/\/+$/, '')}/files/<id>/content is followed, so the API key never goes to another host`,
      );
    }
  }
  const errorFileId = nonEmptyString(data.error_file_id);
  return {
    batchId,
    outputFileId: outputFileId === undefined ? undefined : checkFileId(outputFileId, 'output_file_id'),
    errorFileId: errorFileId === undefined ? undefined : checkFileId(errorFileId, 'error_file_id'),
    model: nonEmptyString(data.model),
  };
}

/**
 * Splits a byte stream into lines on `\n`. Lines are decoded only once whole, and `\n` never occurs inside a
 * multi-byte UTF-8 character, so a character split across chunks is never mangled. A line over `maxLineBytes` is
 * dropped as it streams (only its length is kept) and reported to `onOversize`.
 */
export class LineSplitter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private oversize = false;
  private oversizeBytes = 0;

  constructor(
    private readonly onLine: (line: string) => void,
    private readonly onOversize: (bytes: number) => void,
    private readonly maxLineBytes = MAX_LINE_BYTES,
  ) {}

  /** The most bytes held for an unfinished line. */
  get heldBytes(): number {
    return this.pendingBytes;
  }

  push(chunk: Uint8Array): void {
    const buf = toBuffer(chunk);
    let start = 0;
    for (;;) {
      const nl = buf.indexOf(10, start);
      if (nl === -1) {
        this.hold(buf.subarray(start));
        return;
      }
      this.hold(buf.subarray(start, nl));
      this.endLine();
      start = nl + 1;
    }
  }

  /** The last line may have no `\n`. */
  end(): void {
    if (this.pendingBytes > 0 || this.oversize) this.endLine();
  }

  private hold(part: Buffer): void {
    if (part.length === 0) return;
    if (this.oversize) {
      this.oversizeBytes += part.length;
      return;
    }
    if (this.pendingBytes + part.length > this.maxLineBytes) {
      this.oversize = true;
      this.oversizeBytes = this.pendingBytes + part.length;
      this.pending = [];
      this.pendingBytes = 0;
      return;
    }
    this.pending.push(part);
    this.pendingBytes += part.length;
  }

  private endLine(): void {
    if (this.oversize) {
      const bytes = this.oversizeBytes;
      this.oversize = false;
      this.oversizeBytes = 0;
      this.onOversize(bytes);
      return;
    }
    const line = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    this.onLine(line.toString('utf8'));
  }
}

function field(value: unknown, name: string): unknown {
  return isObject(value) ? value[name] : undefined;
}

function tokens(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? Math.round(value) : undefined;
}

function statusCode(value: unknown): number | undefined {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  return typeof n === 'number' && Number.isFinite(n) ? n : undefined;
}

/**
 * Counts a batch's lines and tokens. Output lines are read like OpenAI batch results, tolerantly: usage and model
 * at `response.body`, else `body`, else the line itself.
 */
export class BatchTally {
  lines = 0;
  failedLines = 0;
  promptTokens = 0;
  completionTokens = 0;
  totalTokens = 0;
  readonly tokensByModel = new Map<string, number>();

  constructor(
    private readonly fallbackModel = UNKNOWN_MODEL,
    private readonly maxModels = MAX_MODELS,
  ) {}

  outputLine(text: string): void {
    const trimmed = text.trim();
    if (trimmed === '') return;
    this.lines++;
    let line: unknown;
    try {
      line = JSON.parse(trimmed);
    } catch {
      this.failedLines++;
      return;
    }
    if (!isObject(line)) {
      this.failedLines++;
      return;
    }
    const response = line.response;
    const status = statusCode(field(response, 'status_code'));
    if ((line.error !== undefined && line.error !== null) || (status !== undefined && status >= 400)) {
      this.failedLines++;
    }
    const responseBody = field(response, 'body');
    const pick = (name: string) => {
      for (const holder of [responseBody, line.body, line]) {
        const value = field(holder, name);
        if (value !== undefined && value !== null) return value;
      }
      return undefined;
    };
    const usage = [field(responseBody, 'usage'), field(line.body, 'usage'), line.usage].find(isObject);
    if (!usage) return;
    const prompt = tokens(usage.prompt_tokens) ?? 0;
    const completion = tokens(usage.completion_tokens) ?? 0;
    const total = tokens(usage.total_tokens) ?? prompt + completion;
    this.promptTokens += prompt;
    this.completionTokens += completion;
    this.totalTokens += total;
    const model = nonEmptyString(pick('model'))?.slice(0, 256) ?? this.fallbackModel;
    const counted =
      this.tokensByModel.has(model) || this.tokensByModel.size < this.maxModels ? model : 'other';
    this.tokensByModel.set(counted, (this.tokensByModel.get(counted) ?? 0) + total);
  }

  /** An output line too long to hold: a result we cannot read is a failed one. */
  oversizeOutputLine(): void {
    this.lines++;
    this.failedLines++;
  }

  /** Every non-empty line of the error file is a failed request. */
  errorLine(text: string): void {
    if (text.trim() !== '') this.failedLines++;
  }
}

function timeLimit<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took over ${ms} ms`)), ms);
  });
  // A late failure of `work` must not go unhandled once we stopped waiting for it.
  work.catch(() => undefined);
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

/**
 * Writes one S3 object from a stream of chunks: one PutObject when it all fits in a part, else a multipart upload
 * with at most one part uploading while the next fills. `write` resolves once the caller may send more, so a
 * caller that awaits it holds the download back while S3 is behind: the copy holds about two parts.
 */
export class S3ObjectWriter {
  /** Bytes written so far. */
  bytes = 0;
  private chunks: Buffer[] = [];
  private buffered = 0;
  private uploadId?: string;
  private partsSent = 0;
  private readonly parts: Array<UploadedPart & { partNumber: number }> = [];
  private uploading?: Promise<void>;
  private failure: { error: unknown } | undefined;
  private completed = false;

  constructor(
    private readonly s3: S3Ops,
    private readonly target: S3Target,
    private readonly contentType = JSONL_CONTENT_TYPE,
    private readonly partBytes = PART_BYTES,
  ) {
    if (partBytes < MIN_PART_BYTES) throw new Error(`parts must be at least ${MIN_PART_BYTES} bytes`);
  }

  get multipartUploadId(): string | undefined {
    return this.uploadId;
  }

  async write(chunk: Buffer): Promise<void> {
    if (this.failure) throw this.failure.error;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    this.bytes += chunk.length;
    // Only a part known not to be the last goes out: the last may be small, and a file of one part is a PutObject.
    while (this.buffered > this.partBytes) {
      const body = this.take(this.partBytes);
      await this.settle();
      this.uploadId ??= await this.s3.createMultipartUpload({
        ...this.target,
        contentType: this.contentType,
      });
      this.send(body);
    }
  }

  async finish(): Promise<void> {
    if (this.failure) throw this.failure.error;
    const rest = this.take(this.buffered);
    if (this.uploadId === undefined) {
      await this.s3.putObject({ ...this.target, body: rest, contentType: this.contentType });
      this.completed = true;
      return;
    }
    await this.settle();
    if (rest.length > 0) this.send(rest);
    await this.settle();
    await this.s3.completeMultipartUpload({ ...this.target, uploadId: this.uploadId, parts: this.parts });
    this.completed = true;
  }

  /** Best effort, never throws: an upload left behind is only storage until the lifecycle rule removes it. */
  async abort(log: Logger): Promise<void> {
    // A part still uploading could outlive the abort and be stored; let it end first.
    await this.uploading?.catch(() => undefined);
    this.uploading = undefined;
    if (this.uploadId === undefined || this.completed) return;
    try {
      await timeLimit(
        this.s3.abortMultipartUpload({ ...this.target, uploadId: this.uploadId }),
        ABORT_WAIT_MS,
        'AbortMultipartUpload',
      );
    } catch (err) {
      log({
        level: 'WARN',
        message:
          'could not abort the multipart upload; its parts stay until an AbortIncompleteMultipartUpload lifecycle rule removes them',
        bucket: this.target.bucket,
        key: this.target.key,
        uploadId: this.uploadId,
        error: errorName(err),
      });
    }
  }

  private take(n: number): Buffer {
    const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.buffered);
    const rest = all.subarray(n);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.buffered = rest.length;
    return all.subarray(0, n);
  }

  private send(body: Buffer): void {
    if (this.partsSent >= MAX_PARTS) {
      throw new Error(`${this.target.key}: more than ${MAX_PARTS} parts of ${this.partBytes} bytes`);
    }
    const partNumber = ++this.partsSent;
    const uploading = this.s3
      .uploadPart({ ...this.target, uploadId: this.uploadId!, partNumber, body })
      .then((part) => {
        this.parts.push({ ...part, partNumber });
      });
    // Seen at once by `write`, so the download stops early; rethrown by `settle`.
    uploading.catch((error) => (this.failure ??= { error }));
    this.uploading = uploading;
  }

  private async settle(): Promise<void> {
    const uploading = this.uploading;
    this.uploading = undefined;
    await uploading;
  }
}

function toBuffer(chunk: Uint8Array): Buffer {
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

/** Streams one Together file into one S3 object, feeding `lines` on the way; returns its size. */
async function copyFile(
  deps: BatchResultsDeps,
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

interface Collected {
  readonly data: BatchCollectedData;
  readonly tokensByModel: Map<string, number>;
}

const MAX_OVERSIZE_LOGS = 10;

async function collect(deps: BatchResultsDeps, input: BatchDone, deadlineMs: number): Promise<Collected> {
  const { bucket, keyPrefix } = deps.config;
  const tally = new BatchTally(input.model);
  let oversizeLogs = 0;
  const oversize = (file: string, lineNumber: number, bytes: number) => {
    if (oversizeLogs++ >= MAX_OVERSIZE_LOGS) return;
    deps.log({
      level: 'WARN',
      message: `a line over ${MAX_LINE_BYTES} bytes was counted as failed without being read`,
      batch_id: input.batchId,
      file,
      line: lineNumber,
      bytes,
    });
  };
  const target = (name: string): S3Target => ({ bucket, key: `${keyPrefix}${input.batchId}/${name}` });
  const uri = (t: S3Target) => `s3://${t.bucket}/${t.key}`;

  let outputUri: string | null = null;
  let outputBytes = 0;
  if (input.outputFileId !== undefined) {
    const t = target('output.jsonl');
    let n = 0;
    const lines = new LineSplitter(
      (line) => {
        n++;
        tally.outputLine(line);
      },
      (bytes) => {
        n++;
        tally.oversizeOutputLine();
        oversize('output', n, bytes);
      },
    );
    outputBytes = await copyFile(deps, input.outputFileId, t, deadlineMs, lines);
    outputUri = uri(t);
  }
  let errorUri: string | null = null;
  if (input.errorFileId !== undefined) {
    const t = target('errors.jsonl');
    let n = 0;
    const lines = new LineSplitter(
      (line) => {
        n++;
        tally.errorLine(line);
      },
      (bytes) => {
        n++;
        tally.failedLines++;
        oversize('errors', n, bytes);
      },
    );
    try {
      await copyFile(deps, input.errorFileId, t, deadlineMs, lines);
      errorUri = uri(t);
    } catch (err) {
      // Gone at Together: every retry would fail the same way and hold back the output already copied.
      if (!(err instanceof TogetherFileError && err.status === 404)) throw err;
      deps.log({
        level: 'WARN',
        message: `error file ${input.errorFileId}: HTTP 404; collected without it (error_s3_uri null, its lines not counted)`,
        batch_id: input.batchId,
      });
    }
  }
  return {
    data: {
      batch_id: input.batchId,
      s3_uri: outputUri,
      error_s3_uri: errorUri,
      lines: tally.lines,
      failed_lines: tally.failedLines,
      total_tokens: tally.totalTokens,
      prompt_tokens: tally.promptTokens,
      completion_tokens: tally.completionTokens,
      bytes: outputBytes,
    },
    tokensByModel: tally.tokensByModel,
  };
}

/**
 * CloudWatch embedded metrics: `BatchesCollected` by `Service`, and `BatchTokens` by `Model`, one line per model
 * (a line holds one value per dimension).
 */
export function metricLines(
  metrics: MetricsContext,
  data: BatchCollectedData,
  tokensByModel: ReadonlyMap<string, number>,
  nowMs: number,
): LogLine[] {
  const emf = (dimensions: string[][], name: string) => ({
    Timestamp: nowMs,
    CloudWatchMetrics: [
      { Namespace: metrics.namespace, Dimensions: dimensions, Metrics: [{ Name: name, Unit: 'Count' }] },
    ],
  });
  return [
    {
      level: 'INFO',
      message: 'batch collected',
      ...data,
      Service: metrics.service,
      BatchesCollected: 1,
      _aws: emf([['Service']], 'BatchesCollected'),
    },
    ...[...tokensByModel].map(([model, n]) => ({
      level: 'INFO',
      message: 'batch tokens',
      batch_id: data.batch_id,
      Model: model,
      BatchTokens: n,
      _aws: emf([['Model']], 'BatchTokens'),
    })),
  ];
}

/**
 * Collects one `batch.done`: at most once per batch, whatever the deliveries. Returns when the batch is collected
 * and published (now or before) or has nothing to collect; throws when Lambda should retry later (another
 * invocation holds the claim, or something failed) and on an event it cannot use.
 */
export async function collectBatchResults(
  deps: BatchResultsDeps,
  event: unknown,
  remainingMs: number,
): Promise<CollectResult> {
  const limits: CollectLimits = { ...DEFAULT_LIMITS, ...deps.config.limits };
  let input: BatchDone;
  try {
    input = readBatchDone(event, deps.config.apiBaseUrl);
  } catch (err) {
    deps.log({ level: 'ERROR', message: 'cannot collect this event', error: errorName(err) });
    throw err;
  }
  const { batchId } = input;
  if (input.outputFileId === undefined && input.errorFileId === undefined) {
    deps.log({
      level: 'INFO',
      message: 'batch has no output or error file: nothing to collect',
      batch_id: batchId,
    });
    return { outcome: 'nothing_to_collect', batchId };
  }
  const longestKey = `${deps.config.keyPrefix}${batchId}/output.jsonl`;
  if (Buffer.byteLength(longestKey) > MAX_KEY_BYTES) {
    throw fail(
      deps,
      `batch ${batchId.slice(0, 80)}: object key of ${Buffer.byteLength(longestKey)} bytes: S3 takes at most ` +
        `${MAX_KEY_BYTES}; use a shorter keyPrefix`,
    );
  }
  const startMs = deps.now();
  const deadlineMs = startMs + remainingMs - limits.finishReserveMs;
  if (deadlineMs - startMs < limits.minWorkMs) {
    throw new Error(
      `batch ${batchId}: ${remainingMs} ms left, too little to collect and still publish (needs over ` +
        `${limits.finishReserveMs + limits.minWorkMs} ms): give the function a longer timeout`,
    );
  }
  const draft: TogetherEnvelope = { id: '', type: COLLECTED_TYPE, data: { batch_id: batchId } };
  const key = outcomeKey(draft);
  deps.log({
    level: 'INFO',
    message: 'collecting batch',
    batch_id: batchId,
    output_file_id: input.outputFileId ?? null,
    error_file_id: input.errorFileId ?? null,
  });

  let collected: Collected | undefined;
  // Only a failed PutEvents may have published anyway; a failed download or upload certainly did not.
  let publishing = false;
  const result = await deliverOnce(
    deps.store,
    {
      id: key,
      deliveryId: key,
      payloadHash: createHash('sha256')
        .update(JSON.stringify([batchId, input.outputFileId ?? null, input.errorFileId ?? null]))
        .digest('hex'),
      token: deps.newToken(),
      nowMs: startMs,
      // Held past the function's own end: never lapses while this invocation may still publish.
      inProgressMs: remainingMs + limits.claimMarginMs,
      retentionSeconds: deps.config.retentionSeconds,
    },
    async () => {
      publishing = false;
      collected = await collect(deps, input, deadlineMs);
      const envelope: TogetherEnvelope = {
        id: key,
        type: COLLECTED_TYPE,
        created_at: new Date(deps.now()).toISOString(),
        data: collected.data,
      };
      publishing = true;
      await deps.publish(COLLECTED_TYPE, withOutcomeKey(JSON.stringify(envelope), envelope, key));
    },
    { outcomeUnknown: (err) => publishing && publishOutcomeUnknown(err) },
  );

  switch (result.outcome) {
    case 'published': {
      const { data, tokensByModel } = collected!;
      if (result.completeError) {
        deps.log({
          level: 'WARN',
          message: 'published, but the claim could not be marked completed',
          key,
          error: errorName(result.completeError),
        });
      }
      for (const line of metricLines(deps.config.metrics, data, tokensByModel, deps.now())) deps.log(line);
      return { outcome: 'published', key, data, tokensByModel: Object.fromEntries(tokensByModel) };
    }
    case 'duplicate':
      deps.log({
        level: result.payloadMismatch ? 'WARN' : 'INFO',
        message: result.payloadMismatch
          ? 'already collected, from a batch.done naming other files'
          : 'already collected: nothing to do',
        key,
      });
      return { outcome: 'duplicate', key };
    case 'in_flight':
      throw fail(
        deps,
        `${key} is being collected by another invocation; retry in about ${result.retryAfterSeconds} s`,
      );
    case 'store_error':
      throw fail(deps, `the dedupe table failed for ${key}: ${errorName(result.error)}`, result.error);
    case 'publish_error': {
      const released = result.releaseError
        ? `; the claim could not be released (${errorName(result.releaseError)}) and lapses in ` +
          `${Math.ceil((remainingMs + limits.claimMarginMs) / 1000)} s`
        : '; the claim is released, a retry collects it again';
      const what = publishing ? 'EventBridge refused' : 'collecting';
      throw fail(deps, `${what} ${key} failed: ${errorName(result.error)}${released}`, result.error);
    }
    case 'publish_unknown':
      throw fail(
        deps,
        `EventBridge did not answer for ${key} (${errorName(result.error)}); the claim holds for ` +
          `${result.retryAfterSeconds} s, then a retry publishes it if it did not land`,
        result.error,
      );
  }
}

function fail(deps: BatchResultsDeps, message: string, cause?: unknown): Error {
  deps.log({ level: 'ERROR', message });
  return new Error(message, { cause });
}

export interface TogetherFileOptions {
  readonly baseUrl: string;
  readonly apiKey: () => Promise<string>;
  readonly stream: (x: HttpStreamExchange) => Promise<HttpStream>;
  readonly now: () => number;
  /** @default 5000 */
  readonly connectTimeoutMs?: number;
  /** Silence from Together while we wait for bytes. @default 30000 */
  readonly idleTimeoutMs?: number;
  /** Together refused the key (401/403): a cached key should be read again. */
  readonly onKeyRefused?: () => void;
}

const MAX_ERROR_BODY_BYTES = 64 * 1024;

/** Downloads `GET <base>/files/<id>/content` with the key, streamed. */
export function togetherFileOpener(o: TogetherFileOptions): OpenFile {
  return async (fileId, deadlineMs) => {
    // After the key: reading it takes time out of the download's, never out of the reserve for finishing.
    const apiKey = await o.apiKey();
    const timeoutMs = deadlineMs - o.now();
    if (timeoutMs <= 0) throw new Error(`no time left to download file ${fileId}`);
    const res = await o.stream({
      url: fileContentUrl(o.baseUrl, fileId),
      method: 'GET',
      headers: { authorization: `Bearer ${apiKey}`, accept: '*/*' },
      connectTimeoutMs: Math.min(timeoutMs, o.connectTimeoutMs ?? 5_000),
      idleTimeoutMs: Math.min(timeoutMs, o.idleTimeoutMs ?? 30_000),
      timeoutMs,
    });
    if (res.status >= 200 && res.status < 300) return { body: res.body, close: () => res.destroy() };
    if (res.status === 401 || res.status === 403) o.onKeyRefused?.();
    let text = '';
    try {
      text = await res.text(MAX_ERROR_BODY_BYTES);
    } catch {
      // The status alone still says what happened.
    } finally {
      res.destroy();
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    const why = errorDetail(json, res.status).message.split(apiKey).join('[redacted]').slice(0, 500);
    throw new TogetherFileError(
      res.status,
      `GET /files/${fileId}/content answered HTTP ${res.status}: ${why}` +
        (res.status >= 300 && res.status < 400 ? ' (redirects are not followed)' : ''),
    );
  };
}

/** Everything the adapter reads from its environment, checked. */
export interface BatchResultsEnv {
  readonly tableName: string;
  /** The receiver's claim scope: `batch.collected` is one of its outcomes (`o#<scope>#batch.collected:<id>`). */
  readonly claimScope: string;
  readonly eventBusName: string;
  readonly bucketName: string;
  readonly keyPrefix: string;
  readonly apiKeySecretArn: string;
  readonly apiKeyJsonField?: string;
  readonly apiBaseUrl: string;
  readonly retentionSeconds: number;
  readonly metricsNamespace: string;
  readonly metricsService: string;
}

export function readBatchResultsEnv(env: NodeJS.ProcessEnv): BatchResultsEnv {
  const days = Number(env.RETENTION_DAYS || 7);
  if (!Number.isFinite(days) || days <= 0) {
    throw new Error(`RETENTION_DAYS must be a positive number of days, got "${env.RETENTION_DAYS}"`);
  }
  return {
    tableName: requiredEnv(env, 'TABLE_NAME'),
    claimScope: requiredEnv(env, 'CLAIM_SCOPE'),
    eventBusName: requiredEnv(env, 'EVENT_BUS_NAME'),
    bucketName: requiredEnv(env, 'BUCKET_NAME'),
    keyPrefix: env.KEY_PREFIX ?? 'together-batches/',
    apiKeySecretArn: requiredEnv(env, 'API_KEY_SECRET_ARN'),
    apiKeyJsonField: env.API_KEY_JSON_FIELD || undefined,
    apiBaseUrl: checkApiBaseUrl('API_BASE_URL', env.API_BASE_URL || DEFAULT_API_BASE_URL),
    retentionSeconds: Math.round(days * 86400),
    metricsNamespace: env.METRICS_NAMESPACE || 'TogetherWebhooks',
    metricsService: env.AWS_LAMBDA_FUNCTION_NAME || 'together-batch-results',
  };
}
