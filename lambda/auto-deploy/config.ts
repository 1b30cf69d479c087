import type { AutoDeployEnvironment } from '../../lib/contract';
import { Environment, EnvReader } from '../shared/config';
import { AutoDeployConfig } from './core';

/** Everything the auto-deploy handler reads from its environment, validated. */
export interface AutoDeployEnv extends AutoDeployConfig {
  readonly tableName: string;
  readonly apiBaseUrl: string;
  readonly apiKeySecretArn: string;
  readonly apiKeyJsonField?: string;
}

export function readAutoDeployConfig(env: Environment): AutoDeployEnv {
  const read = new EnvReader<AutoDeployEnvironment>(env);
  return {
    tableName: read.required('TABLE_NAME'),
    scope: read.scope('CLAIM_SCOPE'),
    retentionSeconds: read.retentionSeconds(),
    apiKeySecretArn: read.required('API_KEY_SECRET_ARN'),
    apiKeyJsonField: read.optional('API_KEY_JSON_FIELD'),
    apiBaseUrl: read.apiBaseUrl(),
    hardware: read.required('HARDWARE'),
    minReplicas: read.number('MIN_REPLICAS', undefined, { integer: true, unit: 'replicas' }),
    maxReplicas: read.number('MAX_REPLICAS', undefined, { min: 1, integer: true, unit: 'replicas' }),
    inactiveTimeoutMinutes: read.optionalNumber('INACTIVE_TIMEOUT_MINUTES', { integer: true }),
    maxEvalLoss: read.optionalNumber('MAX_EVAL_LOSS'),
    modelNamePrefix: read.optional('MODEL_NAME_PREFIX'),
  };
}
