import {
  aws_cloudwatch as cloudwatch,
  aws_dynamodb as dynamodb,
  aws_events as events,
  aws_events_targets as targets,
  aws_iam as iam,
  aws_lambda as lambda,
  aws_logs as logs,
  aws_secretsmanager as secretsmanager,
  Duration,
  Stack,
  Token,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { bundledFunction, grantClaimPath } from './assets';
import {
  CLAIM_SCOPE_PATTERN,
  legacyOutcomeClaimPrefixes,
  outcomeClaimPrefix,
  pollerStatePrefix,
  trackInboxKey,
} from './claim-keys';
import {
  DEFAULT_TOGETHER_API_BASE_URL,
  DEFAULTS,
  environmentOf,
  PollerEnvironment,
  PollerMetric,
  PollerSourceFlags,
  TrackEnvironment,
} from './contract';
import { EVENT_TYPES, eventSpec } from './events';
import { libraryMetric } from './metrics';
import { checkPollerOptions, checkProps, KIND, POLLER_OPTIONS, required, Shape } from './validation';

import { PollerOptions, TogetherJobPollerProps } from './poller-props';

export * from './poller-props';

const OWNER = 'TogetherJobPoller';

/**
 * Polls Together's fine-tunes, batches and models on a schedule and publishes the same catalogue events the
 * webhook does, exactly once (concurrency 1, a lease, and the verifier's claims).
 */
export class TogetherJobPoller extends Construct {
  public readonly function: lambda.Function;
  public readonly schedule: events.Rule;
  /** How often it polls. */
  public readonly interval: Duration;
  /** The Together API key it reads. */
  public readonly apiKey: secretsmanager.ISecret;
  /** The field of the key's JSON SecretString that holds the key, if any. */
  public readonly apiKeyJsonField?: string;
  /** The Together API base URL it calls. */
  public readonly apiBaseUrl: string;
  /** The scope of the outcome claims it makes (`o#<claimScope>#...`). */
  public readonly claimScope: string;
  /** The scope of its state and lease items (`poller#<stateScope>#...`): its own address. */
  public readonly stateScope: string;
  /** The key of its tracking inbox item in the table (`poller#<stateScope>#track`). */
  public readonly trackInboxKey: string;
  private readonly metricsNamespace: string;
  private readonly table: dynamodb.ITable;

  constructor(scope: Construct, id: string, props: TogetherJobPollerProps) {
    super(scope, id);
    validatePoller(props);
    this.metricsNamespace = props.metricsNamespace;
    const retention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;

    this.interval = props.interval ?? Duration.minutes(1);
    this.apiKey = props.apiKey;
    this.apiKeyJsonField = props.apiKeyJsonField;
    this.apiBaseUrl = props.apiBaseUrl ?? DEFAULT_TOGETHER_API_BASE_URL;
    this.stateScope = this.node.addr;
    this.trackInboxKey = trackInboxKey(this.stateScope);
    this.table = props.table;
    this.claimScope = props.claimScope ?? this.node.addr;
    this.function = bundledFunction(this, 'Function', {
      handler: 'poller',
      description: 'Polls Together AI jobs and publishes their outcomes to EventBridge exactly once',
      // Together requests stop 45 s in; the rest is kept for delivering what they found and saving the state. With
      // fast follow, re-checks run until 13 s before the next tick, and the same reserves follow the last one.
      timeout: props.fastFollow ? this.interval.plus(Duration.minutes(1)) : Duration.seconds(90),
      memorySize: props.memorySize ?? DEFAULTS.pollerMemoryMb,
      // Polls never overlap; the lease in the table covers the rest.
      reservedConcurrentExecutions: 1,
      logRetention: retention,
      logGroupId: 'Logs',
      tracing: props.tracing,
      environment: this.environment(props),
    });
    // A tick that cannot start at once is dropped: the next one polls everything anyway.
    this.function.configureAsyncInvoke({ retryAttempts: 0, maxEventAge: Duration.seconds(60) });

    props.apiKey.grantRead(this.function);
    // Its own claims and state; read only, the unscoped claims of the release before, for the types it publishes.
    grantClaimPath(this.function, props.table, props.eventBus, {
      prefixes: [outcomeClaimPrefix(this.claimScope), pollerStatePrefix(this.stateScope)],
      readOnlyPrefixes: legacyOutcomeClaimPrefixes(POLLER_TYPES),
    });
    if (props.alertTopic) {
      // Exactly what SNS needs to publish to an encrypted topic (grantPublish would add kms:GenerateDataKey*).
      this.function.addToRolePolicy(
        new iam.PolicyStatement({ actions: ['sns:Publish'], resources: [props.alertTopic.topicArn] }),
      );
      props.alertTopic.masterKey?.grant(this.function, 'kms:Decrypt', 'kms:GenerateDataKey');
    }

    this.schedule = new events.Rule(this, 'Schedule', {
      description: 'Polls Together AI jobs',
      schedule: events.Schedule.rate(this.interval),
      targets: [new targets.LambdaFunction(this.function, { retryAttempts: 0 })],
    });
  }

  /** What the handler reads (lambda/poller/config.ts), every name from lib/contract.ts. */
  private environment(props: TogetherJobPollerProps): Record<string, string> {
    const modelInfo = Object.fromEntries(
      Object.entries(props.modelDeprecations ?? {}).map(([m, info]) => [
        m,
        { replacementModel: info.replacementModel, sunsetDate: info.sunsetDate },
      ]),
    );
    return environmentOf<PollerEnvironment>({
      TABLE_NAME: props.table.tableName,
      // The construct's address: stable across deploys, distinct for two pollers sharing a table.
      STATE_SCOPE: this.stateScope,
      CLAIM_SCOPE: this.claimScope,
      EVENT_BUS_NAME: props.eventBus.eventBusName,
      API_KEY_SECRET_ARN: props.apiKey.secretArn,
      API_KEY_SECRET_NAME: props.apiKey.secretName,
      API_KEY_JSON_FIELD: props.apiKeyJsonField || undefined,
      API_BASE_URL: this.apiBaseUrl,
      ALERT_TOPIC_ARN: props.alertTopic?.topicArn,
      WATCH_MODELS: JSON.stringify(props.watchModels ?? []),
      MODEL_INFO: JSON.stringify(modelInfo),
      STALL_AFTER_MINUTES: minutes(props.stallAfter, DEFAULTS.stallAfterMinutes),
      MODEL_MISSING_MINUTES: minutes(props.modelMissingFor, DEFAULTS.modelMissingMinutes),
      ...sourceFlags(props),
      INITIAL_LOOKBACK_MINUTES: minutes(props.initialLookback, DEFAULTS.initialLookbackMinutes),
      // Absent: the handler's default (DEFAULTS.trackingExpiryMinutes); tracking may be turned on after this.
      TRACKING_EXPIRY_MINUTES: props.trackingExpiry ? minutes(props.trackingExpiry, 0) : undefined,
      RETENTION_DAYS: String(
        (props.dedupeRetention ?? Duration.days(DEFAULTS.retentionDays)).toDays({ integral: false }),
      ),
      METRICS_NAMESPACE: props.metricsNamespace,
      ...fastFollowEnvironment(props, this.interval),
    });
  }

  /** Follows your dedicated endpoints' starts from now on (`endpoint.ready` / `endpoint.failed`), as `endpoints` does. */
  public followEndpoints(): void {
    const flag: keyof PollerSourceFlags = 'ENDPOINTS';
    this.function.addEnvironment(flag, 'true');
  }

  /**
   * Lets `grantee` hand operations in to follow (`together-webhooks/track`): `dynamodb:UpdateItem` on the table,
   * on the inbox item's key only (`dynamodb:LeadingKeys`), returning nothing but the old value of what it wrote
   * (`dynamodb:ReturnValues`): no other item, and of the inbox only the entry it names. With a customer-managed
   * table key, `kms:Decrypt` and `kms:GenerateDataKey` on it through DynamoDB only (`kms:ViaService`).
   *
   * Turns tracking on.
   */
  public grantTrack(grantee: iam.IGrantable): iam.Grant {
    this.enableTracking();
    const grant = iam.Grant.addToPrincipal({
      grantee,
      actions: ['dynamodb:UpdateItem'],
      resourceArns: [this.table.tableArn],
      conditions: {
        // No wildcard: the inbox's key exactly (a scope holds none of StringLike's `*` or `?`).
        'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [this.trackInboxKey] },
        // What a write returns is at most the old value of the entry it wrote: no reading the others.
        StringEqualsIfExists: { 'dynamodb:ReturnValues': ['NONE', 'UPDATED_OLD'] },
      },
    });
    const key = this.table.encryptionKey;
    if (key) {
      // A customer-managed table key: what UpdateItem needs of it, and only through DynamoDB.
      iam.Grant.addToPrincipal({
        grantee,
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resourceArns: [key.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `dynamodb.${Stack.of(this).region}.amazonaws.com` } },
      });
    }
    return grant;
  }

  /**
   * Tells `fn` where the inbox is: `TOGETHER_TRACK_TABLE` and `TOGETHER_TRACK_SCOPE`, which
   * `together-webhooks/track` reads. Turns tracking on; pair it with `grantTrack(fn)`.
   */
  public addTrackingEnvironment(fn: lambda.Function): void {
    this.enableTracking();
    const env: TrackEnvironment = {
      TOGETHER_TRACK_TABLE: this.table.tableName,
      TOGETHER_TRACK_SCOPE: this.stateScope,
    };
    for (const [name, value] of Object.entries(env)) fn.addEnvironment(name, value);
  }

  private enableTracking(): void {
    const flag: keyof PollerSourceFlags = 'TRACKING';
    this.function.addEnvironment(flag, 'true');
  }

  /**
   * Failures per poll that held an outcome back: a source's listing or a job's request failing, a refused key,
   * Together failing request after request, the bus or the table failing.
   */
  public metricPollErrors(options: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return this.pollerMetric('PollErrors', { statistic: 'Sum', period: Duration.minutes(15), ...options });
  }

  /** 1 for a poll that left something for the next one (out of time, rate limited, a failure), else 0. */
  public metricPollIncomplete(options: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return this.pollerMetric('PollIncomplete', { statistic: 'Maximum', ...options });
  }

  /** 1 for a poll that ran out of time before visiting every job due, else 0. */
  public metricOutOfTime(options: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return this.pollerMetric('OutOfTime', { statistic: 'Maximum', ...options });
  }

  /** 1 for a poll that Together stopped with HTTP 429, else 0. */
  public metricRateLimited(options: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return this.pollerMetric('RateLimited', { statistic: 'Maximum', ...options });
  }

  /** 1 for a poll that did not run because another held the lease, else 0. */
  public metricPollSkipped(options: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return this.pollerMetric('PollSkipped', { statistic: 'Maximum', ...options });
  }

  /** Sources whose listing may have missed jobs this poll (a capped listing that could not be read whole). */
  public metricListingIncomplete(options: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return this.pollerMetric('ListingIncomplete', { statistic: 'Sum', ...options });
  }

  /** Outcomes published by the poller (the webhook's are `TogetherWebhooks.metricPublished`). */
  public metricPublished(options: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return this.pollerMetric('Published', { statistic: 'Sum', ...options });
  }

  /** Jobs followed until their terminal state is published (a gauge, per poll). */
  public metricFollowedJobs(options: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return this.pollerMetric('FollowedJobs', { statistic: 'Maximum', ...options });
  }

  /** One of the poller's metrics, by a name it emits (lib/contract.ts). */
  private pollerMetric(name: PollerMetric, options: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(name, options);
  }

  /**
   * Any of the poller's metrics by name: `Polls`, `Published`, `PollErrors`, `PollIncomplete`, `PollSkipped`,
   * `ListingIncomplete`, `OutOfTime`, `RateLimited`, `TogetherRequests`, `FollowedJobs`, `HeldBack`. Period: the
   * poll interval.
   */
  public metric(metricName: string, options: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return libraryMetric(
      {
        namespace: this.metricsNamespace,
        metricName,
        dimensionsMap: { Service: this.function.functionName },
        period: this.interval.isUnresolved() ? Duration.minutes(1) : this.interval,
      },
      options,
    );
  }
}

/**
 * The poller's opt-in job sources: each flag of lib/contract.ts `PollerSourceFlags` (the name
 * lambda/poller/sources/index.ts reads) and the prop that turns it on. A flag added to the contract fails to
 * compile here until its prop is named.
 */
const SOURCE_FLAGS: { readonly [F in keyof Required<PollerSourceFlags>]: SwitchProp } = {
  EVALUATIONS: 'evaluations',
  ENDPOINTS: 'endpoints',
  JOBS: 'jobs',
  DEPLOYMENTS: 'deployments',
  CLUSTERS: 'clusters',
  RL_SESSIONS: 'rlSessions',
  TRACKING: 'tracking',
};

/** The props that turn something on: `evaluations`, `endpoints`. */
type SwitchProp = {
  [P in keyof PollerOptions]-?: NonNullable<PollerOptions[P]> extends boolean ? P : never;
}[keyof PollerOptions];

/** 'true' for each opt-in source the props turn on; the others are left unset. */
function sourceFlags(props: PollerOptions): PollerSourceFlags {
  return Object.fromEntries(
    Object.entries(SOURCE_FLAGS).map(([flag, prop]) => [flag, props[prop] ? 'true' : undefined]),
  );
}

/** Fast follow's three variables, written only when it is on. */
function fastFollowEnvironment(props: PollerOptions, interval: Duration): Partial<PollerEnvironment> {
  if (!props.fastFollow) return {};
  return {
    FAST_FOLLOW_SECONDS: String(props.fastFollow.toSeconds()),
    FAST_FOLLOW_REQUESTS_PER_MINUTE: String(
      props.fastFollowRequestsPerMinute ?? DEFAULTS.fastFollowRequestsPerMinute,
    ),
    POLL_INTERVAL_SECONDS: String(interval.toSeconds()),
  };
}

/** A duration prop in whole minutes, its default when unset. */
function minutes(value: Duration | undefined, fallbackMinutes: number): string {
  return String((value ?? Duration.minutes(fallbackMinutes)).toMinutes());
}

/** What the poller publishes: Together's types and its own, not a recipe's. */
const POLLER_TYPES = EVENT_TYPES.filter((type) => [undefined, 'poller'].includes(eventSpec(type).producer));

/** Every prop's kind, those of `PollerOptions` and the ones `TogetherWebhooks` fills in. */
const PROPS: Shape<TogetherJobPollerProps> = {
  ...POLLER_OPTIONS,
  table: required(KIND.table),
  eventBus: required(KIND.eventBus),
  claimScope: KIND.string,
  alertTopic: KIND.topic,
  dedupeRetention: KIND.duration,
  logRetention: KIND.logRetention,
  metricsNamespace: required(KIND.string),
  tracing: KIND.boolean,
};

function validatePoller(props: TogetherJobPollerProps): void {
  checkProps(OWNER, props, 'TogetherJobPollerProps', PROPS);
  const scope = props.claimScope;
  if (scope !== undefined && (Token.isUnresolved(scope) || !CLAIM_SCOPE_PATTERN.test(scope))) {
    throw new Error(
      `${OWNER}: claimScope must be 1-100 letters, digits, '_', '.' or '-' (part of every claim key and ` +
        `of its IAM patterns), got "${String(scope).slice(0, 100)}"`,
    );
  }
  checkPollerOptions(OWNER, '', props);
}
