import { requiredEnv } from '../shared/env';
import { checkApiBaseUrl, DEFAULT_API_BASE_URL } from '../shared/together-api';

/** Everything the adapter reads from its environment, checked. */
export interface BatchResultsEnv {
  readonly tableName: string;
  /** The receiver's claim scope: `batch.collected` is one of its outcomes (`o#<scope>#batch.collected:<id>`). */
  readonly claimScope: string;
  readonly eventBusName: string;
  readonly bucketName: string;
  readonly keyPrefix: string;
  readonly apiKeySecretArn: string;
  readonly apiKeyJsonField?: string;
  readonly apiBaseUrl: string;
  readonly retentionSeconds: number;
  readonly metricsNamespace: string;
  readonly metricsService: string;
}

export function readBatchResultsConfig(env: NodeJS.ProcessEnv): BatchResultsEnv {
  const days = Number(env.RETENTION_DAYS || 7);
  if (!Number.isFinite(days) || days <= 0) {
    throw new Error(`RETENTION_DAYS must be a positive number of days, got "${env.RETENTION_DAYS}"`);
  }
  return {
    tableName: requiredEnv(env, 'TABLE_NAME'),
    claimScope: requiredEnv(env, 'CLAIM_SCOPE'),
    eventBusName: requiredEnv(env, 'EVENT_BUS_NAME'),
    bucketName: requiredEnv(env, 'BUCKET_NAME'),
    keyPrefix: env.KEY_PREFIX ?? 'together-batches/',
    apiKeySecretArn: requiredEnv(env, 'API_KEY_SECRET_ARN'),
    apiKeyJsonField: env.API_KEY_JSON_FIELD || undefined,
    apiBaseUrl: checkApiBaseUrl('API_BASE_URL', env.API_BASE_URL || DEFAULT_API_BASE_URL),
    retentionSeconds: Math.round(days * 86400),
    metricsNamespace: env.METRICS_NAMESPACE || 'TogetherWebhooks',
    metricsService: env.AWS_LAMBDA_FUNCTION_NAME || 'together-batch-results',
  };
}
