import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { TogetherEventBridgeEvent } from '../lib/events';
import { FakeTogether, TOGETHER_ERROR } from './support/fake-together';
import { describedPath } from './support/openapi';

// The example app's batch.done handler, against the fake Together (files API) and S3 stubbed at the SDK boundary.
const together = new FakeTogether();
const s3 = mockClient(S3Client);
const sm = mockClient(SecretsManagerClient);
let handler: typeof import('../bin/handlers/batch-done').handler;

beforeAll(async () => {
  await together.start();
  process.env.TOGETHER_API_KEY_SECRET =
    'arn:aws:secretsmanager:us-east-1:111111111111:secret:together/api-key-AbCdEf';
  process.env.OUTPUT_BUCKET = 'batch-outputs';
  handler = (await import('../bin/handlers/batch-done')).handler;
});
afterAll(async () => {
  s3.restore();
  sm.restore();
  delete process.env.TOGETHER_API_KEY_SECRET;
  delete process.env.OUTPUT_BUCKET;
  await together.stop();
});
beforeEach(() => {
  together.reset();
  s3.reset();
  sm.reset();
  s3.on(PutObjectCommand).resolves({});
  sm.on(GetSecretValueCommand).resolves({ SecretString: together.apiKey });
  jest.spyOn(console, 'log').mockImplementation(() => undefined);
});
afterEach(() => jest.restoreAllMocks());

function batchDone(outputUrl: string | null): TogetherEventBridgeEvent<'batch.done'> {
  return {
    version: '0',
    id: 'eb-1',
    'detail-type': 'batch.done',
    source: 'together.ai',
    account: '111111111111',
    time: '2026-11-23T12:00:00Z',
    region: 'us-east-1',
    resources: [],
    detail: {
      id: 'batch.done:b-1',
      type: 'batch.done',
      data: { batch_id: 'b-1', output_url: outputUrl, total_tokens: null, status: 'COMPLETED' },
      outcome_key: 'batch.done:b-1',
    },
  };
}

test('copies the output file into S3 under batches/<batch id>.jsonl, fetched with the API key', async () => {
  const jsonl = '{"custom_id":"1","response":{"body":"hi"}}\n{"custom_id":"2","response":{"body":"yo"}}\n';
  together.jobs.files.set('file-out-1', jsonl);
  await handler(batchDone(`${together.baseUrl}/files/file-out-1/content`));
  const [put] = s3.commandCalls(PutObjectCommand).map((c) => c.args[0].input);
  expect(put).toMatchObject({ Bucket: 'batch-outputs', Key: 'batches/b-1.jsonl' });
  expect(Buffer.from(put.Body as Uint8Array).toString()).toBe(jsonl);
  const [req] = together.requests;
  expect(req.headers.authorization).toBe(`Bearer ${together.apiKey}`);
  expect(describedPath(req.method, req.path)).toBe('/files/{id}/content');
  expect(JSON.stringify(jest.mocked(console.log).mock.calls)).not.toContain(together.apiKey);
});

test('a batch without output stores nothing', async () => {
  await handler(batchDone(null));
  expect(s3.commandCalls(PutObjectCommand)).toHaveLength(0);
  expect(together.requests).toHaveLength(0);
});

test('a failed download throws, so EventBridge retries and then parks the event in the DLQ', async () => {
  together.script('GET', /files/, {
    status: 500,
    body: TOGETHER_ERROR('storage unavailable', 'server_error'),
  });
  await expect(handler(batchDone(`${together.baseUrl}/files/file-x/content`))).rejects.toThrow(
    'downloading the output of b-1 failed: HTTP 500',
  );
  expect(s3.commandCalls(PutObjectCommand)).toHaveLength(0);
});
