import { checkApiBaseUrl, DEFAULT_API_BASE_URL } from '../shared/together-api';
import { CLAIM_SCOPE_PATTERN } from '../../lib/claim-keys';
import { requiredEnv } from '../shared/env';

/** Everything the poller reads from its environment, validated. */
export interface PollerEnv {
  readonly tableName: string;
  /** Names this poller's state and lease items, so pollers sharing a table keep apart. */
  readonly stateScope: string;
  /** Names the outcome claims (`o#<scope>#...`) of the construct it polls for, shared with its verifier. */
  readonly claimScope: string;
  readonly eventBusName: string;
  readonly apiKeySecretArn: string;
  readonly apiKeySecretName: string;
  readonly apiKeyJsonField?: string;
  readonly apiBaseUrl: string;
  readonly alertTopicArn?: string;
  readonly watchModels: string[];
  readonly modelInfo: Record<string, { replacementModel?: string; sunsetDate?: string }>;
  readonly stallAfterMs: number;
  readonly modelMissingMs: number;
  readonly evaluations: boolean;
  readonly endpoints: boolean;
  readonly initialLookbackMs: number;
  readonly retentionSeconds: number;
  readonly metricsNamespace: string;
  readonly metricsService: string;
  /** The function's memory, MB (Lambda's AWS_LAMBDA_FUNCTION_MEMORY_SIZE). */
  readonly memoryMb: number;
}

/**
 * The most jobs one streamed listing may keep for a poll with this much memory. Measured (docs/BENCHMARKS.md): a
 * poll over 100,000 fine-tunes grows by ~100 MiB, about 1 KB a job; 128 MB are left for the runtime, the SDK and
 * the rest of the poll, and each MB beyond holds 800 jobs, so 256 MB hold 102,400.
 */
export function listedJobsFor(memoryMb: number): number {
  return Math.max(1_000, Math.floor((memoryMb - 128) * 800));
}

function minutes(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback * 60_000;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0)
    throw new Error(`${name} must be a number of minutes, got "${raw}"`);
  return value * 60_000;
}

function json<T>(env: NodeJS.ProcessEnv, name: string, fallback: T, check: (v: unknown) => boolean): T {
  const raw = env[name];
  if (!raw) return fallback;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new Error(`${name} must be JSON, got "${raw.slice(0, 100)}"`);
  }
  if (!check(value)) throw new Error(`${name} has the wrong shape, got ${raw.slice(0, 100)}`);
  return value as T;
}

function memory(raw: string | undefined): number {
  if (raw === undefined || raw === '') return 256;
  const mb = Number(raw);
  if (!Number.isInteger(mb) || mb < 128)
    throw new Error(
      `AWS_LAMBDA_FUNCTION_MEMORY_SIZE must be a whole number of MB, got "${raw.slice(0, 100)}"`,
    );
  return mb;
}

function scope(name: string, raw: string): string {
  if (!CLAIM_SCOPE_PATTERN.test(raw))
    throw new Error(`${name} must be 1-100 letters, digits, '_', '.' or '-', got "${raw.slice(0, 100)}"`);
  return raw;
}

export function readPollerEnv(env: NodeJS.ProcessEnv): PollerEnv {
  return {
    tableName: requiredEnv(env, 'TABLE_NAME'),
    stateScope: scope('STATE_SCOPE', requiredEnv(env, 'STATE_SCOPE')),
    claimScope: scope('CLAIM_SCOPE', requiredEnv(env, 'CLAIM_SCOPE')),
    eventBusName: requiredEnv(env, 'EVENT_BUS_NAME'),
    apiKeySecretArn: requiredEnv(env, 'API_KEY_SECRET_ARN'),
    apiKeySecretName: env.API_KEY_SECRET_NAME || requiredEnv(env, 'API_KEY_SECRET_ARN'),
    apiKeyJsonField: env.API_KEY_JSON_FIELD || undefined,
    apiBaseUrl: checkApiBaseUrl('API_BASE_URL', env.API_BASE_URL || DEFAULT_API_BASE_URL),
    alertTopicArn: env.ALERT_TOPIC_ARN || undefined,
    watchModels: json(
      env,
      'WATCH_MODELS',
      [] as string[],
      (v) => Array.isArray(v) && v.every((m) => typeof m === 'string'),
    ),
    modelInfo: json(env, 'MODEL_INFO', {}, (v) => typeof v === 'object' && v !== null && !Array.isArray(v)),
    stallAfterMs: minutes(env, 'STALL_AFTER_MINUTES', 360),
    modelMissingMs: minutes(env, 'MODEL_MISSING_MINUTES', 60),
    evaluations: env.EVALUATIONS === 'true',
    endpoints: env.ENDPOINTS === 'true',
    initialLookbackMs: minutes(env, 'INITIAL_LOOKBACK_MINUTES', 60),
    retentionSeconds: Math.round(Number(env.RETENTION_DAYS || 7) * 86400),
    metricsNamespace: env.METRICS_NAMESPACE || 'TogetherWebhooks',
    metricsService: env.METRICS_SERVICE || env.AWS_LAMBDA_FUNCTION_NAME || 'together-poller',
    memoryMb: memory(env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE),
  };
}
