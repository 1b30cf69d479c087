/**
 * What the constructs in lib/ and the handlers in lambda/ agree on, written once: each handler's environment
 * (names, and the defaults both sides assume), the metric names each handler emits and its construct reads, the
 * signature schemes, the webhook path, the claim scope's pattern, the registration's properties and answer, the
 * custom resource type, Together's default API URL and the metric namespace. A construct types the environment it
 * writes with one of these interfaces (`environmentOf<...>`) and a handler's `config.ts` reads names of the same
 * interface (`EnvReader<...>`, lambda/shared/config.ts): a misspelt name, or a required one the construct leaves
 * out, fails to compile. That each handler reads every variable its construct writes is checked by
 * test/integration/environment-contract.test.ts. Item-key prefixes of the dedupe table live in lib/claim-keys.ts.
 *
 * Dependency-free, like lib/event-catalogue.ts: every handler bundles it. Not part of the package's public API.
 */

/** Together's API, when no `apiBaseUrl` is given. */
export const DEFAULT_TOGETHER_API_BASE_URL = 'https://api.together.xyz/v1';

/** What a claim or state scope may hold: it is part of every item key (lib/claim-keys.ts) and of the IAM patterns. */
export const CLAIM_SCOPE_PATTERN = /^[A-Za-z0-9_.-]{1,100}$/;

/** Where Together posts: the receiver's route on its HTTP API, and the local `dev` server's. */
export const WEBHOOK_PATH = '/webhooks/together';

/** The CloudFormation type of the webhook registration. */
export const WEBHOOK_RESOURCE_TYPE = 'Custom::TogetherWebhook';

/**
 * The properties of the webhook registration (`WEBHOOK_RESOURCE_TYPE`): what lib/registration.ts writes and
 * lambda/registration/config.ts reads. CloudFormation hands each over as a string, `Events` as a list of them.
 */
export interface WebhookRegistrationProperties {
  /** The endpoint Together posts to: https. */
  readonly Url: string;
  /** The event types subscribed to, sorted. */
  readonly Events: readonly string[];
  /** Default `DEFAULT_TOGETHER_API_BASE_URL`. */
  readonly ApiBaseUrl?: string;
  /** `'true'`: fail when Together has no webhooks endpoint; default `'false'`. */
  readonly Required?: string;
  readonly ApiKeySecretArn: string;
  /** Named in failure messages; default the ARN. */
  readonly ApiKeySecretName?: string;
  readonly ApiKeyJsonField?: string;
  readonly SigningSecretArn: string;
  readonly SigningSecretJsonField?: string;
  /** Changed after rotating the signing secret, so Together gets the new value; default `'1'`. */
  readonly SecretVersion?: string;
}

/** What the webhook registration answers (its `Data`), read in lib/ with `getAttString`. */
export interface WebhookRegistrationAttributes {
  /** `registered`, or `unsupported` when Together has no webhooks endpoint. */
  readonly Status: 'registered' | 'unsupported';
  /** Together's webhook id; empty when unsupported. */
  readonly WebhookId: string;
  /** The signing secret's version registered; empty when not known. */
  readonly SecretVersionId: string;
}

/** The signature schemes the verifier knows: `SignatureScheme`'s names, and what `SIGNATURE_SCHEME` may hold. */
export const SIGNATURE_SCHEMES = ['together-hmac', 'standard-webhooks'] as const;
/** By name, for the code that picks one. */
export const SIGNATURE_SCHEME = {
  togetherHmac: 'together-hmac',
  standardWebhooks: 'standard-webhooks',
} as const satisfies Record<string, (typeof SIGNATURE_SCHEMES)[number]>;
export type SignatureSchemeName = (typeof SIGNATURE_SCHEMES)[number];

/** The CloudWatch namespace of every metric the handlers emit, unless a construct is told otherwise. */
export const DEFAULT_METRICS_NAMESPACE = 'TogetherWebhooks';

/**
 * The metrics each handler emits (embedded metric format, in its log line) and its construct reads back with
 * `metric*` methods and alarms: a name renamed on one side only would leave an alarm on a metric nobody writes.
 */
export type VerifierMetric =
  | 'Received'
  | 'Rejected'
  | 'Invalid'
  | 'ReservedType'
  | 'TooOld'
  | 'Failed'
  | 'StaleSecret'
  | 'UnknownType'
  | 'IncompleteData'
  | 'Published'
  | 'Duplicate'
  | 'PayloadMismatch'
  | 'InFlight'
  | 'PublishUnknown';
export type PollerMetric =
  | 'Polls'
  | 'PollSkipped'
  | 'ListingIncomplete'
  | 'Published'
  | 'PollErrors'
  | 'PollIncomplete'
  | 'OutOfTime'
  | 'RateLimited'
  | 'TogetherRequests'
  | 'FollowedJobs'
  | 'HeldBack';
export type BatchResultsMetric = 'BatchesCollected' | 'BatchTokens';
export type TrainingMonitorMetric = 'TrainingLoss';

/**
 * Defaults a construct applies when a prop is unset, and a handler when its variable is absent or empty (except
 * `KEY_PREFIX`, where empty is a value: the bucket's root).
 */
export const DEFAULTS = {
  /** How long a claim is kept (`dedupeRetention`). */
  retentionDays: 7,
  /** How long the verifier keeps its signing secret (`secretCacheTtl`). */
  secretCacheTtlSeconds: 300,
  /** No status change and no new event for this long: `fine_tune.stalled` (`stallAfter`). */
  stallAfterMinutes: 360,
  /** A watched model missing for this long: `model.deprecated` (`modelMissingFor`). */
  modelMissingMinutes: 60,
  /** On the very first poll, outcomes this recent are still published (`initialLookback`). */
  initialLookbackMinutes: 60,
  /** Where batch results are written in their bucket (`keyPrefix`). */
  batchKeyPrefix: 'together-batches/',
  /** How Together signs (`signatureScheme`). */
  signatureScheme: 'together-hmac',
  /** The poller's memory (`memorySize`), MB. */
  pollerMemoryMb: 256,
  /** Together requests a minute with fast follow, the scheduled poll's included (`fastFollowRequestsPerMinute`). */
  fastFollowRequestsPerMinute: 60,
  /** A tracked operation not finished by then is dropped (`trackingExpiry`): one day. */
  trackingExpiryMinutes: 1440,
} as const;

/** What every handler that writes claims or events reads. */
export interface ClaimsEnvironment {
  /** The dedupe table. */
  readonly TABLE_NAME: string;
  /** Names the claims of the owning construct (lib/claim-keys.ts). */
  readonly CLAIM_SCOPE: string;
  /** Days, fractional allowed; default `DEFAULTS.retentionDays`. */
  readonly RETENTION_DAYS?: string;
}

/** What a handler that calls Together reads. */
export interface TogetherApiEnvironment {
  readonly API_KEY_SECRET_ARN: string;
  /** Read the key from this field of a JSON secret. */
  readonly API_KEY_JSON_FIELD?: string;
  /** Default `DEFAULT_TOGETHER_API_BASE_URL`. */
  readonly API_BASE_URL?: string;
}

/** Set by Lambda itself, never by a construct: every handler's reader may ask for these. */
export interface LambdaRuntimeEnvironment {
  /** The `Service` dimension of a handler's metrics when `METRICS_SERVICE` is unset. */
  readonly AWS_LAMBDA_FUNCTION_NAME?: string;
  /** The function's memory, MB. */
  readonly AWS_LAMBDA_FUNCTION_MEMORY_SIZE?: string;
}

/** What a handler that emits EMF metrics reads. */
export interface MetricsEnvironment {
  /** Default `DEFAULT_METRICS_NAMESPACE`. */
  readonly METRICS_NAMESPACE?: string;
  /** The `Service` dimension; default the function's name. */
  readonly METRICS_SERVICE?: string;
}

/** lambda/verifier. */
export interface VerifierEnvironment extends ClaimsEnvironment, MetricsEnvironment {
  readonly SECRET_ARN: string;
  readonly SECRET_JSON_FIELD?: string;
  /** One of `SIGNATURE_SCHEMES`; default `DEFAULTS.signatureScheme`. */
  readonly SIGNATURE_SCHEME?: string;
  /** Default `DEFAULTS.secretCacheTtlSeconds`. */
  readonly SECRET_CACHE_TTL_SECONDS?: string;
  readonly EVENT_BUS_NAME: string;
}

/** lambda/poller. */
export interface PollerEnvironment
  extends ClaimsEnvironment, TogetherApiEnvironment, MetricsEnvironment, PollerSourceFlags {
  /** Names this poller's state and lease items. */
  readonly STATE_SCOPE: string;
  readonly EVENT_BUS_NAME: string;
  /** Named in the alert when Together refuses the key; default the ARN. */
  readonly API_KEY_SECRET_NAME?: string;
  readonly ALERT_TOPIC_ARN?: string;
  /** JSON array of model names. */
  readonly WATCH_MODELS?: string;
  /** JSON object: model name -> `{ replacementModel?, sunsetDate? }`. */
  readonly MODEL_INFO?: string;
  /** Minutes; default `DEFAULTS.stallAfterMinutes`. */
  readonly STALL_AFTER_MINUTES?: string;
  /** Minutes; default `DEFAULTS.modelMissingMinutes`. */
  readonly MODEL_MISSING_MINUTES?: string;
  /** Minutes; default `DEFAULTS.initialLookbackMinutes`. */
  readonly INITIAL_LOOKBACK_MINUTES?: string;
  /** Seconds between re-checks of unfinished jobs (`fastFollow`); absent: no fast follow. */
  readonly FAST_FOLLOW_SECONDS?: string;
  /** Default `DEFAULTS.fastFollowRequestsPerMinute`; read with `FAST_FOLLOW_SECONDS`. */
  readonly FAST_FOLLOW_REQUESTS_PER_MINUTE?: string;
  /** The schedule's interval, seconds: fast follow ends before the next tick. Written with `FAST_FOLLOW_SECONDS`. */
  readonly POLL_INTERVAL_SECONDS?: string;
  /** Minutes a tracked operation is followed at most; default `DEFAULTS.trackingExpiryMinutes`. */
  readonly TRACKING_EXPIRY_MINUTES?: string;
}

/**
 * The poller's opt-in sources: `'true'` turns one on. One name per source that is off unless asked for
 * (lambda/poller/sources/index.ts names the variable of each).
 */
export interface PollerSourceFlags {
  readonly EVALUATIONS?: string;
  readonly ENDPOINTS?: string;
  readonly JOBS?: string;
  readonly DEPLOYMENTS?: string;
  readonly CLUSTERS?: string;
  readonly RL_SESSIONS?: string;
  /** Tracked operations (videos, queue jobs), read from the tracking inbox. */
  readonly TRACKING?: string;
}

/**
 * What `TogetherJobPoller.addTrackingEnvironment` writes for a function of yours that tracks operations, and
 * `together-webhooks/track` (lib/track.ts) reads: where the poller's tracking inbox is.
 */
export interface TrackEnvironment {
  /** The dedupe table, which holds the inbox item. */
  readonly TOGETHER_TRACK_TABLE: string;
  /** The poller's state scope: the inbox is `poller#<scope>#track`. */
  readonly TOGETHER_TRACK_SCOPE: string;
}

/** The names of `TrackEnvironment`, written once for lib/poller.ts and lib/track.ts. */
export const TRACK_ENV = {
  table: 'TOGETHER_TRACK_TABLE',
  scope: 'TOGETHER_TRACK_SCOPE',
} as const satisfies Record<string, keyof TrackEnvironment>;

/** lambda/batch-results. */
export interface BatchResultsEnvironment
  extends ClaimsEnvironment, TogetherApiEnvironment, MetricsEnvironment {
  readonly EVENT_BUS_NAME: string;
  readonly BUCKET_NAME: string;
  /** Default `DEFAULTS.batchKeyPrefix`. */
  readonly KEY_PREFIX?: string;
}

/** lambda/auto-deploy. */
export interface AutoDeployEnvironment extends ClaimsEnvironment, TogetherApiEnvironment {
  readonly HARDWARE: string;
  readonly MIN_REPLICAS: string;
  readonly MAX_REPLICAS: string;
  readonly INACTIVE_TIMEOUT_MINUTES?: string;
  readonly MAX_EVAL_LOSS?: string;
  readonly MODEL_NAME_PREFIX?: string;
}

/** What a fine-tune retry rule does, as RETRY_RULES carries it (lib/retry-rule.ts writes, lambda/fine-tune-retry reads). */
export const RETRY_ACTIONS = ['halve_batch_size', 'same_parameters', 'no_retry'] as const;
export type RetryActionName = (typeof RETRY_ACTIONS)[number];

/** One rule in RETRY_RULES: `match` a case-insensitive substring of the job's last error. */
export interface RetryRuleSpec {
  readonly match: string;
  readonly action: RetryActionName;
  readonly advice?: string;
}

/** lambda/fine-tune-retry. */
export interface FineTuneRetryEnvironment extends ClaimsEnvironment, TogetherApiEnvironment {
  /** JSON array of `{ match, action, advice? }`, in the order they are tried. */
  readonly RETRY_RULES: string;
  /** Retries per lineage (the original job and its retries). */
  readonly MAX_ATTEMPTS: string;
  readonly EVENT_BUS_NAME: string;
  readonly ALERT_TOPIC_ARN?: string;
}

/** lambda/model-aliases. */
export interface ModelAliasesEnvironment extends ClaimsEnvironment {
  /** JSON array of `{ alias, parameter, follow? }`. */
  readonly ALIASES: string;
  /** `'true'` or `'false'`. */
  readonly SWITCH_ON_DEPRECATION?: string;
  readonly ALERT_TOPIC_ARN?: string;
}

/** lambda/training-monitor. */
export type TrainingMonitorEnvironment = MetricsEnvironment;

/** What a construct passes as a Lambda environment: the values of one of the interfaces above, unset ones left out. */
export function environmentOf<E extends object = never>(env: NoInfer<E>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined) out[name] = value as string;
  }
  return out;
}
