import { SchemeName, SCHEMES } from './signature';
import { requiredEnv } from '../shared/env';

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

export const DEFAULT_SECRET_CACHE_TTL_SECONDS = 300;
export const DEFAULT_RETENTION_DAYS = 7;
export const DEFAULT_METRICS_NAMESPACE = 'TogetherWebhooks';

function positiveNumber(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0)
    throw new Error(`${name} must be a positive number, got "${raw}"`);
  return value;
}

export function readEnv(env: NodeJS.ProcessEnv): VerifierEnv {
  const scheme = (env.SIGNATURE_SCHEME || 'together-hmac') as SchemeName;
  if (!SCHEMES.includes(scheme)) {
    throw new Error(`SIGNATURE_SCHEME must be one of ${SCHEMES.join(', ')}, got "${env.SIGNATURE_SCHEME}"`);
  }
  return {
    secretArn: requiredEnv(env, 'SECRET_ARN'),
    secretJsonField: env.SECRET_JSON_FIELD || undefined,
    scheme,
    secretCacheTtlMs:
      positiveNumber(env, 'SECRET_CACHE_TTL_SECONDS', DEFAULT_SECRET_CACHE_TTL_SECONDS) * 1000,
    tableName: requiredEnv(env, 'TABLE_NAME'),
    claimScope: requiredEnv(env, 'CLAIM_SCOPE'),
    eventBusName: requiredEnv(env, 'EVENT_BUS_NAME'),
    retentionSeconds: Math.round(positiveNumber(env, 'RETENTION_DAYS', DEFAULT_RETENTION_DAYS) * 86400),
    metricsNamespace: env.METRICS_NAMESPACE || DEFAULT_METRICS_NAMESPACE,
    metricsService: env.METRICS_SERVICE || env.AWS_LAMBDA_FUNCTION_NAME || 'together-webhooks',
  };
}
