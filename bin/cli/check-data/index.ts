import { promises as fs } from 'node:fs';
import { ParsedArgs, positiveInt, UsageError } from '../args';
import { Io } from '../io';
import { checkStream, DataReport, DEFAULT_MAX_PROBLEMS } from './core';

/**
 * `check-data <file.jsonl>`: a fine-tuning file checked before upload, streamed in 1 MiB reads (bin/cli/check-data/
 * core.ts). Prints each problem with its line, then a summary, on stdout: they are its result. Exit 0 valid, 1
 * problems, 2 a usage error, as the other commands: no file, or one it cannot open (named with the reason).
 */

const READ_BYTES = 1024 * 1024;
const count = (n: number, noun: string) => `${n.toLocaleString('en-US')} ${noun}${n === 1 ? '' : 's'}`;

export async function checkData(args: ParsedArgs, io: Io): Promise<number> {
  const [path, extra] = args.positionals;
  if (path === undefined || path === '')
    throw new UsageError('the file to check is required: check-data <file.jsonl>');
  if (extra !== undefined) throw new UsageError(`one file at a time, got "${extra}" too`);
  const maxProblems = positiveInt(args, 'max-problems', DEFAULT_MAX_PROBLEMS, 1_000_000);
  const report = await checkStream(await openFile(path), { maxProblems });
  for (const p of report.problems) io.out(`${p.line === 0 ? 'the file' : `line ${p.line}`}: ${p.message}`);
  const unprinted = report.problemCount - report.problems.length;
  if (unprinted > 0) io.out(`... and ${count(unprinted, 'more problem')} (--max-problems N prints more)`);
  io.out(summary(path, report));
  return report.problemCount === 0 ? 0 : 1;
}

function summary(path: string, r: DataReport): string {
  const problems =
    r.problemCount === 0
      ? 'no problems'
      : `${count(r.problemCount, 'problem')} on ${count(r.problemLines, 'line')}`;
  return `${path}: ${r.format ?? 'no format found'}, ${count(r.samples, 'sample')}, ${problems}`;
}

/** Opened before reading, so a missing or unreadable file is a usage error rather than a failure midway. */
async function openFile(path: string): Promise<AsyncIterable<Buffer>> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(path, 'r');
  } catch (err) {
    throw new UsageError(
      `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  if ((await handle.stat()).isDirectory()) {
    await handle.close();
    throw new UsageError(`${path} is a directory, not a file`);
  }
  // The handle's own stream: it closes the handle at the end (a stream on the bare fd left the handle to the GC).
  return handle.createReadStream({ highWaterMark: READ_BYTES });
}
