import { DEFAULTS, PollerEnvironment } from '../../lib/contract';
import { Environment, EnvReader } from '../shared/config';
import { isObject } from '../shared/guards';
import type { PollerConfig } from './core';
import type { FastFollowConfig } from './follow';
import { EnabledSources, JOB_SOURCES } from './sources';

/** Everything the poller reads from its environment (lib/contract.ts `PollerEnvironment`), validated. */
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
  /** The opt-in job sources, each on when its flag (sources/index.ts `optIn`) is 'true'. */
  readonly sources: EnabledSources;
  readonly initialLookbackMs: number;
  readonly trackingExpiryMs: number;
  readonly retentionSeconds: number;
  readonly metricsNamespace: string;
  readonly metricsService: string;
  /** The function's memory, MB (Lambda's AWS_LAMBDA_FUNCTION_MEMORY_SIZE). */
  readonly memoryMb: number;
  /** Re-checks of unfinished jobs within the invocation; undefined: off. */
  readonly fastFollow?: FastFollowConfig;
}

/**
 * The most jobs one streamed listing may keep for a poll with this much memory. Measured (docs/BENCHMARKS.md): a
 * poll over 100,000 fine-tunes grows by ~100 MiB, about 1 KB a job; 128 MB are left for the runtime, the SDK and
 * the rest of the poll, and each MB beyond holds 800 jobs, so 256 MB hold 102,400.
 */
export function listedJobsFor(memoryMb: number): number {
  return Math.max(1_000, Math.floor((memoryMb - 128) * 800));
}

export function readPollerEnv(env: Environment): PollerEnv {
  const read = new EnvReader<PollerEnvironment>(env);
  return {
    tableName: read.required('TABLE_NAME'),
    stateScope: read.scope('STATE_SCOPE'),
    claimScope: read.scope('CLAIM_SCOPE'),
    eventBusName: read.required('EVENT_BUS_NAME'),
    apiKeySecretArn: read.required('API_KEY_SECRET_ARN'),
    apiKeySecretName: read.optional('API_KEY_SECRET_NAME') ?? read.required('API_KEY_SECRET_ARN'),
    apiKeyJsonField: read.optional('API_KEY_JSON_FIELD'),
    apiBaseUrl: read.apiBaseUrl(),
    alertTopicArn: read.optional('ALERT_TOPIC_ARN'),
    watchModels: read.json(
      'WATCH_MODELS',
      [] as string[],
      (v) => Array.isArray(v) && v.every((m) => typeof m === 'string'),
    ),
    // Each model's entry is read field by field where it is used (sources/models.ts).
    modelInfo: read.json('MODEL_INFO', {}, (v): v is PollerEnv['modelInfo'] => isObject(v)),
    stallAfterMs: read.minutesMs('STALL_AFTER_MINUTES', DEFAULTS.stallAfterMinutes),
    modelMissingMs: read.minutesMs('MODEL_MISSING_MINUTES', DEFAULTS.modelMissingMinutes),
    sources: enabledSources(read),
    initialLookbackMs: read.minutesMs('INITIAL_LOOKBACK_MINUTES', DEFAULTS.initialLookbackMinutes),
    trackingExpiryMs: read.minutesMs('TRACKING_EXPIRY_MINUTES', DEFAULTS.trackingExpiryMinutes),
    retentionSeconds: read.retentionSeconds(),
    metricsNamespace: read.metricsNamespace(),
    metricsService: read.metricsService('together-poller'),
    memoryMb: read.number('AWS_LAMBDA_FUNCTION_MEMORY_SIZE', DEFAULTS.pollerMemoryMb, {
      integer: true,
      min: 128,
      unit: 'MB',
    }),
    fastFollow: readFastFollow(read),
  };
}

/** Fast follow, when `FAST_FOLLOW_SECONDS` turns it on: its bounds as the construct checked them. */
function readFastFollow(read: EnvReader<PollerEnvironment>): FastFollowConfig | undefined {
  const every = read.optionalNumber('FAST_FOLLOW_SECONDS', { min: 10, unit: 'seconds' });
  if (every === undefined) return undefined;
  const interval = read.number('POLL_INTERVAL_SECONDS', 60, { min: 60, unit: 'seconds' });
  if (every >= interval) {
    throw new Error(
      `FAST_FOLLOW_SECONDS must be less than POLL_INTERVAL_SECONDS (${interval}), got "${every}"`,
    );
  }
  return {
    everyMs: every * 1000,
    intervalMs: interval * 1000,
    requestsPerMinute: read.number('FAST_FOLLOW_REQUESTS_PER_MINUTE', DEFAULTS.fastFollowRequestsPerMinute, {
      integer: true,
      min: 1,
      unit: 'requests',
    }),
  };
}

/** Each opt-in source of the table, on or off by its flag. */
function enabledSources(read: EnvReader<PollerEnvironment>): EnabledSources {
  return Object.fromEntries(
    JOB_SOURCES.flatMap((row) => (row.optIn === undefined ? [] : [[row.key, read.flag(row.optIn)]])),
  );
}

/** What the poller's core is given, from what the environment said. */
export function pollerConfig(env: PollerEnv): PollerConfig {
  return {
    apiBaseUrl: env.apiBaseUrl,
    apiKeySecretName: env.apiKeySecretName,
    watchModels: env.watchModels,
    modelInfo: env.modelInfo,
    stallAfterMs: env.stallAfterMs,
    modelMissingMs: env.modelMissingMs,
    sources: env.sources,
    initialLookbackMs: env.initialLookbackMs,
    trackingExpiryMs: env.trackingExpiryMs,
    retentionSeconds: env.retentionSeconds,
    metrics: { namespace: env.metricsNamespace, service: env.metricsService },
    // What bounds the poll's memory: the jobs a listing keeps.
    limits: { maxListedItems: listedJobsFor(env.memoryMb) },
    fastFollow: env.fastFollow,
  };
}
