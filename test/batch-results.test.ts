import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { createHash, randomUUID } from 'node:crypto';
import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { BatchResultsDeps, collectBatchResults, DEFAULT_LIMITS } from '../lambda/batch-results/core';
import { fileIdFromUrl, togetherFileOpener } from '../lambda/batch-results/download';
import { BatchTally, LineSplitter } from '../lambda/batch-results/lines';
import {
  ABORT_WAIT_MS,
  PART_BYTES,
  S3_CALLS_TO_FINISH,
  S3_LIMITS,
  S3ObjectWriter,
  S3Ops,
} from '../lambda/batch-results/s3-writer';
import { handler, s3Operations } from '../lambda/batch-results/index';
import { HttpTimeoutError, openHttpStream } from '../lambda/shared/http';
import { DYNAMODB_LIMITS, EVENTBRIDGE_LIMITS, worstCaseMs } from '../lambda/shared/sdk-config';
import { DynamoIdempotencyStore, outcomeClaimKeys } from '../lambda/shared/idempotency';
import { outcomeClaimId } from '../lib/claim-keys';
import { LogLine } from '../lambda/shared/log';
import { putEvent } from '../lambda/shared/publisher';
import {
  App,
  aws_iam as iam,
  aws_kms as kms,
  aws_s3 as s3Cdk,
  aws_secretsmanager as secretsmanager,
  Duration,
  Stack,
} from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { TogetherBatchResults, TogetherBatchResultsProps, TogetherWebhooks } from '../lib';
import { TogetherEventBridgeEvent, validateEnvelope } from '../lib/events';
import {
  batchErrors,
  batchOutput,
  crc32Base64,
  fakeS3,
  GeneratedFile,
  MODELS,
} from './support/batch-results-fixtures';
import { LocalDynamo, startDynalite } from './support/dynalite';
import { FakeTogether, TOGETHER_ERROR } from './support/fake-together';
import { actionsOf, functionStatements, resourcesFor } from './support/iam';
import { answerErrors, describedPath } from './support/openapi';
import { BUS, mockEventBridge } from './support/verifier-harness';

/**
 * The batch results recipe: Together's file streamed into S3 (stubbed at the SDK boundary, with S3's multipart
 * rules), counted, and announced once per batch through real claims on dynalite.
 */

/** The receiver's claim scope: batch.collected is one of its outcomes. */
const SCOPE = 'c8bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb';
const MiB = 1024 * 1024;
const BUCKET = 'acme-batch-results';
const PREFIX = 'together/';
const REMAINING_MS = 15 * 60_000;

const together = new FakeTogether();
const s3 = fakeS3();
const bus = mockEventBridge();
let dynamo: LocalDynamo;
let table = '';
const logs: LogLine[] = [];
let big: GeneratedFile;

beforeAll(async () => {
  await together.start();
  dynamo = await startDynalite();
  big = batchOutput(20 * MiB, 1);
});
afterAll(async () => {
  s3.mock.restore();
  bus.eb.restore();
  await dynamo.stop();
  await together.stop();
});
beforeEach(async () => {
  together.reset();
  s3.reset();
  bus.eb.reset();
  bus.acceptAll();
  logs.length = 0;
  table = await dynamo.createTable('batch-results');
});
afterEach(() => {
  // Every request ours, to a path Together describes, with the key; every error answer in Together's shape.
  for (const r of together.requests) {
    expect(`${r.method} ${describedPath(r.method, r.path)}`).toBe('GET /files/{id}/content');
    expect(r.headers.authorization).toBe(`Bearer ${together.apiKey}`);
  }
  const broken = together.answers
    .filter((a) => a.status >= 400 && answerErrors(a.method, a.path, a.status, a.body))
    .map((a) => `${a.method} ${a.path} ${a.status}: ${answerErrors(a.method, a.path, a.status, a.body)}`);
  expect(broken).toEqual([]);
});

function deps(overrides: Partial<BatchResultsDeps> = {}): BatchResultsDeps {
  const eventBridge = new EventBridgeClient({ region: 'us-east-1' });
  return {
    config: {
      bucket: BUCKET,
      keyPrefix: PREFIX,
      apiBaseUrl: together.baseUrl,
      retentionSeconds: 7 * 86400,
      metrics: { namespace: 'TogetherWebhooks', service: 'batch-results-test' },
    },
    openFile: togetherFileOpener({
      baseUrl: together.baseUrl,
      apiKey: async () => together.apiKey,
      stream: openHttpStream,
      now: Date.now,
    }),
    s3: s3Operations(new S3Client({ region: 'us-east-1' })),
    store: new DynamoIdempotencyStore(dynamo.client, table, outcomeClaimKeys(SCOPE)),
    publish: (detailType, detail) => putEvent(eventBridge, BUS, detailType, detail),
    log: (line) => logs.push(JSON.parse(JSON.stringify(line))),
    now: Date.now,
    newToken: randomUUID,
    ...overrides,
  };
}

function batchDone(batchId: string, data: Record<string, unknown>): TogetherEventBridgeEvent<'batch.done'> {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'batch.done',
    source: 'together.ai',
    account: '111111111111',
    time: new Date().toISOString(),
    region: 'us-east-1',
    resources: [],
    detail: {
      id: `batch.done:${batchId}`,
      type: 'batch.done',
      data: { batch_id: batchId, output_url: null, total_tokens: null, status: 'COMPLETED', ...data },
      outcome_key: `batch.done:${batchId}`,
    },
  } as TogetherEventBridgeEvent<'batch.done'>;
}

const run = (event: unknown, d: BatchResultsDeps = deps()) => collectBatchResults(d, event, REMAINING_MS);

const key = (batchId: string, name: string) => `${PREFIX}${batchId}/${name}`;
const object = (k: string) => s3.objects.get(`${BUCKET}/${k}`);
const sameBytes = (k: string, text: string) => object(k)?.body.equals(Buffer.from(text, 'utf8')) ?? false;
const inputs = <T extends object>(command: new (input: T) => unknown) =>
  s3.mock.commandCalls(command as never).map((c) => c.args[0].input as T & Record<string, unknown>);

function published(): Array<{
  Source: string;
  DetailType: string;
  EventBusName: string;
  detail: { id: string; type: string; outcome_key: string; data: Record<string, unknown> };
}> {
  return bus.entries().map((e) => ({
    Source: e.Source,
    DetailType: e.DetailType,
    EventBusName: e.EventBusName,
    detail: JSON.parse(e.Detail),
  }));
}

async function claim(batchId: string) {
  const got = await dynamo.client.send(
    new GetItemCommand({
      TableName: table,
      Key: { id: { S: outcomeClaimId(SCOPE, `batch.collected:${batchId}`) } },
      ConsistentRead: true,
    }),
  );
  return got.Item?.status?.S;
}

const fileRequests = () => together.requests.filter((r) => r.path.startsWith('/v1/files/'));

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

test("Together answers 500: the handler throws with Together's message, the claim is released, a retry publishes once", async () => {
  const small = batchOutput(32 * 1024, 5);
  together.jobs.files.set('file-5', small.text);
  together.script('GET', /^\/v1\/files\/file-5\/content$/, {
    status: 500,
    body: TOGETHER_ERROR('The server had an error while processing your request', 'server_error'),
  });
  const event = batchDone('batch-5', { output_file_id: 'file-5' });

  const err = await run(event).then(
    () => undefined,
    (e: Error) => e,
  );
  expect(err?.message).toMatch(/HTTP 500: The server had an error while processing your request/);
  expect(err?.message).toMatch(/the claim is released/);
  expect(err?.message).not.toContain(together.apiKey);
  expect(s3.mock.calls()).toHaveLength(0);
  expect(published()).toHaveLength(0);
  expect(await claim('batch-5')).toBeUndefined();

  expect((await run(event)).outcome).toBe('published');
  expect(published()).toHaveLength(1);
  expect(sameBytes(key('batch-5', 'output.jsonl'), small.text)).toBe(true);
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
  test('the time spent reading the key counts against the download deadline', async () => {
    let clock = 1_000_000;
    let timeoutMs = 0;
    const open = togetherFileOpener({
      baseUrl: 'https://api.together.xyz/v1',
      now: () => clock,
      apiKey: async () => {
        clock += 15_000; // a slow GetSecretValue, within its limits
        return 'k';
      },
      stream: async (x) => {
        timeoutMs = x.timeoutMs;
        return {
          status: 200,
          headers: new Headers(),
          body: (async function* () {})(),
          text: async () => '',
          destroy: () => undefined,
        };
      },
    });
    const deadline = clock + 20_000;
    await open('file-1', deadline);
    expect(clock + timeoutMs).toBeLessThanOrEqual(deadline);
    clock = deadline;
    await expect(open('file-1', deadline + 10_000)).rejects.toThrow('no time left to download file file-1');
  });

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

test('a key S3 could not store (over 1,024 bytes) is refused before anything is read', async () => {
  const longId = 'é'.repeat(256); // 512 bytes
  const d = deps({ config: { ...deps().config, keyPrefix: 'p/'.repeat(256) } });
  await expect(run(batchDone(longId, { output_file_id: 'file-x' }), d)).rejects.toThrow(
    /object key of \d+ bytes: S3 takes at most 1024/,
  );
  expect(fileRequests()).toHaveLength(0);
  expect(await claim(longId)).toBeUndefined();
});

describe('output_url', () => {
  let evil: Server;
  let evilBase = '';
  const evilRequests: string[] = [];
  beforeAll(async () => {
    evil = createServer((req, res) => {
      evilRequests.push(`${req.method} ${req.url} ${req.headers.authorization ?? ''}`);
      res.end('{}');
    });
    await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', resolve));
    evilBase = `http://127.0.0.1:${(evil.address() as AddressInfo).port}/v1`;
  });
  afterAll(async () => {
    evil.closeAllConnections();
    await new Promise((resolve) => evil.close(resolve));
  });

  test('pointing at another host is refused before any request: the key goes nowhere', async () => {
    together.jobs.files.set('file-x', 'x\n');
    const event = batchDone('batch-evil', { output_url: `${evilBase}/files/file-x/content` });

    await expect(run(event)).rejects.toThrow(
      /refusing output_url .* only .*\/files\/<id>\/content is followed/,
    );
    expect(evilRequests).toEqual([]);
    expect(together.requests).toEqual([]);
    expect(s3.mock.calls()).toHaveLength(0);
    expect(published()).toHaveLength(0);
    expect(await claim('batch-evil')).toBeUndefined();
    expect(logs).toContainEqual(
      expect.objectContaining({
        level: 'ERROR',
        error: expect.stringMatching(/RefusedUrlError: .*refusing output_url/),
      }),
    );
  });

  test('only the exact <base>/files/<id>/content is read as a file id', () => {
    const base = 'https://api.together.xyz/v1';
    const cases: Array<[string, string | undefined]> = [
      [`${base}/files/file-9a8b7c/content`, 'file-9a8b7c'],
      ['https://api.together.xyz:443/v1/files/file-1/content', 'file-1'],
      [`${base}/files/file%2D1/content`, 'file-1'],
      [`${base}/files/file-1/content?redirect=https://evil.example`, undefined],
      [`${base}/files/file-1/content?`, undefined],
      [`${base}/files/file-1/content#x`, undefined],
      [`${base}/files/a/b/content`, undefined],
      [`${base}/files//content`, undefined],
      [`${base}/files/file-1/content/`, undefined],
      [`${base}/files/../files/file-1/content`, undefined],
      ['https://api.together.xyz/v2/files/file-1/content', undefined],
      ['https://api.together.xyz/files/file-1/content', undefined],
      ['http://api.together.xyz/v1/files/file-1/content', undefined],
      ['https://api.together.xyz.evil.example/v1/files/file-1/content', undefined],
      ['https://evil.example/v1/files/file-1/content', undefined],
      ['https://user:pw@api.together.xyz/v1/files/file-1/content', undefined],
      ['https://api.together.xyz:8443/v1/files/file-1/content', undefined],
      ['not a url', undefined],
    ];
    expect(cases.map(([url]) => [url, fileIdFromUrl(url, base)])).toEqual(cases);
    expect(fileIdFromUrl(`${base}/files/f/content`, `${base}/`)).toBe('f');
  });

  test('a file id beside the URL wins: the URL is not followed at all', async () => {
    together.jobs.files.set('file-id-wins', '{"usage":{"total_tokens":3}}\n');
    await run(
      batchDone('batch-both', {
        output_file_id: 'file-id-wins',
        output_url: `${evilBase}/files/other/content`,
      }),
    );
    expect(evilRequests).toEqual([]);
    expect(fileRequests().map((r) => r.path)).toEqual(['/v1/files/file-id-wins/content']);
    expect(published().map((e) => e.detail.data.total_tokens)).toEqual([3]);
  });
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

test('events it cannot use are refused clearly; a batch with no files is logged and left alone', async () => {
  await expect(
    run({ 'detail-type': 'batch.collected', detail: { data: { batch_id: 'b' } } }),
  ).rejects.toThrow('expected a batch.done event, got detail-type batch.collected');
  await expect(run(batchDone('', {}))).rejects.toThrow('batch.done without a non-empty string data.batch_id');
  await expect(run({ ...batchDone('b', {}), detail: { data: { batch_id: 42 } } })).rejects.toThrow(
    'non-empty string data.batch_id',
  );
  await expect(run(batchDone('batch-dots', { output_file_id: '..' }))).rejects.toThrow(
    /not a usable file id/,
  );

  expect(await run(batchDone('batch-empty', { status: 'CANCELLED', output_file_id: null }))).toEqual({
    outcome: 'nothing_to_collect',
    batchId: 'batch-empty',
  });
  expect(logs).toContainEqual(
    expect.objectContaining({
      batch_id: 'batch-empty',
      message: expect.stringMatching(/nothing to collect/),
    }),
  );
  expect(together.requests).toEqual([]);
  expect(s3.mock.calls()).toHaveLength(0);
  expect(published()).toHaveLength(0);
  expect(await claim('batch-empty')).toBeUndefined();
});

test('too little time left: no claim is taken, so a retry with a longer timeout is not held back', async () => {
  together.jobs.files.set('file-late', 'x\n');
  const event = batchDone('batch-late', { output_file_id: 'file-late' });
  await expect(collectBatchResults(deps(), event, 60_000)).rejects.toThrow(/too little to collect/);
  expect(await claim('batch-late')).toBeUndefined();
  expect(together.requests).toEqual([]);
});

test('a refused API key: Together says why, the key is not in the error, and the cached key is dropped', async () => {
  together.jobs.files.set('file-k', 'x\n');
  let dropped = 0;
  const wrongKey = 'tgp_wrong_key_never_in_logs';
  const d = deps({
    openFile: togetherFileOpener({
      baseUrl: together.baseUrl,
      apiKey: async () => wrongKey,
      stream: openHttpStream,
      now: Date.now,
      onKeyRefused: () => dropped++,
    }),
  });
  const err = await run(batchDone('batch-k', { output_file_id: 'file-k' }), d).catch((e: Error) => e);
  expect(String(err)).toMatch(/HTTP 401: Invalid API key provided/);
  expect(String(err)).not.toContain(wrongKey);
  expect(JSON.stringify(logs)).not.toContain(wrongKey);
  expect(dropped).toBe(1);
  // Not ours: the afterEach check of the key does not apply to this deliberately wrong one.
  together.requests.length = 0;
  together.answers.length = 0;
});

describe('lines and tokens', () => {
  test('past 50 models in one batch, the rest of the tokens count as "other" (a metric dimension each costs)', () => {
    const t = new BatchTally();
    for (let m = 0; m < 60; m++)
      t.outputLine(JSON.stringify({ body: { model: `model-${m}`, usage: { total_tokens: 10 } } }));
    t.outputLine(JSON.stringify({ body: { model: 'model-0', usage: { total_tokens: 5 } } }));
    expect(t.tokensByModel.size).toBe(51);
    expect(t.tokensByModel.get('other')).toBe(100);
    expect(t.tokensByModel.get('model-0')).toBe(15);
    expect(t.totalTokens).toBe(605);
  });

  const sample = [
    JSON.stringify({
      response: {
        status_code: 200,
        body: { model: 'm-ü', usage: { prompt_tokens: 3, completion_tokens: 4 } },
      },
    }),
    '',
    JSON.stringify({
      body: { model: '日本', usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 5 } },
      note: '🎉',
    }),
    '{"broken": "日本',
    JSON.stringify({ usage: { prompt_tokens: 2, completion_tokens: 2 }, error: { message: 'x' } }),
    JSON.stringify({ response: { status_code: '503' } }),
    '42',
  ].join('\r\n');

  function tally(bytes: Buffer, feed: (s: LineSplitter) => void) {
    const t = new BatchTally();
    const s = new LineSplitter(
      (line) => t.outputLine(line),
      () => t.oversizeOutputLine(),
    );
    feed(s);
    s.end();
    expect(bytes.length).toBeGreaterThan(0);
    return t;
  }

  test('fed one byte at a time (every multi-byte character split), the counts match the whole', () => {
    const bytes = Buffer.from(sample, 'utf8');
    const whole = tally(bytes, (s) => s.push(bytes));
    const bytewise = tally(bytes, (s) => {
      for (let i = 0; i < bytes.length; i++) s.push(bytes.subarray(i, i + 1));
    });
    for (const t of [whole, bytewise]) {
      expect({
        lines: t.lines,
        failed: t.failedLines,
        prompt: t.promptTokens,
        completion: t.completionTokens,
        total: t.totalTokens,
        models: Object.fromEntries(t.tokensByModel),
      }).toEqual({
        lines: 6,
        failed: 4,
        prompt: 6,
        completion: 7,
        total: 16,
        models: { 'm-ü': 7, 日本: 5, unknown: 4 },
      });
    }
  });

  test('a line over the limit is counted as failed without being held', () => {
    const seen: string[] = [];
    const oversize: number[] = [];
    const s = new LineSplitter(
      (line) => seen.push(line),
      (n) => oversize.push(n),
      64,
    );
    let most = 0;
    const long = Buffer.from('é'.repeat(500));
    for (let i = 0; i < long.length; i += 7) {
      s.push(long.subarray(i, i + 7));
      most = Math.max(most, s.heldBytes);
    }
    s.push(Buffer.from('\nnext\nlast'));
    s.end();
    expect(most).toBeLessThanOrEqual(64);
    expect(oversize).toEqual([1000]);
    expect(seen).toEqual(['next', 'last']);
  });
});

describe('openHttpStream', () => {
  let server: Server;
  let base = '';
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/stall') {
        res.writeHead(200, { 'content-length': '100' });
        res.write('some');
        return; // and nothing more
      }
      res.end('a'.repeat(300_000));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  const open = (path: string) =>
    openHttpStream({
      url: `${base}${path}`,
      method: 'GET',
      headers: {},
      connectTimeoutMs: 1_000,
      idleTimeoutMs: 100,
      timeoutMs: 10_000,
    });

  test('a server that goes silent mid-body ends at the idle timeout', async () => {
    const res = await open('/stall');
    const read = async () => {
      for await (const chunk of res.body) void chunk;
    };
    await expect(read()).rejects.toThrow(
      new HttpTimeoutError('no bytes for 100 ms while waiting for the next bytes'),
    );
  });

  test('a reader that holds back longer than the idle timeout is not timed out: the pause is ours', async () => {
    const res = await open('/full');
    let bytes = 0;
    for await (const chunk of res.body) {
      bytes += chunk.length;
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
    expect(bytes).toBe(300_000);
  });
});

describe('the Lambda handler (adapter)', () => {
  const secrets = mockClient(SecretsManagerClient);
  const saved = { ...process.env };
  let stdout: jest.SpyInstance;
  const lines = () =>
    stdout.mock.calls
      .map((c) => String(c[0]))
      .flatMap((s) =>
        s
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l)),
      );

  beforeEach(() => {
    secrets.reset();
    secrets.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ apiKey: together.apiKey }) });
    stdout = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    Object.assign(process.env, {
      TABLE_NAME: table,
      CLAIM_SCOPE: SCOPE,
      EVENT_BUS_NAME: BUS,
      BUCKET_NAME: BUCKET,
      API_KEY_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:111111111111:secret:together/api-key-AbCdEf',
      API_KEY_JSON_FIELD: 'apiKey',
      AWS_LAMBDA_FUNCTION_NAME: 'batch-results-fn',
      // The module's own DynamoDB client, pointed at dynalite.
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    });
  });
  afterEach(() => {
    stdout.mockRestore();
    process.env = { ...saved };
  });
  afterAll(() => secrets.restore());

  test('reads its environment, its key from Secrets Manager, and collects once', async () => {
    process.env.API_BASE_URL = 'http://example.com/v1';
    await expect(handler(batchDone('batch-h', { output_file_id: 'file-h' }))).rejects.toThrow(
      /API_BASE_URL must be https/,
    );
    process.env.API_BASE_URL = together.baseUrl;
    const small = batchOutput(16 * 1024, 8);
    together.jobs.files.set('file-h', small.text);
    const event = batchDone('batch-h', { output_file_id: 'file-h' });
    const context = { getRemainingTimeInMillis: () => REMAINING_MS };

    expect(await handler(event, context)).toMatchObject({ outcome: 'published' });
    expect(await handler(event, context)).toMatchObject({ outcome: 'duplicate' });

    expect(secrets.commandCalls(GetSecretValueCommand).map((c) => c.args[0].input.SecretId)).toEqual([
      'arn:aws:secretsmanager:us-east-1:111111111111:secret:together/api-key-AbCdEf',
    ]);
    expect(inputs(PutObjectCommand).map((p) => [p.Bucket, p.Key])).toEqual([
      [BUCKET, 'together-batches/batch-h/output.jsonl'],
    ]);
    expect(published().map((e) => [e.EventBusName, e.detail.data.s3_uri])).toEqual([
      [BUS, `s3://${BUCKET}/together-batches/batch-h/output.jsonl`],
    ]);
    expect(await claim('batch-h')).toBe('COMPLETED');
    expect(lines()).toContainEqual(
      expect.objectContaining({
        Service: 'batch-results-fn',
        BatchesCollected: 1,
        lines: small.expected.lines,
      }),
    );
  });
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

describe('the construct', () => {
  const API_KEY_ARN = 'arn:aws:secretsmanager:us-east-1:111111111111:secret:together/api-key-AbCdEf';
  function synth(props: Partial<TogetherBatchResultsProps> = {}, withPoller = true) {
    const app = new App({ builtinCloudFormationValidation: false });
    const stack = new Stack(app, 'Batches', { env: { account: '111111111111', region: 'us-east-1' } });
    const apiKey = secretsmanager.Secret.fromSecretCompleteArn(stack, 'Key', API_KEY_ARN);
    const webhooks = new TogetherWebhooks(stack, 'Hooks', withPoller ? { poller: { apiKey } } : {});
    const results = new TogetherBatchResults(stack, 'Results', { webhooks, ...props });
    return { t: Template.fromStack(stack), stack, results };
  }

  test('batch.done is routed to it; its settings arrive as plain values; a bucket that aborts stale uploads', () => {
    const { t } = synth();
    t.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { source: ['together.ai'], 'detail-type': ['batch.done'] },
      Targets: [
        Match.objectLike({ Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('ResultsFunction'), 'Arn'] } }),
      ],
    });
    t.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('batch results to S3'),
      Timeout: 900,
      MemorySize: 512,
      Environment: {
        Variables: Match.objectLike({
          API_KEY_SECRET_ARN: API_KEY_ARN,
          API_BASE_URL: 'https://api.together.xyz/v1',
          KEY_PREFIX: 'together-batches/',
          RETENTION_DAYS: '7',
          BUCKET_NAME: { Ref: Match.stringLikeRegexp('ResultsBucket') },
        }),
      },
    });
    t.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: {
        Rules: [Match.objectLike({ AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } })],
      },
      PublicAccessBlockConfiguration: Match.objectLike({
        BlockPublicAcls: true,
        RestrictPublicBuckets: true,
      }),
    });
    t.hasResource('AWS::S3::Bucket', { DeletionPolicy: 'Retain' });
  });

  test('least privilege: its key, objects under its prefix, the claim items and PutEvents on its bus, the DLQ', () => {
    const { t } = synth();
    const statements = functionStatements(t, 'ResultsFunction');
    // GetItem twice: on its own claims, and alone on the unscoped claims of the release before (test/table-grants).
    expect(actionsOf(statements)).toEqual([
      'dynamodb:DeleteItem',
      'dynamodb:GetItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
      'events:PutEvents',
      's3:AbortMultipartUpload',
      's3:PutObject',
      'secretsmanager:DescribeSecret',
      'secretsmanager:GetSecretValue',
      'sqs:GetQueueAttributes',
      'sqs:GetQueueUrl',
      'sqs:SendMessage',
    ]);
    expect(resourcesFor(statements, 'secretsmanager:')).toEqual([JSON.stringify(API_KEY_ARN)]);
    const [objects] = resourcesFor(statements, 's3:');
    expect(objects).toContain('/together-batches/*');
    expect(resourcesFor(statements, 'events:')).toEqual([
      JSON.stringify({ 'Fn::GetAtt': [Object.keys(t.findResources('AWS::Events::EventBus'))[0], 'Arn'] }),
    ]);
    expect(JSON.stringify(statements)).not.toContain('"*"');
  });

  test('a bucket of yours with a KMS key: the key is granted for multipart uploads; grantRead reads the prefix only', () => {
    const app = new App({ builtinCloudFormationValidation: false });
    const stack = new Stack(app, 'Own', { env: { account: '111111111111', region: 'us-east-1' } });
    const apiKey = secretsmanager.Secret.fromSecretCompleteArn(stack, 'Key', API_KEY_ARN);
    const key = new kms.Key(stack, 'BucketKey');
    const bucket = new s3Cdk.Bucket(stack, 'Own', { encryptionKey: key });
    const webhooks = new TogetherWebhooks(stack, 'Hooks', {});
    const results = new TogetherBatchResults(stack, 'Results', {
      webhooks,
      bucket,
      apiKey,
      keyPrefix: 'batches/',
      timeout: Duration.minutes(10),
    });
    const reader = new iam.Role(stack, 'Reader', { assumedBy: new iam.AccountRootPrincipal() });
    results.grantRead(reader);
    const t = Template.fromStack(stack);
    expect(Object.keys(t.findResources('AWS::S3::Bucket'))).toEqual([expect.stringMatching(/^Own/)]);
    const statements = functionStatements(t, 'ResultsFunction');
    expect(actionsOf(statements)).toEqual(expect.arrayContaining(['kms:Decrypt', 'kms:GenerateDataKey']));
    expect(JSON.stringify(statements)).toContain('/batches/*');
    const readerPolicy = Object.values(t.findResources('AWS::IAM::Policy')).find((p) =>
      JSON.stringify(p.Properties.Roles).includes('Reader'),
    );
    expect(JSON.stringify(readerPolicy)).toContain('/batches/*');
    t.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('batch results to S3'),
      Timeout: 600,
    });
    expect(results.metricBatchTokens('acme/llama').dimensions).toEqual({ Model: 'acme/llama' });
  });

  test('the minimum timeout leaves a minute to work after the reserve for finishing', () => {
    expect(DEFAULT_LIMITS.finishReserveMs + DEFAULT_LIMITS.minWorkMs + 60_000).toBeLessThan(
      Duration.minutes(5).toMilliseconds(),
    );
  });

  test('props are checked early, with the value received', () => {
    expect(() => synth({}, false)).toThrow('TogetherBatchResults: no API key to download files with');
    expect(() => synth({ keyPrefix: '/abs/' })).toThrow('keyPrefix must be up to 512');
    expect(() => synth({ keyPrefix: 'a*' })).toThrow('got "a*"');
    expect(() => synth({ timeout: Duration.minutes(2) })).toThrow(
      'TogetherBatchResults: timeout must be from 5 minutes to 15 minutes, got 2 minutes',
    );
    expect(() => synth({ memorySize: 256 })).toThrow(
      'memorySize must be an integer from 512 to 10240, got 256',
    );
    expect(() => synth({ apiBaseUrl: 'http://api.together.xyz/v1' })).toThrow(
      'apiBaseUrl must be an https URL, got "http://api.together.xyz/v1"',
    );
  });
});
