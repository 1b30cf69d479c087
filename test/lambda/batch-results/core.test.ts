import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { createHash, randomUUID } from 'node:crypto';
import { collectBatchResults, DEFAULT_LIMITS } from '../../../lambda/batch-results/core';
import {
  ABORT_WAIT_MS,
  PART_BYTES,
  S3_CALLS_TO_FINISH,
  S3_LIMITS,
} from '../../../lambda/batch-results/s3-writer';
import { DYNAMODB_LIMITS, EVENTBRIDGE_LIMITS, worstCaseMs } from '../../../lambda/shared/sdk-config';
import { validateEnvelope } from '../../../lib/events';
import {
  batchErrors,
  batchOutput,
  crc32Base64,
  GeneratedFile,
  MODELS,
} from '../../support/batch-results-fixtures';
import {
  batchDone,
  batchResultsHarness,
  BUCKET,
  BUS,
  MiB,
  REMAINING_MS,
} from '../../support/batch-results-harness';

/** collectBatchResults: at most once per batch, whatever the deliveries; what it publishes, logs and refuses. */

const h = batchResultsHarness();
const { together, s3, bus, logs, deps, run, key, object, sameBytes, inputs, published, claim, fileRequests } =
  h;
let big: GeneratedFile;
beforeAll(() => {
  big = batchOutput(20 * MiB, 1);
});

/** The 20 MiB output went up as three parts of one multipart upload, each checksummed and named at completion. */
function expectPartsOfBig(outKey: string): void {
  expect(inputs(CreateMultipartUploadCommand)).toEqual([
    { Bucket: BUCKET, Key: outKey, ContentType: 'application/x-ndjson', ChecksumAlgorithm: 'CRC32' },
  ]);
  // Each part's CRC32 is computed by the SDK, checked by S3, and named again at completion.
  expect(inputs(UploadPartCommand).every((p) => p.ChecksumAlgorithm === 'CRC32')).toBe(true);
  const parts = inputs(UploadPartCommand);
  expect(parts.map((p) => p.PartNumber)).toEqual([1, 2, 3]);
  const uploadId = inputs(CreateMultipartUploadCommand).length && parts[0].UploadId;
  for (const p of parts) expect([p.Bucket, p.Key, p.UploadId]).toEqual([BUCKET, outKey, uploadId]);
  const sizes = parts.map((p) => (p.Body as Buffer).length);
  expect(sizes.slice(0, -1).every((n) => n >= 5 * MiB)).toBe(true);
  expect(sizes.slice(0, -1)).toEqual([PART_BYTES, PART_BYTES]);
  expect(sizes.reduce((a, b) => a + b, 0)).toBe(big.bytes);
  const etags = parts.map(
    (p) =>
      `"${createHash('md5')
        .update(p.Body as Buffer)
        .digest('hex')}"`,
  );
  expect(inputs(CompleteMultipartUploadCommand)[0].MultipartUpload).toEqual({
    Parts: etags.map((ETag, i) => ({
      PartNumber: i + 1,
      ETag,
      ChecksumCRC32: crc32Base64(parts[i].Body as Buffer),
    })),
  });
}

/** One `BatchTokens` line per model and one `BatchesCollected` line, in CloudWatch's embedded metric format. */
function expectMetricLines(data: Record<string, unknown>): void {
  const tokenLines = logs.filter((l) => 'BatchTokens' in l);
  expect(Object.fromEntries(tokenLines.map((l) => [l.Model, l.BatchTokens]))).toEqual(big.expected.byModel);
  for (const l of tokenLines) {
    expect(l._aws).toMatchObject({
      CloudWatchMetrics: [
        {
          Namespace: 'TogetherWebhooks',
          Dimensions: [['Model']],
          Metrics: [{ Name: 'BatchTokens', Unit: 'Count' }],
        },
      ],
    });
  }
  const collected = logs.filter((l) => 'BatchesCollected' in l);
  expect(collected).toEqual([
    expect.objectContaining({
      ...data,
      Service: 'batch-results-test',
      BatchesCollected: 1,
      _aws: expect.objectContaining({
        CloudWatchMetrics: [
          {
            Namespace: 'TogetherWebhooks',
            Dimensions: [['Service']],
            Metrics: [{ Name: 'BatchesCollected', Unit: 'Count' }],
          },
        ],
      }),
    }),
  ]);
}

test('a 20 MiB output in three parts and an error file: byte-identical objects, exact counts, one event', async () => {
  const errors = batchErrors(7);
  together.jobs.files.set('file-out-big', big.text);
  together.jobs.files.set('file-err-1', errors.text);

  const result = await run(
    batchDone('batch-big', {
      output_file_id: 'file-out-big',
      error_file_id: 'file-err-1',
      output_url: `${together.baseUrl}/files/file-out-big/content`,
    }),
  );

  expect(result.outcome).toBe('published');
  const outKey = key('batch-big', 'output.jsonl');
  const errKey = key('batch-big', 'errors.jsonl');
  expect(s3.commandNames()).toEqual([
    'CreateMultipartUploadCommand',
    'UploadPartCommand',
    'UploadPartCommand',
    'UploadPartCommand',
    'CompleteMultipartUploadCommand',
    'PutObjectCommand',
  ]);
  expectPartsOfBig(outKey);
  expect(sameBytes(outKey, big.text)).toBe(true);
  expect(object(outKey)?.contentType).toBe('application/x-ndjson');
  expect(inputs(PutObjectCommand).map((p) => p.Key)).toEqual([errKey]);
  expect(sameBytes(errKey, errors.text)).toBe(true);
  expect(s3.uploads.size).toBe(0);

  const events = published();
  expect(events).toHaveLength(1);
  expect(events[0]).toMatchObject({
    Source: 'together.ai',
    DetailType: 'batch.collected',
    EventBusName: BUS,
  });
  const data = {
    batch_id: 'batch-big',
    s3_uri: `s3://${BUCKET}/${outKey}`,
    error_s3_uri: `s3://${BUCKET}/${errKey}`,
    lines: big.expected.lines,
    failed_lines: big.expected.failed + 7,
    total_tokens: big.expected.total,
    prompt_tokens: big.expected.prompt,
    completion_tokens: big.expected.completion,
    bytes: big.bytes,
  };
  expect(events[0].detail).toEqual({
    id: 'batch.collected:batch-big',
    type: 'batch.collected',
    created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
    data,
    outcome_key: 'batch.collected:batch-big',
  });
  // The generator really exercised every path: failures, several models, a multi-byte model name.
  expect(big.expected.failed).toBeGreaterThan(1000);
  expect(Object.keys(big.expected.byModel).sort()).toEqual([...MODELS, 'unknown'].sort());

  expectMetricLines(data);
  expect(await claim('batch-big')).toBe('COMPLETED');
  expect(fileRequests().map((r) => r.path)).toEqual([
    '/v1/files/file-out-big/content',
    '/v1/files/file-err-1/content',
  ]);
});

test('a small output named only by output_url is one PutObject; no error file gives error_s3_uri null', async () => {
  const small = batchOutput(64 * 1024, 2, false);
  together.jobs.files.set('file-small', small.text);

  await run(batchDone('batch-small', { output_url: `${together.baseUrl}/files/file-small/content` }));

  expect(s3.commandNames()).toEqual(['PutObjectCommand']);
  expect(inputs(PutObjectCommand)[0]).toMatchObject({
    Bucket: BUCKET,
    Key: key('batch-small', 'output.jsonl'),
    ContentType: 'application/x-ndjson',
  });
  expect(sameBytes(key('batch-small', 'output.jsonl'), small.text)).toBe(true);
  expect(published().map((e) => e.detail.data)).toEqual([
    {
      batch_id: 'batch-small',
      s3_uri: `s3://${BUCKET}/${key('batch-small', 'output.jsonl')}`,
      error_s3_uri: null,
      lines: small.expected.lines,
      failed_lines: small.expected.failed,
      total_tokens: small.expected.total,
      prompt_tokens: small.expected.prompt,
      completion_tokens: small.expected.completion,
      bytes: small.bytes,
    },
  ]);
  expect(fileRequests().map((r) => r.path)).toEqual(['/v1/files/file-small/content']);
});

test('a redelivered batch.done downloads nothing, calls S3 not at all and publishes nothing more', async () => {
  const small = batchOutput(32 * 1024, 3);
  together.jobs.files.set('file-r', small.text);
  const event = batchDone('batch-r', { output_file_id: 'file-r' });
  expect((await run(event)).outcome).toBe('published');
  const s3Calls = s3.mock.calls().length;

  // Another delivery of the same outcome (EventBridge at-least-once), under another event id.
  expect(await run({ ...event, id: randomUUID() })).toEqual({
    outcome: 'duplicate',
    key: 'batch.collected:batch-r',
  });

  expect(fileRequests()).toHaveLength(1);
  expect(s3.mock.calls()).toHaveLength(s3Calls);
  expect(published()).toHaveLength(1);
});

test('two deliveries at once: one collects and publishes, the other is told to come back', async () => {
  const small = batchOutput(32 * 1024, 4);
  together.jobs.files.set('file-c', small.text);
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  // The download waits until the other delivery has had its answer: the race is decided by the claim alone.
  together.latency = () => gate;
  const event = batchDone('batch-c', { output_file_id: 'file-c' });
  const runs = [run(event), run(event)];
  await Promise.race(runs.map((p) => p.catch(() => undefined)));
  open();
  const settled = await Promise.allSettled(runs);

  expect(settled.filter((s) => s.status === 'fulfilled').map((s) => s.value.outcome)).toEqual(['published']);
  const refused = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected');
  expect(refused).toHaveLength(1);
  expect(String(refused[0].reason)).toMatch(/being collected by another invocation; retry in about \d+ s/);
  expect(fileRequests()).toHaveLength(1);
  expect(inputs(PutObjectCommand)).toHaveLength(1);
  expect(published()).toHaveLength(1);
  // Lambda's retry of the refused one finds it done.
  expect((await run(event)).outcome).toBe('duplicate');
});

describe('time: nothing runs past the function', () => {
  test("the reserve covers finishing (or failing) at every client's worst case", () => {
    const success =
      S3_CALLS_TO_FINISH * worstCaseMs(S3_LIMITS) +
      worstCaseMs(EVENTBRIDGE_LIMITS) +
      3 * worstCaseMs(DYNAMODB_LIMITS); // deliverOnce marks completed up to 3 times
    // Cut at the deadline inside a write (a part settling, an upload being created), then the part just sent,
    // the abort and the release.
    const failure = 3 * worstCaseMs(S3_LIMITS) + ABORT_WAIT_MS + worstCaseMs(DYNAMODB_LIMITS);
    expect(DEFAULT_LIMITS.finishReserveMs).toBeGreaterThanOrEqual(Math.max(success, failure));
  });
});

test('a key S3 could not store (over 1,024 bytes) is refused before anything is read', async () => {
  const longId = 'é'.repeat(256); // 512 bytes
  const d = deps({ config: { ...deps().config, keyPrefix: 'p/'.repeat(256) } });
  await expect(run(batchDone(longId, { output_file_id: 'file-x' }), d)).rejects.toThrow(
    /object key of \d+ bytes: S3 takes at most 1024/,
  );
  expect(fileRequests()).toHaveLength(0);
  expect(await claim(longId)).toBeUndefined();
});

test('PutEvents refused outright: the claim is released; the retry re-uploads to the same keys and publishes once', async () => {
  const small = batchOutput(32 * 1024, 6);
  together.jobs.files.set('file-pe', small.text);
  bus.nextPutEvents({
    FailedEntryCount: 1,
    Entries: [{ ErrorCode: 'InternalFailure', ErrorMessage: 'try again' }],
  });
  const event = batchDone('batch-pe', { output_file_id: 'file-pe' });

  await expect(run(event)).rejects.toThrow(
    /EventBridge refused batch.collected:batch-pe failed: .*InternalFailure/,
  );
  expect(await claim('batch-pe')).toBeUndefined();

  expect((await run(event)).outcome).toBe('published');
  expect(inputs(PutObjectCommand).map((p) => p.Key)).toEqual([
    key('batch-pe', 'output.jsonl'),
    key('batch-pe', 'output.jsonl'),
  ]);
  expect(s3.objects.size).toBe(1);
  expect(sameBytes(key('batch-pe', 'output.jsonl'), small.text)).toBe(true);
  // Two attempts reached EventBridge, one was taken; both carry the same outcome.
  const calls = bus.eb.commandCalls(PutEventsCommand);
  expect(calls).toHaveLength(2);
  expect(published().map((e) => e.detail.outcome_key)).toEqual([
    'batch.collected:batch-pe',
    'batch.collected:batch-pe',
  ]);
  expect(await claim('batch-pe')).toBe('COMPLETED');
  expect((await run(event)).outcome).toBe('duplicate');
  expect(bus.eb.commandCalls(PutEventsCommand)).toHaveLength(2);
});

test('PutEvents with no answer (may have landed): the claim is kept, so an immediate redelivery collects nothing', async () => {
  const small = batchOutput(16 * 1024, 7);
  together.jobs.files.set('file-t', small.text);
  bus.nextPutEvents(Object.assign(new Error('Connection timed out after 3000 ms'), { name: 'TimeoutError' }));
  const event = batchDone('batch-t', { output_file_id: 'file-t' });

  await expect(run(event)).rejects.toThrow(/EventBridge did not answer for batch.collected:batch-t/);
  expect(await claim('batch-t')).toBe('INPROGRESS');
  const s3Calls = s3.mock.calls().length;

  await expect(run(event)).rejects.toThrow(/being collected by another invocation/);
  expect(fileRequests()).toHaveLength(1);
  expect(s3.mock.calls()).toHaveLength(s3Calls);
  expect(bus.eb.commandCalls(PutEventsCommand)).toHaveLength(1);

  // Once the claim lapsed (the function's time plus the margin), a redelivery (a redriven dead letter) collects
  // and publishes again: the possible second copy carries the same outcome key.
  const lapsed = Date.now() + REMAINING_MS + 31_000;
  expect((await run(event, deps({ now: () => lapsed }))).outcome).toBe('published');
  expect(bus.eb.commandCalls(PutEventsCommand)).toHaveLength(2);
  // The stub took the first entry before its answer was lost: this is the named window's second copy.
  expect(published().map((e) => e.detail.outcome_key)).toEqual([
    'batch.collected:batch-t',
    'batch.collected:batch-t',
  ]);
  expect(await claim('batch-t')).toBe('COMPLETED');
});

test('too little time left: no claim is taken, so a retry with a longer timeout is not held back', async () => {
  together.jobs.files.set('file-late', 'x\n');
  const event = batchDone('batch-late', { output_file_id: 'file-late' });
  await expect(collectBatchResults(deps(), event, 60_000)).rejects.toThrow(/too little to collect/);
  expect(await claim('batch-late')).toBeUndefined();
  expect(together.requests).toEqual([]);
});

test('every batch.collected published is a valid catalogue envelope', async () => {
  together.jobs.files.set('file-v', 'x\n');
  together.jobs.files.set('file-ve', '{"error":"bad"}\n');
  await collectBatchResults(
    deps(),
    batchDone('batch-v', { output_file_id: 'file-v', error_file_id: 'file-ve' }),
    REMAINING_MS,
  );
  const [event] = published();
  expect(validateEnvelope(event.detail)).toMatchObject({ ok: true });
});
