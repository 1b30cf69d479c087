import { readBatchResultsConfig } from '../../../lambda/batch-results/config';

/** The handler's environment, as the construct writes it and Lambda adds to it. */

const ENV = {
  TABLE_NAME: 'dedupe',
  CLAIM_SCOPE: 'c8bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb',
  EVENT_BUS_NAME: 'bus',
  BUCKET_NAME: 'acme-batch-results',
  API_KEY_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:111111111111:secret:together/api-key-AbCdEf',
};

test('what the construct leaves out takes the defaults both sides assume', () => {
  expect(readBatchResultsConfig(ENV)).toEqual({
    tableName: 'dedupe',
    claimScope: ENV.CLAIM_SCOPE,
    eventBusName: 'bus',
    bucketName: 'acme-batch-results',
    keyPrefix: 'together-batches/',
    apiKeySecretArn: ENV.API_KEY_SECRET_ARN,
    apiKeyJsonField: undefined,
    apiBaseUrl: 'https://api.together.xyz/v1',
    retentionSeconds: 7 * 86400,
    metricsNamespace: 'TogetherWebhooks',
    metricsService: 'together-batch-results',
  });
});

test('every value the construct writes is read; an empty one is absent, but for KEY_PREFIX', () => {
  const config = readBatchResultsConfig({
    ...ENV,
    KEY_PREFIX: 'batches/',
    API_KEY_JSON_FIELD: 'apiKey',
    API_BASE_URL: 'http://127.0.0.1:8080/v1',
    RETENTION_DAYS: '0.5',
    METRICS_NAMESPACE: 'Acme',
    AWS_LAMBDA_FUNCTION_NAME: 'batch-results-fn',
  });
  expect(config).toMatchObject({
    keyPrefix: 'batches/',
    apiKeyJsonField: 'apiKey',
    apiBaseUrl: 'http://127.0.0.1:8080/v1',
    retentionSeconds: 43200,
    metricsNamespace: 'Acme',
    metricsService: 'batch-results-fn',
  });
  const empty = readBatchResultsConfig({
    ...ENV,
    API_KEY_JSON_FIELD: '',
    API_BASE_URL: '',
    RETENTION_DAYS: '',
    METRICS_NAMESPACE: '',
  });
  expect(empty).toMatchObject({
    apiKeyJsonField: undefined,
    apiBaseUrl: 'https://api.together.xyz/v1',
    retentionSeconds: 7 * 86400,
    metricsNamespace: 'TogetherWebhooks',
  });
  // keyPrefix: '' is the bucket's root, as the construct grants it.
  expect(readBatchResultsConfig({ ...ENV, KEY_PREFIX: '' }).keyPrefix).toBe('');
});

test('a missing or malformed value is refused, naming the variable', () => {
  for (const name of Object.keys(ENV)) {
    expect(() => readBatchResultsConfig({ ...ENV, [name]: undefined })).toThrow(
      `environment variable ${name} is required`,
    );
  }
  expect(() => readBatchResultsConfig({ ...ENV, RETENTION_DAYS: '0' })).toThrow(
    'RETENTION_DAYS must be a positive number of days, got "0"',
  );
  expect(() => readBatchResultsConfig({ ...ENV, API_BASE_URL: 'http://api.together.xyz/v1' })).toThrow(
    /API_BASE_URL must be https/,
  );
  expect(() => readBatchResultsConfig({ ...ENV, CLAIM_SCOPE: 'o#x' })).toThrow(
    `CLAIM_SCOPE must be 1-100 letters, digits, '_', '.' or '-', got "o#x"`,
  );
});
