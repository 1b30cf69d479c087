import { requiredEnv } from '../shared/env';
import { checkApiBaseUrl, DEFAULT_API_BASE_URL } from '../shared/together-api';
import { AutoDeployConfig } from './core';

/** Everything the auto-deploy handler reads from its environment. */
export interface AutoDeployEnv extends AutoDeployConfig {
  readonly tableName: string;
  readonly apiBaseUrl: string;
  readonly apiKeySecretArn: string;
  readonly apiKeyJsonField?: string;
}

const optionalNumber = (v: string | undefined) => (v === undefined || v === '' ? undefined : Number(v));

export function readAutoDeployConfig(env: NodeJS.ProcessEnv): AutoDeployEnv {
  return {
    tableName: requiredEnv(env, 'TABLE_NAME'),
    apiBaseUrl: checkApiBaseUrl('API_BASE_URL', env.API_BASE_URL ?? DEFAULT_API_BASE_URL),
    apiKeySecretArn: requiredEnv(env, 'API_KEY_SECRET_ARN'),
    apiKeyJsonField: env.API_KEY_JSON_FIELD,
    hardware: requiredEnv(env, 'HARDWARE'),
    minReplicas: Number(requiredEnv(env, 'MIN_REPLICAS')),
    maxReplicas: Number(requiredEnv(env, 'MAX_REPLICAS')),
    inactiveTimeoutMinutes: optionalNumber(env.INACTIVE_TIMEOUT_MINUTES),
    maxEvalLoss: optionalNumber(env.MAX_EVAL_LOSS),
    modelNamePrefix: env.MODEL_NAME_PREFIX || undefined,
    scope: requiredEnv(env, 'CLAIM_SCOPE'),
    retentionSeconds: Number(env.RETENTION_DAYS ?? '7') * 86400,
  };
}
