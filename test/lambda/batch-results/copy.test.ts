import { AbortMultipartUploadCommand, UploadPartCommand } from '@aws-sdk/client-s3';
import { batchOutput, GeneratedFile } from '../../support/batch-results-fixtures';
import { batchDone, batchResultsHarness, BUCKET, MiB } from '../../support/batch-results-harness';

/** Copying a batch's files: a download that fails aborts the upload; an error file Together lost is done without. */

const h = batchResultsHarness();
const { together, s3, logs, run, key, object, sameBytes, inputs, published, claim } = h;
let big: GeneratedFile;
beforeAll(() => {
  big = batchOutput(20 * MiB, 1);
});

test('the connection drops mid-body after a part went up: the upload is aborted, the claim released; the retry publishes once', async () => {
  together.jobs.files.set('file-drop', big.text);
  // Together starts the full file, sends 60% of it, and closes the connection.
  together.script('GET', /^\/v1\/files\/file-drop\/content$/, {
    status: 200,
    text: big.text.slice(0, Math.floor(big.text.length * 0.6)),
    headers: { 'content-length': String(big.bytes), connection: 'close' },
  });
  const event = batchDone('batch-drop', { output_file_id: 'file-drop' });

  await expect(run(event)).rejects.toThrow(/closed before the whole answer came/);
  const names = s3.commandNames();
  expect(names[0]).toBe('CreateMultipartUploadCommand');
  expect(names.filter((n) => n === 'UploadPartCommand').length).toBeGreaterThanOrEqual(1);
  expect(names).not.toContain('CompleteMultipartUploadCommand');
  expect(names).not.toContain('PutObjectCommand');
  expect(names[names.length - 1]).toBe('AbortMultipartUploadCommand');
  expect(inputs(AbortMultipartUploadCommand)).toEqual([
    {
      Bucket: BUCKET,
      Key: key('batch-drop', 'output.jsonl'),
      UploadId: inputs(UploadPartCommand)[0].UploadId,
    },
  ]);
  expect(s3.uploads.size).toBe(0);
  expect(object(key('batch-drop', 'output.jsonl'))).toBeUndefined();
  expect(published()).toHaveLength(0);
  expect(await claim('batch-drop')).toBeUndefined();

  expect((await run(event)).outcome).toBe('published');
  expect(sameBytes(key('batch-drop', 'output.jsonl'), big.text)).toBe(true);
  expect(published().map((e) => e.detail.data.lines)).toEqual([big.expected.lines]);
});

test('an error file Together no longer has: the output is still collected and published, the gap logged', async () => {
  const small = batchOutput(16 * 1024, 4);
  together.jobs.files.set('file-o404', small.text);
  const result = await run(
    batchDone('batch-404', { output_file_id: 'file-o404', error_file_id: 'file-gone' }),
  );
  expect(result).toMatchObject({
    outcome: 'published',
    data: { error_s3_uri: null, lines: small.expected.lines },
  });
  expect(published()).toHaveLength(1);
  expect(logs).toContainEqual(
    expect.objectContaining({
      level: 'WARN',
      message: expect.stringMatching(/error file file-gone: HTTP 404/),
    }),
  );
});
