import {
  aws_dynamodb as dynamodb,
  aws_events as events,
  aws_logs as logs,
  aws_secretsmanager as secretsmanager,
  aws_sns as sns,
  Duration,
} from 'aws-cdk-lib';

/** The props of `TogetherJobPoller`, and the `poller` options of `TogetherWebhooks` (lib/poller.ts). */

/** What the poller says about a watched model once Together stops listing it. */
export interface ModelDeprecationInfo {
  /**
   * The model to move to.
   * @default - null in the event
   */
  readonly replacementModel?: string;
  /**
   * ISO date after which the model stops serving.
   * @default - null in the event
   */
  readonly sunsetDate?: string;
}

/** How `TogetherWebhooks` polls Together's jobs API. */
export interface PollerOptions {
  /** The Together API key, read at run time (each poll, so a rotation takes effect at once). */
  readonly apiKey: secretsmanager.ISecret;
  /**
   * Field of a JSON SecretString that holds the API key.
   * @default - the whole SecretString is the key
   */
  readonly apiKeyJsonField?: string;
  /**
   * How often to poll.
   * @default Duration.minutes(1)
   */
  readonly interval?: Duration;
  /**
   * Models whose disappearance from `GET /models` is published as `model.deprecated`.
   * @default - no models watched
   */
  readonly watchModels?: string[];
  /**
   * Replacement and sunset date to put in `model.deprecated`, by watched model id.
   * @default - both null
   */
  readonly modelDeprecations?: { readonly [modelId: string]: ModelDeprecationInfo };
  /**
   * How long a watched model must be missing from `GET /models` before `model.deprecated` is published: a shorter
   * gap in the listing publishes nothing.
   * @default Duration.hours(1)
   */
  readonly modelMissingFor?: Duration;
  /**
   * Follow Together's evaluation jobs too: each terminal one is published as `evaluation.completed` (with a summary
   * of its results) or `evaluation.failed`. One more request a poll; seven when the newest 100 do not reach back
   * to the last poll (one page per status: Together lists 100 at most, with no paging).
   * @default false
   */
  readonly evaluations?: boolean;
  /**
   * Follow your dedicated endpoints too: each start is published as `endpoint.ready` or `endpoint.failed`.
   * `TogetherAutoDeploy` turns it on. One more request a poll.
   * @default false
   */
  readonly endpoints?: boolean;
  /**
   * Follow Together's jobs too (`GET /jobs`: model uploads and other jobs): each finished one is published as
   * `job.completed` or `job.failed`, with its type and the model named in its arguments. One more request a poll.
   * @default false
   */
  readonly jobs?: boolean;
  /**
   * Follow your custom container deployments too (`GET /deployments`): each transition into Ready or Failed is
   * published as `deployment.ready` or `deployment.failed`. One more request a poll.
   * @default false
   */
  readonly deployments?: boolean;
  /**
   * Follow your GPU clusters too: each transition into Ready is published as `cluster.ready`, into Degraded as
   * `cluster.degraded` (Ready -> Degraded -> Ready is three events). One more request a poll.
   * @default false
   */
  readonly clusters?: boolean;
  /**
   * Follow your RL training sessions too: each one's end is published once, as `rl_session.stopped` (STOPPED) or
   * `rl_session.failed` (ERROR or EXPIRED). One request a poll per 100 sessions (at most 20).
   * @default false
   */
  readonly rlSessions?: boolean;
  /**
   * Follow operations Together cannot list, from ids handed in: video generations (`video.completed` /
   * `video.failed`) and queued inference jobs (`queue_job.done` / `queue_job.failed`). Hand them in with
   * `together-webhooks/track` in a function given `grantTrack` and `addTrackingEnvironment`, or with
   * `together-webhooks track`. One DynamoDB read a poll, and one request per tracked operation visited
   * (docs/poller.md: "Tracked operations"). `grantTrack` turns it on too.
   * @default false
   */
  readonly tracking?: boolean;
  /**
   * How long a tracked operation is followed at most: one not finished by then is dropped with a warning and no
   * event (Together keeps a video or a queued job for hours, not days). Whole minutes, 10 minutes to 30 days.
   * @default Duration.hours(24)
   */
  readonly trackingExpiry?: Duration;
  /**
   * A fine-tune with no status change and no new event for this long is published as `fine_tune.stalled`.
   * @default Duration.hours(6)
   */
  readonly stallAfter?: Duration;
  /**
   * On the first poll after deploy, outcomes this recent are still published (older history is not).
   * @default Duration.hours(1)
   */
  readonly initialLookback?: Duration;
  /**
   * Together's API base URL.
   * @default 'https://api.together.xyz/v1'
   */
  readonly apiBaseUrl?: string;
  /**
   * The poller function's memory, in MB (256 to 10240). `GET /fine-tunes` lists every fine-tune of the account at
   * once; a poll keeps about 1 KB of each, so 256 MB hold about 100,000 fine-tunes (a larger listing fails the
   * fine-tunes with an error that says so, and everything else still flows). Lambda gives CPU in proportion to
   * memory, and reading a large listing is CPU-bound: above about 20,000 fine-tunes raise it
   * (docs/poller.md: "Memory on a large account").
   * @default 256
   */
  readonly memorySize?: number;
  /**
   * Fast follow: while jobs are unfinished, re-check them this often after each poll, within the same invocation
   * and under its lease, so an outcome reaches the bus seconds after it happens instead of at the next tick. Whole
   * seconds, at least 10 s and less than `interval` (at most 10 minutes with fast follow). While anything is
   * followed the function runs until about 13 s before the next tick, and is billed for it; its timeout becomes
   * `interval` plus one minute. An idle account costs what it costs without it (docs/poller.md: "Fast follow").
   * @default - off: outcomes reach the bus at the next tick
   */
  readonly fastFollow?: Duration;
  /**
   * With `fastFollow`: the most Together requests one invocation makes per minute of `interval`, the scheduled
   * poll's included. Re-checks stop when the next one could exceed it.
   * @default 60
   */
  readonly fastFollowRequestsPerMinute?: number;
}

/** Props of `TogetherJobPoller` when used on its own (`TogetherWebhooks` fills in all but `PollerOptions`). */
export interface TogetherJobPollerProps extends PollerOptions {
  /** The dedupe table, shared with the verifier: one claim per outcome, whichever path sees it first. */
  readonly table: dynamodb.ITable;
  /** The bus outcomes are published to. */
  readonly eventBus: events.IEventBus;
  /**
   * Names the outcome claims it shares with a verifier in the table (`o#<claimScope>#<outcome key>`):
   * `TogetherWebhooks` passes its own `claimScope`, so its webhook and its poller claim one key per outcome.
   * @default - this poller's own address
   */
  readonly claimScope?: string;
  /**
   * Where a refused API key is reported (once per incident).
   * @default - not reported beyond the logs and the PollErrors metric
   */
  readonly alertTopic?: sns.ITopic;
  /**
   * How long a delivered outcome is remembered.
   * @default Duration.days(7)
   */
  readonly dedupeRetention?: Duration;
  /**
   * Retention of the poller's logs.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /** Namespace of the EMF metrics. */
  readonly metricsNamespace: string;
  /**
   * X-Ray active tracing of the poller; each event it publishes carries the poll's trace header, so a target
   * with tracing on joins the poll's trace.
   * @default false
   */
  readonly tracing?: boolean;
}
