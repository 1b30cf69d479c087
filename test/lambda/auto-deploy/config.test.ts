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
