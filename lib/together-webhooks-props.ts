import {
  aws_certificatemanager as acm,
  aws_dynamodb as dynamodb,
  aws_events as events,
  aws_logs as logs,
  aws_secretsmanager as secretsmanager,
  aws_sns as sns,
  aws_sqs as sqs,
  Duration,
  RemovalPolicy,
} from 'aws-cdk-lib';
import { PollerOptions } from './poller';
import { RegistrationOptions } from './registration';
import { SignatureScheme } from './signature-scheme';

// What `TogetherWebhooks` (lib/together-webhooks.ts) is given: public API, exported by lib/index.ts.

/**
 * Targets for each event type: one optional list per catalogue type, so a misspelt type is an error in the editor.
 * More can be added later with `TogetherWebhooks.onEvent`.
 */
export interface TogetherEventHandlers {
  /**
   * `fine_tune.completed`: a fine-tuning job finished and its model is ready.
   * @default - none
   */
  readonly fineTuneCompleted?: events.IRuleTarget[];
  /**
   * `fine_tune.failed`: a fine-tuning job stopped with an error.
   * @default - none
   */
  readonly fineTuneFailed?: events.IRuleTarget[];
  /**
   * `fine_tune.retried` (`TogetherFineTuneRetry`): a failed fine-tune was resubmitted by a retry rule.
   * @default - none
   */
  readonly fineTuneRetried?: events.IRuleTarget[];
  /**
   * `fine_tune.checkpoint`: a fine-tuning job saved a checkpoint.
   * @default - none
   */
  readonly fineTuneCheckpoint?: events.IRuleTarget[];
  /**
   * `fine_tune.cancelled`: a fine-tuning job was cancelled.
   * @default - none
   */
  readonly fineTuneCancelled?: events.IRuleTarget[];
  /**
   * `fine_tune.stalled` (poller): a fine-tuning job has shown no progress for hours.
   * @default - none
   */
  readonly fineTuneStalled?: events.IRuleTarget[];
  /**
   * `model.deprecated`: a model you use is deprecated and will be removed.
   * @default - none
   */
  readonly modelDeprecated?: events.IRuleTarget[];
  /**
   * `batch.done`: a batch job reached a terminal state.
   * @default - none
   */
  readonly batchDone?: events.IRuleTarget[];
  /**
   * `evaluation.completed` (poller, `evaluations` on): an evaluation job finished with results.
   * @default - none
   */
  readonly evaluationCompleted?: events.IRuleTarget[];
  /**
   * `evaluation.failed` (poller, `evaluations` on): an evaluation job stopped with an error.
   * @default - none
   */
  readonly evaluationFailed?: events.IRuleTarget[];
  /**
   * `endpoint.ready` (poller, `endpoints` on): a dedicated endpoint finished starting and serves its model.
   * @default - none
   */
  readonly endpointReady?: events.IRuleTarget[];
  /**
   * `endpoint.failed` (poller, `endpoints` on): a dedicated endpoint failed to start.
   * @default - none
   */
  readonly endpointFailed?: events.IRuleTarget[];
  /**
   * `job.completed` (poller, `jobs` on): a Together job (a model upload, ...) completed.
   * @default - none
   */
  readonly jobCompleted?: events.IRuleTarget[];
  /**
   * `job.failed` (poller, `jobs` on): a Together job (a model upload, ...) failed.
   * @default - none
   */
  readonly jobFailed?: events.IRuleTarget[];
  /**
   * `deployment.ready` (poller, `deployments` on): a custom container deployment became Ready.
   * @default - none
   */
  readonly deploymentReady?: events.IRuleTarget[];
  /**
   * `deployment.failed` (poller, `deployments` on): a custom container deployment became Failed.
   * @default - none
   */
  readonly deploymentFailed?: events.IRuleTarget[];
  /**
   * `batch.collected` (`TogetherBatchResults`): a finished batch's output was copied to S3 and its tokens counted.
   * @default - none
   */
  readonly batchCollected?: events.IRuleTarget[];
  /**
   * `cluster.ready` (poller, `clusters` on): a GPU cluster entered Ready (once per transition).
   * @default - none
   */
  readonly clusterReady?: events.IRuleTarget[];
  /**
   * `cluster.degraded` (poller, `clusters` on): a GPU cluster entered Degraded (once per transition).
   * @default - none
   */
  readonly clusterDegraded?: events.IRuleTarget[];
  /**
   * `rl_session.stopped` (poller, `rlSessions` on): an RL training session stopped.
   * @default - none
   */
  readonly rlSessionStopped?: events.IRuleTarget[];
  /**
   * `rl_session.failed` (poller, `rlSessions` on): an RL training session ended in ERROR or EXPIRED.
   * @default - none
   */
  readonly rlSessionFailed?: events.IRuleTarget[];
  /**
   * `video.completed` (poller, `tracking` on): a tracked video generation completed, with its URL.
   * @default - none
   */
  readonly videoCompleted?: events.IRuleTarget[];
  /**
   * `video.failed` (poller, `tracking` on): a tracked video generation failed.
   * @default - none
   */
  readonly videoFailed?: events.IRuleTarget[];
  /**
   * `queue_job.done` (poller, `tracking` on): a tracked queued inference job is done.
   * @default - none
   */
  readonly queueJobDone?: events.IRuleTarget[];
  /**
   * `queue_job.failed` (poller, `tracking` on): a tracked queued inference job failed or was canceled.
   * @default - none
   */
  readonly queueJobFailed?: events.IRuleTarget[];
}

/** Props of `TogetherWebhooks`: every one optional; the defaults make a complete, secure receiver. */
export interface TogetherWebhooksProps {
  /**
   * The secret Together signs webhooks with, read by the verifier at run time. A plain SecretString, or a JSON one
   * with `secretJsonField` set.
   * @default - a new generated 48-character secret (copy it to Together, or let registration do it)
   */
  readonly secret?: secretsmanager.ISecret;
  /**
   * Field of a JSON SecretString that holds the signing secret.
   * @default - the whole SecretString is the secret
   */
  readonly secretJsonField?: string;
  /**
   * How Together signs webhooks.
   * @default SignatureScheme.togetherHmac()
   */
  readonly signatureScheme?: SignatureScheme;
  /**
   * How long the verifier caches the signing secret (a rotation is picked up sooner, on the first mismatch).
   * @default Duration.minutes(5)
   */
  readonly secretCacheTtl?: Duration;

  /**
   * The dedupe table. Bring your own: partition key `id` (String), TTL on attribute `expiration`.
   * @default - a new on-demand table with TTL, point-in-time recovery and encryption
   */
  readonly table?: dynamodb.ITable;
  /**
   * What happens to the dedupe table the construct creates when it leaves the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * How long a delivered event id is remembered, so a redelivery within it is a duplicate.
   * @default Duration.days(7)
   */
  readonly dedupeRetention?: Duration;

  /**
   * The bus events are published to.
   * @default - a new event bus
   */
  readonly eventBus?: events.IEventBus;
  /**
   * How long the archive keeps events for replay. `Duration.days(0)` keeps them forever.
   * @default Duration.days(30)
   */
  readonly archiveRetention?: Duration;
  /**
   * Whether to archive every Together event on the bus, so past events can be replayed.
   * @default true
   */
  readonly archive?: boolean;
  /**
   * Whether to create an EventBridge schema registry with one schema per event type (OpenAPI 3, generated from
   * the event catalogue, as EventBridge's own discovery writes them), so the console shows every event and offers
   * its code bindings. The package ships the same schemas in `schemas/`.
   * @default false
   */
  readonly schemas?: boolean;
  /**
   * X-Ray active tracing of the verifier and the poller. Each event they publish carries the invocation's trace
   * header (PutEvents `TraceHeader`), which EventBridge passes to the targets: a target with tracing on (a Lambda
   * function with `tracing: lambda.Tracing.ACTIVE`) joins the trace, so one trace shows a webhook or a poll and
   * the handler it reached.
   * @default false
   */
  readonly tracing?: boolean;

  /**
   * Targets for each event type, e.g. `{ fineTuneCompleted: [new targets.LambdaFunction(fn)] }`. More can be added
   * later with `onEvent`.
   * @default - no targets
   */
  readonly handlers?: TogetherEventHandlers;
  /**
   * Where undeliverable events go after the retries, for every target that does not name its own.
   * @default - a new encrypted SQS queue, kept 14 days
   */
  readonly deadLetterQueue?: sqs.IQueue;
  /**
   * How many times EventBridge retries a target before the dead-letter queue.
   * @default 8
   */
  readonly targetRetryAttempts?: number;

  /**
   * Whether failures (`fine_tune.failed`, `model.deprecated`) and operational alarms notify an SNS topic.
   * @default true
   */
  readonly alerts?: boolean;
  /**
   * The topic alerts go to.
   * @default - a new topic encrypted with a new KMS key (when `alerts` is on)
   */
  readonly alertTopic?: sns.ITopic;
  /**
   * Rejected signatures in 5 minutes that raise the alarm.
   * @default 10
   */
  readonly rejectedSignatureAlarmThreshold?: number;

  /**
   * Steady-state requests per second the endpoint accepts.
   * @default 50
   */
  readonly throttlingRateLimit?: number;
  /**
   * Burst of requests the endpoint accepts.
   * @default 100
   */
  readonly throttlingBurstLimit?: number;
  /**
   * Retention of the endpoint's access logs and the verifier's logs.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * A custom domain for the endpoint (needs `certificate`).
   * @default - the API's execute-api URL
   */
  readonly domainName?: string;
  /**
   * Certificate for `domainName`, in the stack's region.
   * @default - none; required with `domainName`
   */
  readonly certificate?: acm.ICertificate;

  /**
   * Register the endpoint with Together on deploy (and delete it with the stack). Together's public API has no
   * webhooks endpoint today: the registration then reports `unsupported` unless `required` is set.
   * @default - no registration: give Together the URL and secret yourself
   */
  readonly registration?: RegistrationOptions;

  /**
   * Poll Together's jobs API on a schedule and publish the same events: the way to receive them while Together
   * has no webhooks. Safe together with the webhook: both claim one key per outcome.
   * @default - no poller
   */
  readonly poller?: PollerOptions;

  /**
   * The verifier's timeout (API Gateway waits at most 30 s).
   * @default Duration.seconds(10)
   */
  readonly timeout?: Duration;
  /**
   * The verifier's memory, in MiB.
   * @default 256
   */
  readonly memorySize?: number;
  /**
   * Reserved concurrency for the verifier.
   * @default - unreserved
   */
  readonly reservedConcurrency?: number;
}
