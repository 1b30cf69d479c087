import { checkStream, DEFAULT_MAX_LINE_BYTES } from '../../../bin/cli/check-data/core';
import { conversationalBlock, generatedData, MiB } from '../../support/fine-tune-data';

/**
 * A 1 GiB file checked in bounded memory. The bytes are made on the fly (test/support/fine-tune-data.ts: one 1 MiB
 * block yielded again and again, never 1 GiB on disk or in memory), with a 24 MiB line in the middle: over the
 * 16 MiB cap, so it must be skipped, not held. RSS is sampled as it runs; its peak growth must stay under a stated
 * bound. Nothing here is timed (bench/check-data.ts measures MB/s): on the project's loaded 2-core machine it took
 * 51 s, 25 s of CPU.
 */

const TOTAL_MIB = 1024;
// Measured: 28 MiB of growth (a failure prints the figure). The bound leaves room for the GC's timing, and is far below what holding the file
// (1 GiB) or the long line (24 MiB of bytes, then more as a string) would take.
const RSS_GROWTH_BOUND_MIB = 96;
const LONG_LINE_MIB = 24;

test(`${TOTAL_MIB} MiB streamed: every line read, the long one skipped, RSS growth under ${RSS_GROWTH_BOUND_MIB} MiB`, async () => {
  const baseline = process.memoryUsage.rss();
  const samples: number[] = [];
  const each = (i: number) => void (i % 4 === 0 && samples.push(process.memoryUsage.rss()));
  const report = await checkStream(generatedData(TOTAL_MIB, { longLineMiB: LONG_LINE_MIB, each }));
  const growth = (Math.max(...samples) - baseline) / MiB;
  const perBlock = conversationalBlock().lines;
  expect(report.bytes).toBeGreaterThan(TOTAL_MIB * MiB);
  expect(report.samples).toBe(perBlock * TOTAL_MIB + 1);
  expect(report.format).toBe('conversational');
  expect(report.problems).toEqual([
    {
      line: (perBlock * TOTAL_MIB) / 2 + 1,
      message: `is ${LONG_LINE_MIB * MiB + 12} bytes, over the ${DEFAULT_MAX_LINE_BYTES}-byte limit a line: not read`,
    },
  ]);
  expect(growth).toBeLessThan(RSS_GROWTH_BOUND_MIB);
}, 300_000);
