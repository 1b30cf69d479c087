import { isUtf8 } from 'node:buffer';
import { LineSink, LineSplitter } from './lines';
import { checkSample, DataFormat, preview } from './rules';

/**
 * `check-data`'s core, pure: lines or a stream of bytes in, the file's format and its problems by line out. It
 * holds one line at a time and the first `maxProblems` problems (the rest are counted), so a file of any size is
 * checked in bounded memory.
 */

export interface Problem {
  /** 1-based; 0 for the file as a whole. */
  readonly line: number;
  readonly message: string;
}

export interface DataReport {
  /** The format of the first line that names one; undefined when none does. */
  readonly format?: DataFormat;
  readonly lines: number;
  /** Lines that are not blank: each is one sample, with or without problems. */
  readonly samples: number;
  readonly bytes: number;
  /** The first `maxProblems`, in line order. */
  readonly problems: readonly Problem[];
  readonly problemCount: number;
  readonly problemLines: number;
}

export interface CheckOptions {
  /** @default 50 */
  readonly maxProblems?: number;
  /** A longer line is a problem and is not read. @default 16 MiB */
  readonly maxLineBytes?: number;
}

export const DEFAULT_MAX_PROBLEMS = 50;
// Generous for a long-context sample (128k tokens is well under 1 MiB of text); it bounds what one line may hold.
export const DEFAULT_MAX_LINE_BYTES = 16 * 1024 * 1024;
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const isSpace = (byte: number) => byte === 0x20 || byte === 0x09 || byte === 0x0d;

class DataChecker implements LineSink {
  private format: { name: DataFormat; line: number } | undefined;
  private lines = 0;
  private samples = 0;
  bytes = 0;
  private readonly problems: Problem[] = [];
  private problemCount = 0;
  private problemLines = 0;
  private lastProblemLine = -1;

  constructor(
    private readonly maxProblems: number,
    readonly maxLineBytes: number,
  ) {}

  line(bytes: Buffer): void {
    const n = ++this.lines;
    if (n === 1 && bytes.subarray(0, 3).equals(BOM)) {
      // Python's utf-8 reading keeps the BOM, so Together's check fails to parse line 1 (json.loads refuses it).
      this.problem(
        n,
        "starts with a UTF-8 byte order mark, which Together's check refuses: save the file without it",
      );
      bytes = bytes.subarray(3);
    }
    // Together's check parses every line as JSON: an empty one fails it. (A final newline makes no empty line.)
    if (bytes.length === 0 || (isSpace(bytes[0]) && bytes.every(isSpace)))
      return this.problem(n, 'is blank: every line must be one JSON sample');
    this.samples++;
    if (!isUtf8(bytes)) {
      const at = bytes.toString('utf8').indexOf('\ufffd');
      return this.problem(n, `is not valid UTF-8 (from character ${at + 1})`);
    }
    const text = bytes.toString('utf8');
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      const why = (err as Error).message.split(',')[0].slice(0, 80);
      return this.problem(n, `is not JSON (${why}): got ${preview(text)}`);
    }
    const { format, problems } = checkSample(value);
    for (const message of problems) this.problem(n, message);
    if (!format) return;
    if (!this.format) this.format = { name: format, line: n };
    else if (format !== this.format.name)
      this.problem(
        n,
        `is ${format}, but the file is ${this.format.name} (from line ${this.format.line}): Together takes one format a file`,
      );
  }

  tooLong(bytes: number): void {
    const n = ++this.lines;
    this.samples++;
    this.problem(n, `is ${bytes} bytes, over the ${this.maxLineBytes}-byte limit a line: not read`);
  }

  private problem(line: number, message: string): void {
    this.problemCount++;
    if (line !== this.lastProblemLine) this.problemLines++;
    this.lastProblemLine = line;
    if (this.problems.length < this.maxProblems) this.problems.push({ line, message });
  }

  report(): DataReport {
    if (this.samples === 0) this.problem(0, 'the file has no samples');
    return {
      format: this.format?.name,
      lines: this.lines,
      samples: this.samples,
      bytes: this.bytes,
      problems: this.problems,
      problemCount: this.problemCount,
      problemLines: this.problemLines,
    };
  }
}

function checker(options: CheckOptions): DataChecker {
  return new DataChecker(
    options.maxProblems ?? DEFAULT_MAX_PROBLEMS,
    options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES,
  );
}

/** A file's bytes, in chunks of any size (a read stream, a generator). */
export async function checkStream(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  options: CheckOptions = {},
): Promise<DataReport> {
  const c = checker(options);
  const splitter = new LineSplitter(c.maxLineBytes, c);
  for await (const chunk of source) {
    const bytes = Buffer.isBuffer(chunk)
      ? chunk
      : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    c.bytes += bytes.length;
    splitter.push(bytes);
  }
  splitter.end();
  return c.report();
}

/** Lines already split (no newlines in them). */
export function checkLines(lines: Iterable<string>, options: CheckOptions = {}): DataReport {
  const c = checker(options);
  for (const line of lines) {
    const bytes = Buffer.from(line);
    c.bytes += bytes.length + 1;
    if (bytes.length > c.maxLineBytes) c.tooLong(bytes.length);
    else c.line(bytes);
  }
  return c.report();
}
