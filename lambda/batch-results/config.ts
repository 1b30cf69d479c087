import { BatchResultsEnvironment, DEFAULTS } from '../../lib/contract';
import { Environment, EnvReader } from '../shared/config';

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

export function readBatchResultsConfig(env: Environment): BatchResultsEnv {
  const read = new EnvReader<BatchResultsEnvironment>(env);
  return {
    tableName: read.required('TABLE_NAME'),
    claimScope: read.scope('CLAIM_SCOPE'),
    eventBusName: read.required('EVENT_BUS_NAME'),
    bucketName: read.required('BUCKET_NAME'),
    keyPrefix: keyPrefix(read),
    apiKeySecretArn: read.required('API_KEY_SECRET_ARN'),
    apiKeyJsonField: read.optional('API_KEY_JSON_FIELD'),
    apiBaseUrl: read.apiBaseUrl(),
    retentionSeconds: read.retentionSeconds(),
    metricsNamespace: read.metricsNamespace(),
    metricsService: read.metricsService('together-batch-results'),
  };
}

/**
 * `KEY_PREFIX`, default `DEFAULTS.batchKeyPrefix`. Unlike every other variable, an empty one is a value: the
 * construct's `keyPrefix: ''` puts the files at the bucket's root, so only an absent one takes the default.
 */
function keyPrefix(read: EnvReader<BatchResultsEnvironment>): string {
  return read.verbatim('KEY_PREFIX') ?? DEFAULTS.batchKeyPrefix;
}
