import { UploadPartCommand } from '@aws-sdk/client-s3';
import {
  PART_BYTES,
  S3_CALLS_TO_FINISH,
  S3ObjectWriter,
  S3Ops,
} from '../../../lambda/batch-results/s3-writer';
import { batchOutput, GeneratedFile } from '../../support/batch-results-fixtures';
import { batchDone, batchResultsHarness, MiB } from '../../support/batch-results-harness';

/** S3ObjectWriter: one PutObject or a multipart upload, one part in flight while the next fills, aborted on failure. */

const h = batchResultsHarness();
const { together, s3, deps, run, key, sameBytes, inputs, published, claim } = h;
let big: GeneratedFile;
beforeAll(() => {
  big = batchOutput(20 * MiB, 1);
});

test('part boundary: exactly one part is a PutObject, one byte more is two parts (8 MiB and 1 byte)', async () => {
  const exact = `${'{"usage":{"total_tokens":1}}\n'.repeat(PART_BYTES / 32)}`.padEnd(PART_BYTES, ' ');
  expect(Buffer.byteLength(exact)).toBe(PART_BYTES);
  together.jobs.files.set('file-exact', exact);
  together.jobs.files.set('file-plus-one', exact + '\n');

  await run(batchDone('batch-exact', { output_file_id: 'file-exact' }));
  expect(s3.commandNames()).toEqual(['PutObjectCommand']);
  expect(sameBytes(key('batch-exact', 'output.jsonl'), exact)).toBe(true);

  s3.reset();
  await run(batchDone('batch-plus-one', { output_file_id: 'file-plus-one' }));
  expect(inputs(UploadPartCommand).map((p) => [p.PartNumber, (p.Body as Buffer).length])).toEqual([
    [1, PART_BYTES],
    [2, 1],
  ]);
  expect(sameBytes(key('batch-plus-one', 'output.jsonl'), exact + '\n')).toBe(true);
  const counts = published().map((e) => [e.detail.data.lines, e.detail.data.total_tokens]);
  expect(counts).toEqual([
    [PART_BYTES / 32, PART_BYTES / 32],
    [PART_BYTES / 32, PART_BYTES / 32],
  ]);
});

test('backpressure: while a part uploads, the next one fills and then the download waits (two parts held at most)', async () => {
  together.jobs.files.set('file-slow-s3', big.text);
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  s3.faults.holdPart = (n) => (n === 1 ? held : undefined);
  let consumed = 0;
  const counting = deps().openFile;
  const d = deps({
    openFile: async (fileId, deadlineMs) => {
      const download = await counting(fileId, deadlineMs);
      return {
        close: download.close,
        body: (async function* () {
          for await (const chunk of download.body) {
            consumed += chunk.length;
            yield chunk;
          }
        })(),
      };
    },
  });
  const collecting = run(batchDone('batch-slow-s3', { output_file_id: 'file-slow-s3' }), d);

  // Part 2 fills while part 1 is still uploading...
  while (consumed <= 2 * PART_BYTES) await new Promise((resolve) => setTimeout(resolve, 5));
  // ...and then nothing more is read until part 1 is done, however long that takes.
  await new Promise((resolve) => setTimeout(resolve, 300));
  expect(consumed).toBeLessThan(2 * PART_BYTES + MiB);
  expect(inputs(UploadPartCommand).map((p) => p.PartNumber)).toEqual([1]);
  release();

  expect((await collecting).outcome).toBe('published');
  expect(consumed).toBe(big.bytes);
  expect(sameBytes(key('batch-slow-s3', 'output.jsonl'), big.text)).toBe(true);
});

test('UploadPart failing aborts the multipart upload, throws, and publishes nothing; the claim is released', async () => {
  together.jobs.files.set('file-up', big.text);
  s3.faults.uploadPart = (n) =>
    n === 2
      ? s3.s3Error('InternalError', 'We encountered an internal error. Please try again.', 'server')
      : undefined;
  const event = batchDone('batch-up', { output_file_id: 'file-up' });

  // A 5xx from S3 would be "unknown" for PutEvents; for the copy it is a plain failure that releases the claim.
  await expect(run(event)).rejects.toThrow(/collecting batch.collected:batch-up failed: InternalError/);
  expect(s3.commandNames()).toEqual([
    'CreateMultipartUploadCommand',
    'UploadPartCommand',
    'UploadPartCommand',
    'AbortMultipartUploadCommand',
  ]);
  expect(s3.uploads.size).toBe(0);
  expect(published()).toHaveLength(0);
  expect(await claim('batch-up')).toBeUndefined();

  s3.faults.uploadPart = undefined;
  expect((await run(event)).outcome).toBe('published');
  expect(sameBytes(key('batch-up', 'output.jsonl'), big.text)).toBe(true);
  expect(published()).toHaveLength(1);
});

describe('time: nothing runs past the function', () => {
  test(`after the last byte, finishing an upload waits on at most ${S3_CALLS_TO_FINISH} S3 calls`, async () => {
    let pending = 0;
    let lastByte = false;
    let afterLastByte = 0;
    const call = async <T>(value: T): Promise<T> => {
      pending++;
      if (lastByte) afterLastByte++;
      await new Promise((resolve) => setTimeout(resolve, 20));
      pending--;
      return value;
    };
    const ops: S3Ops = {
      putObject: () => call(undefined),
      createMultipartUpload: () => call('u'),
      uploadPart: (p) => call({ etag: `"e${p.partNumber}"` }),
      completeMultipartUpload: () => call(undefined),
      abortMultipartUpload: () => call(undefined),
    };
    const writer = new S3ObjectWriter(ops, { bucket: 'b', key: 'k' });
    for (let i = 0; i < 16; i++) await writer.write(Buffer.alloc(MiB));
    await writer.write(Buffer.from('x')); // part 2 goes up; the last part is 1 byte
    lastByte = true;
    const inFlight = pending;
    await writer.finish();
    expect(inFlight + afterLastByte).toBe(3);
    expect(inFlight + afterLastByte).toBeLessThanOrEqual(S3_CALLS_TO_FINISH);
  });
});
