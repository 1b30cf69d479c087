/**
 * Fine-tuning JSONL made on the fly, for check-data's large test and its benchmark: one 1 MiB block of whole
 * conversational lines (multi-byte UTF-8 included), yielded again and again, so a GiB never sits on disk or in
 * memory. Optionally one line of `longLineMiB` in the middle.
 */

export const MiB = 1024 * 1024;

/** Whole lines, each a valid conversational sample, about 1 MiB in all. */
export function conversationalBlock(): { bytes: Buffer; lines: number } {
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
  return { bytes: Buffer.from(lines.join('\n') + '\n'), lines: lines.length };
}

/** `mib` blocks; `each` is called after every block (to sample memory, say). */
export async function* generatedData(
  mib: number,
  options: { longLineMiB?: number; each?: (i: number) => void } = {},
): AsyncGenerator<Buffer> {
  const block = conversationalBlock().bytes;
  const filler = Buffer.alloc(MiB, 'x');
  for (let i = 0; i < mib; i++) {
    if (options.longLineMiB && i === Math.floor(mib / 2)) {
      yield Buffer.from('{"text": "');
      for (let k = 0; k < options.longLineMiB; k++) yield filler;
      yield Buffer.from('"}\n');
    }
    yield block;
    options.each?.(i);
  }
}
