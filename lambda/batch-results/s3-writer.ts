import { errorName, Logger } from '../shared/log';
import { SdkLimits } from '../shared/sdk-config';

/**
 * Writing one S3 object as its bytes stream in: one PutObject when it fits in a part, else a multipart upload whose
 * parts carry CRC32 checksums, with at most one part uploading while the next fills (backpressure on the reader).
 */

/** S3 wants every part but the last to be at least 5 MiB; 8 MiB keeps what the copy holds at about two parts. */
export const PART_BYTES = 8 * 1024 * 1024;
export const MIN_PART_BYTES = 5 * 1024 * 1024;
/** S3's most parts per upload. */
export const MAX_PARTS = 10_000;
export const JSONL_CONTENT_TYPE = 'application/x-ndjson';
/**
 * S3 calls carry up to a part (8 MiB), so a longer request timeout than the table's (20 s is 0.4 MB/s); retried,
 * since a part is idempotent.
 */
export const S3_LIMITS: SdkLimits = { connectionTimeoutMs: 1_000, requestTimeoutMs: 20_000, maxAttempts: 3 };
/** After the last byte: the part still uploading, the last part, CompleteMultipartUpload, one after another. */
export const S3_CALLS_TO_FINISH = 3;
/** An abort is best effort (the bucket's lifecycle rule is the backstop): never wait longer than this for it. */
export const ABORT_WAIT_MS = 10_000;

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
