/**
 * Bytes to lines with a cap a line, for `check-data`: memory stays at one line (at most `maxLineBytes`) plus the
 * chunk being read, whatever the file's size. A line over the cap is counted, not kept: its bytes are skipped to
 * the next newline, so a file with no newline at all cannot grow memory without bound.
 */

export interface LineSink {
  /** One line, its newline and a CR before it removed. Only valid during the call (it may share the chunk). */
  line(bytes: Buffer): void;
  /** A line over the cap, by its length in bytes. */
  tooLong(bytes: number): void;
}

const LF = 0x0a;
const CR = 0x0d;

export class LineSplitter {
  /** The start of a line that continues in a later chunk: copies, since a reader may reuse its chunk's memory. */
  private parts: Buffer[] = [];
  private partBytes = 0;
  /** The length of a line over the cap, while its bytes are skipped; undefined otherwise. */
  private skipped: number | undefined;

  constructor(
    private readonly maxLineBytes: number,
    private readonly sink: LineSink,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    while (start < chunk.length) {
      const newline = chunk.indexOf(LF, start);
      if (newline === -1) {
        this.carry(chunk, start, chunk.length);
        return;
      }
      if (this.parts.length === 0 && this.skipped === undefined && newline - start <= this.maxLineBytes)
        this.emit(chunk.subarray(start, newline)); // the usual case: the whole line in this chunk, no copy
      else {
        this.carry(chunk, start, newline);
        this.finish();
      }
      start = newline + 1;
    }
  }

  /** The last line, when the file does not end in a newline. */
  end(): void {
    if (this.partBytes > 0 || this.skipped !== undefined) this.finish();
  }

  private carry(chunk: Buffer, start: number, end: number): void {
    const n = end - start;
    if (this.skipped !== undefined) this.skipped += n;
    else if (this.partBytes + n > this.maxLineBytes) {
      this.skipped = this.partBytes + n;
      this.parts = [];
      this.partBytes = 0;
    } else if (n > 0) {
      this.parts.push(Buffer.from(chunk.subarray(start, end)));
      this.partBytes += n;
    }
  }

  private finish(): void {
    if (this.skipped !== undefined) this.sink.tooLong(this.skipped);
    else this.emit(this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts, this.partBytes));
    this.parts = [];
    this.partBytes = 0;
    this.skipped = undefined;
  }

  private emit(line: Buffer): void {
    this.sink.line(line.length > 0 && line[line.length - 1] === CR ? line.subarray(0, -1) : line);
  }
}
