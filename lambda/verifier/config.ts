import { DEFAULTS, SIGNATURE_SCHEMES, VerifierEnvironment } from '../../lib/contract';
import { Environment, EnvReader } from '../shared/config';
import { SchemeName } from './signature';

/** Everything the verifier reads from its environment, validated. */
export interface VerifierEnv {
  readonly secretArn: string;
  readonly secretJsonField?: string;
  readonly scheme: SchemeName;
  readonly secretCacheTtlMs: number;
  readonly tableName: string;
  /** Names this construct's claims in the table (`o#<scope>#...`), shared with its poller. */
  readonly claimScope: string;
  readonly eventBusName: string;
  readonly retentionSeconds: number;
  readonly metricsNamespace: string;
  readonly metricsService: string;
}

/** The verifier's environment (lib/contract.ts), read once through the shared reader. */
export function readVerifierConfig(env: Environment): VerifierEnv {
  const read = new EnvReader<VerifierEnvironment>(env);
  const scheme = readScheme(read);
  return {
    secretArn: read.required('SECRET_ARN'),
    secretJsonField: read.optional('SECRET_JSON_FIELD'),
    scheme,
    secretCacheTtlMs:
      read.number('SECRET_CACHE_TTL_SECONDS', DEFAULTS.secretCacheTtlSeconds, { positive: true }) * 1000,
    tableName: read.required('TABLE_NAME'),
    claimScope: read.scope('CLAIM_SCOPE'),
    eventBusName: read.required('EVENT_BUS_NAME'),
    retentionSeconds: read.retentionSeconds(),
    metricsNamespace: read.metricsNamespace(),
    metricsService: read.metricsService('together-webhooks'),
  };
}

function readScheme(read: EnvReader<VerifierEnvironment>): SchemeName {
  return read.oneOf('SIGNATURE_SCHEME', SIGNATURE_SCHEMES, DEFAULTS.signatureScheme);
}
