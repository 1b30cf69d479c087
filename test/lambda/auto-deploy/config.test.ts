import { readAutoDeployConfig } from '../../../lambda/auto-deploy/config';

/** What the auto-deploy handler reads from the environment its construct writes (lib/auto-deploy.ts). */

const ENV = {
  TABLE_NAME: 'dedupe',
  CLAIM_SCOPE: 'c8a1b2',
  RETENTION_DAYS: '7',
  API_KEY_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:111111111111:secret:together/api-key-AbCdEf',
  API_BASE_URL: 'https://api.together.xyz/v1',
  HARDWARE: '1x_nvidia_h100_80gb_sxm',
  MIN_REPLICAS: '1',
  MAX_REPLICAS: '3',
  INACTIVE_TIMEOUT_MINUTES: '60',
  MAX_EVAL_LOSS: '0.5',
  MODEL_NAME_PREFIX: 'acme/',
};

test('the settings the construct writes arrive as values', () => {
  expect(readAutoDeployConfig(ENV)).toEqual({
    tableName: 'dedupe',
    scope: 'c8a1b2',
    retentionSeconds: 7 * 86400,
    apiKeySecretArn: ENV.API_KEY_SECRET_ARN,
    apiBaseUrl: 'https://api.together.xyz/v1',
    hardware: '1x_nvidia_h100_80gb_sxm',
    minReplicas: 1,
    maxReplicas: 3,
    inactiveTimeoutMinutes: 60,
    maxEvalLoss: 0.5,
    modelNamePrefix: 'acme/',
  });
});

test('an empty RETENTION_DAYS is the default week, not 0 days (claims that expire at once)', () => {
  expect(readAutoDeployConfig({ ...ENV, RETENTION_DAYS: '' }).retentionSeconds).toBe(7 * 86400);
  expect(readAutoDeployConfig({ ...ENV, RETENTION_DAYS: undefined }).retentionSeconds).toBe(7 * 86400);
  expect(readAutoDeployConfig({ ...ENV, RETENTION_DAYS: '0.5' }).retentionSeconds).toBe(43200);
});

test('replicas are whole numbers, at least one at most; a malformed value is refused by name', () => {
  expect(() => readAutoDeployConfig({ ...ENV, MIN_REPLICAS: '1.5' })).toThrow(
    'MIN_REPLICAS must be a whole number of replicas, got "1.5"',
  );
  expect(() => readAutoDeployConfig({ ...ENV, MAX_REPLICAS: '0' })).toThrow(
    'MAX_REPLICAS must be a whole number of replicas (at least 1), got "0"',
  );
  expect(() => readAutoDeployConfig({ ...ENV, MAX_REPLICAS: 'two' })).toThrow('got "two"');
  expect(() => readAutoDeployConfig({ ...ENV, MIN_REPLICAS: '' })).toThrow(
    'environment variable MIN_REPLICAS is required',
  );
  expect(readAutoDeployConfig({ ...ENV, MIN_REPLICAS: '0' }).minReplicas).toBe(0);
});

test('unset optional settings are absent; malformed ones are refused', () => {
  const bare = readAutoDeployConfig({
    ...ENV,
    INACTIVE_TIMEOUT_MINUTES: undefined,
    MAX_EVAL_LOSS: '',
    MODEL_NAME_PREFIX: '',
    API_BASE_URL: undefined,
  });
  expect(bare).toMatchObject({ apiBaseUrl: 'https://api.together.xyz/v1' });
  expect(bare.inactiveTimeoutMinutes).toBeUndefined();
  expect(bare.maxEvalLoss).toBeUndefined();
  expect(bare.modelNamePrefix).toBeUndefined();
  expect(() => readAutoDeployConfig({ ...ENV, MAX_EVAL_LOSS: 'low' })).toThrow('MAX_EVAL_LOSS');
  expect(() => readAutoDeployConfig({ ...ENV, RETENTION_DAYS: '0' })).toThrow(
    'RETENTION_DAYS must be a positive number of days, got "0"',
  );
  expect(() => readAutoDeployConfig({ ...ENV, CLAIM_SCOPE: 'a#b' })).toThrow('CLAIM_SCOPE must be');
  expect(() => readAutoDeployConfig({ ...ENV, API_BASE_URL: 'http://api.example.com' })).toThrow(
    'API_BASE_URL',
  );
});
