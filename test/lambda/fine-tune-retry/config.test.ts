import { readFineTuneRetryConfig } from '../../../lambda/fine-tune-retry/config';

/** What the fine-tune retry handler reads from the environment its construct writes (lib/fine-tune-retry.ts). */

const RULES = [
  { match: 'out of memory', action: 'halve_batch_size' },
  { match: 'invalid json', action: 'no_retry', advice: 'npx together-webhooks check-data <file>' },
];
const ENV = {
  TABLE_NAME: 'dedupe',
  CLAIM_SCOPE: 'c8a1b2',
  RETENTION_DAYS: '7',
  API_KEY_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:111111111111:secret:together/api-key-AbCdEf',
  API_BASE_URL: 'https://api.together.xyz/v1',
  RETRY_RULES: JSON.stringify(RULES),
  MAX_ATTEMPTS: '2',
  EVENT_BUS_NAME: 'together',
  ALERT_TOPIC_ARN: 'arn:aws:sns:us-east-1:111111111111:alerts',
};

test('the settings the construct writes arrive as values', () => {
  expect(readFineTuneRetryConfig(ENV)).toEqual({
    tableName: 'dedupe',
    scope: 'c8a1b2',
    retentionSeconds: 7 * 86400,
    apiKeySecretArn: ENV.API_KEY_SECRET_ARN,
    apiBaseUrl: 'https://api.together.xyz/v1',
    eventBusName: 'together',
    alertTopicArn: ENV.ALERT_TOPIC_ARN,
    rules: RULES,
    maxAttempts: 2,
  });
  expect(readFineTuneRetryConfig({ ...ENV, ALERT_TOPIC_ARN: undefined }).alertTopicArn).toBeUndefined();
});

test('malformed rules or attempts are refused by name, with the value', () => {
  expect(() => readFineTuneRetryConfig({ ...ENV, RETRY_RULES: 'halve' })).toThrow(
    'RETRY_RULES must be JSON, got "halve"',
  );
  expect(() =>
    readFineTuneRetryConfig({ ...ENV, RETRY_RULES: '[{"match":"oom","action":"double"}]' }),
  ).toThrow('RETRY_RULES has the wrong shape, got [{"match":"oom","action":"double"}]');
  expect(() =>
    readFineTuneRetryConfig({ ...ENV, RETRY_RULES: '[{"match":"","action":"no_retry"}]' }),
  ).toThrow('RETRY_RULES has the wrong shape');
  expect(() => readFineTuneRetryConfig({ ...ENV, MAX_ATTEMPTS: '0' })).toThrow(
    'MAX_ATTEMPTS must be a whole number of attempts (at least 1), got "0"',
  );
  expect(() => readFineTuneRetryConfig({ ...ENV, MAX_ATTEMPTS: undefined })).toThrow(
    'environment variable MAX_ATTEMPTS is required',
  );
  expect(() => readFineTuneRetryConfig({ ...ENV, EVENT_BUS_NAME: '' })).toThrow(
    'environment variable EVENT_BUS_NAME is required',
  );
});
