import { BatchResultsEnvironment, DEFAULT_METRICS_NAMESPACE, DEFAULTS } from '../../lib/contract';
import { EnvReader } from '../shared/config';

/** Set by Lambda itself, not by the construct. */
interface LambdaRuntimeEnvironment {
  readonly AWS_LAMBDA_FUNCTION_NAME?: string;
}

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

type Env = Readonly<Record<string, string | undefined>>;

export function readBatchResultsConfig(env: Env): BatchResultsEnv {
  const read = new EnvReader<BatchResultsEnvironment & LambdaRuntimeEnvironment>(env);
  return {
    tableName: read.required('TABLE_NAME'),
    claimScope: read.scope('CLAIM_SCOPE'),
    eventBusName: read.required('EVENT_BUS_NAME'),
    bucketName: read.required('BUCKET_NAME'),
    keyPrefix: keyPrefix(env, read),
    apiKeySecretArn: read.required('API_KEY_SECRET_ARN'),
    apiKeyJsonField: read.optional('API_KEY_JSON_FIELD'),
    apiBaseUrl: read.apiBaseUrl(),
    retentionSeconds: read.retentionSeconds(),
    metricsNamespace: read.optional('METRICS_NAMESPACE') ?? DEFAULT_METRICS_NAMESPACE,
    metricsService: read.optional('AWS_LAMBDA_FUNCTION_NAME') ?? 'together-batch-results',
  };
}

/**
 * `KEY_PREFIX`, default `DEFAULTS.batchKeyPrefix`. Unlike every other variable, an empty one is a value: the
 * construct's `keyPrefix: ''` puts the files at the bucket's root, so only an absent one takes the default.
 */
function keyPrefix(env: Env, read: EnvReader<BatchResultsEnvironment>): string {
  return env.KEY_PREFIX === '' ? '' : (read.optional('KEY_PREFIX') ?? DEFAULTS.batchKeyPrefix);
}
