import { isObject, nonEmptyString } from '../shared/guards';

/**
 * What the batch results recipe reads of a file as it streams: its lines, split without holding more than one,
 * and the counts of `batch.collected` (lines, failed lines, tokens, tokens per model).
 */

/** A longer line is counted as failed without being held. */
export const MAX_LINE_BYTES = 16 * 1024 * 1024;
export const UNKNOWN_MODEL = 'unknown';
/** Past this many models in one batch, the rest are counted as `other`: a metric dimension each costs money. */
export const MAX_MODELS = 50;

/** The chunk as a Buffer, without copying its bytes. */
export function toBuffer(chunk: Uint8Array): Buffer {
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
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

/**
 * A splitter that numbers its lines (from 1, oversize ones included) for whoever reports on them: `onLine` gets
 * each line, `onOversize` the number and length of each line too long to hold.
 */
export function numberedLines(
  onLine: (line: string) => void,
  onOversize: (lineNumber: number, bytes: number) => void,
): LineSplitter {
  let n = 0;
  return new LineSplitter(
    (line) => {
      n++;
      onLine(line);
    },
    (bytes) => {
      n++;
      onOversize(n, bytes);
    },
  );
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

  /** An error line too long to hold: still one failed request. */
  oversizeErrorLine(): void {
    this.failedLines++;
  }

  /** Every non-empty line of the error file is a failed request. */
  errorLine(text: string): void {
    if (text.trim() !== '') this.failedLines++;
  }
}
