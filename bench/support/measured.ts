import { readFileSync } from 'node:fs';

/** In a measured child process (bench/support/batch-copy.ts, poller-memory-poll.ts): its memory, read as it runs. */

/** Linux's VmHWM from /proc/self/status, in bytes: this process image's peak. Undefined where /proc is not there. */
export function highWaterMark(): number | undefined {
  try {
    const kb = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    return kb === undefined ? undefined : Number(kb) * 1024;
  } catch {
    return undefined;
  }
}

/** The process's peak RSS so far (`resourceUsage().maxRSS`), in bytes. */
export const maxRssBytes = () => process.resourceUsage().maxRSS * 1024;

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A full GC, where node runs with --expose-gc. */
export const gc = () => (globalThis as { gc?: () => void }).gc?.();

/** Hands the result to the forking process, then exits. */
export function report(result: object): void {
  process.send!(result, () => process.exit(0));
}
