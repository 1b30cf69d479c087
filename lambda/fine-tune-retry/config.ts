import { FineTuneRetryEnvironment, RETRY_ACTIONS, RetryRuleSpec } from '../../lib/contract';
import { Environment, EnvReader } from '../shared/config';
import { isObject } from '../shared/guards';
import { FineTuneRetryConfig } from './core';

/** Everything the fine-tune retry handler reads from its environment, validated. */
export interface FineTuneRetryEnv extends FineTuneRetryConfig {
  readonly tableName: string;
  readonly apiBaseUrl: string;
  readonly apiKeySecretArn: string;
  readonly apiKeyJsonField?: string;
  readonly eventBusName: string;
  readonly alertTopicArn?: string;
}

function isRules(value: unknown): value is RetryRuleSpec[] {
  return (
    Array.isArray(value) &&
    value.every(
      (r) =>
        isObject(r) &&
        typeof r.match === 'string' &&
        r.match !== '' &&
        (RETRY_ACTIONS as readonly unknown[]).includes(r.action) &&
        (r.advice === undefined || typeof r.advice === 'string'),
    )
  );
}

export function readFineTuneRetryConfig(env: Environment): FineTuneRetryEnv {
  const read = new EnvReader<FineTuneRetryEnvironment>(env);
  return {
    tableName: read.required('TABLE_NAME'),
    scope: read.scope('CLAIM_SCOPE'),
    retentionSeconds: read.retentionSeconds(),
    apiKeySecretArn: read.required('API_KEY_SECRET_ARN'),
    apiKeyJsonField: read.optional('API_KEY_JSON_FIELD'),
    apiBaseUrl: read.apiBaseUrl(),
    eventBusName: read.required('EVENT_BUS_NAME'),
    alertTopicArn: read.optional('ALERT_TOPIC_ARN'),
    rules: read.json('RETRY_RULES', undefined, isRules),
    maxAttempts: read.number('MAX_ATTEMPTS', undefined, { min: 1, integer: true, unit: 'attempts' }),
  };
}
