import { checkStream, DEFAULT_MAX_LINE_BYTES } from '../../../bin/cli/check-data/core';

/**
 * A 1 GiB file checked in bounded memory. The bytes are made on the fly (one 1 MiB block of conversational samples
 * yielded again and again, never 1 GiB on disk or in memory), with a 24 MiB line in the middle: over the 16 MiB cap,
 * so it must be skipped, not held. RSS is sampled as it runs; its peak growth must stay under a stated bound.
 * Nothing here is timed (bench/check-data.ts measures MB/s).
 */

const MiB = 1024 * 1024;
const TOTAL_MIB = 1024;
// Measured on the project's 2-core machine: 15-40 MiB of growth. The bound leaves room for the GC's timing, and
// is far below what holding the file (1 GiB) or the long line twice (48 MiB as a string) would take.
const RSS_GROWTH_BOUND_MIB = 96;

/** One MiB of whole lines, each a valid conversational sample. */
function block(): Buffer {
  const lines: string[] = [];
  let bytes = 0;
  for (let i = 0; bytes < MiB - 600; i++) {
    const line = JSON.stringify({
      messages: [
        { role: 'system', content: 'You answer questions about the documents.' },
        { role: 'user', content: `Question ${i}: what does section ${i % 97} say about the lease?` },
        {
          role: 'assistant',
          content: `Section ${i % 97} says the lease renews every ${i % 12} months. é 漢 🙂`,
        },
      ],
    });
    lines.push(line);
    bytes += Buffer.byteLength(line) + 1;
  }
  const text = lines.join('\n') + '\n';
  return Buffer.concat([Buffer.from(text), Buffer.alloc(MiB - Buffer.byteLength(text), '\n')].slice(0, 1));
}

async function* gigabyte(samples: number[]): AsyncGenerator<Buffer> {
  const b = block();
  const filler = Buffer.alloc(MiB, 'x');
  for (let i = 0; i < TOTAL_MIB; i++) {
    if (i === TOTAL_MIB / 2) {
      yield Buffer.from('{"text": "');
      for (let k = 0; k < 24; k++) yield filler;
      yield Buffer.from('"}\n');
    }
    yield b;
    if (i % 4 === 0) samples.push(process.memoryUsage.rss());
  }
}

test(`${TOTAL_MIB} MiB streamed: every line read, the long one skipped, RSS growth under ${RSS_GROWTH_BOUND_MIB} MiB`, async () => {
  const baseline = process.memoryUsage.rss();
  const samples: number[] = [];
  const report = await checkStream(gigabyte(samples));
  const growth = (Math.max(...samples) - baseline) / MiB;
  const perBlock = block().toString().split('\n').length - 1;
  expect(report.bytes).toBeGreaterThan(TOTAL_MIB * MiB);
  expect(report.samples).toBe(perBlock * TOTAL_MIB + 1);
  expect(report.format).toBe('conversational');
  expect(report.problems).toEqual([
    {
      line: (perBlock * TOTAL_MIB) / 2 + 1,
      message: `is ${24 * MiB + 12} bytes, over the ${DEFAULT_MAX_LINE_BYTES}-byte limit a line: not read`,
    },
  ]);
  console.log(`check-data, ${TOTAL_MIB} MiB: RSS growth ${growth.toFixed(1)} MiB over ${baseline / MiB} MiB`);
  expect(growth).toBeLessThan(RSS_GROWTH_BOUND_MIB);
}, 300_000);
