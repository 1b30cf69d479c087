import { PutObjectCommand } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { handler } from '../../../lambda/batch-results/index';
import { batchOutput } from '../../support/batch-results-fixtures';
import {
  batchDone,
  batchResultsHarness,
  BUCKET,
  BUS,
  REMAINING_MS,
  SCOPE,
} from '../../support/batch-results-harness';

/** The Lambda handler: its environment, its key from Secrets Manager, its own SDK clients. */

const h = batchResultsHarness();
const { together, inputs, published, claim } = h;

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
      TABLE_NAME: h.table,
      CLAIM_SCOPE: SCOPE,
      EVENT_BUS_NAME: BUS,
      BUCKET_NAME: BUCKET,
      API_KEY_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:111111111111:secret:together/api-key-AbCdEf',
      API_KEY_JSON_FIELD: 'apiKey',
      AWS_LAMBDA_FUNCTION_NAME: 'batch-results-fn',
      // The module's own DynamoDB client, pointed at dynalite.
      AWS_ENDPOINT_URL_DYNAMODB: h.dynamo.endpoint,
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
