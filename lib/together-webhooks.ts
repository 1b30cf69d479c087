import {
  aws_apigatewayv2 as apigwv2,
  aws_apigatewayv2_integrations as integrations,
  aws_certificatemanager as acm,
  aws_cloudwatch as cloudwatch,
  aws_cloudwatch_actions as cwActions,
  aws_dynamodb as dynamodb,
  aws_events as events,
  aws_events_targets as targets,
  aws_iam as iam,
  aws_kms as kms,
  aws_lambda as lambda,
  aws_logs as logs,
  aws_secretsmanager as secretsmanager,
  aws_sns as sns,
  aws_sqs as sqs,
  ArnFormat,
  Duration,
  RemovalPolicy,
  Stack,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { bundledFunction, grantClaimPath } from './assets';
import { legacyOutcomeClaimPrefixes, outcomeClaimPrefix } from './claim-keys';
import {
  EVENT_CATALOGUE,
  EVENT_SOURCE,
  EVENT_TYPES,
  eventSpec,
  handlerProperty,
  isCatalogueType,
  TogetherEventType,
  WEBHOOK_EVENT_TYPES,
} from './events';
import { alertPattern, EventPatternJson, pascal, routePattern } from './patterns';
import { PollerOptions, TogetherJobPoller } from './poller';
import { RegistrationOptions, TogetherWebhookRegistration } from './registration';
import { SignatureScheme } from './signature-scheme';
import { checkDuration, checkEventType, checkNumber } from './validation';

/** The path Together posts to. */
export const WEBHOOK_PATH = '/webhooks/together';
/** The namespace of the metrics the verifier emits (CloudWatch embedded metric format). */
export const METRICS_NAMESPACE = 'TogetherWebhooks';
/** EventBridge takes at most five targets a rule. */
const MAX_TARGETS_PER_RULE = 5;
/** Polls in a row that held outcomes back before an alarm says so. */
const POLLS_HELD_BACK = 5;

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
   * `batch.collected` (`TogetherBatchResults`): a finished batch's output was copied to S3 and its tokens counted.
   * @default - none
   */
  readonly batchCollected?: events.IRuleTarget[];
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

/**
 * Receives Together AI webhooks, verifies them, and puts each event on an EventBridge bus exactly once, routed
 * per event type to your targets and, for failures, to an alert topic.
 */
export class TogetherWebhooks extends Construct {
  /** The URL to give Together: `https://.../webhooks/together`. */
  public readonly webhookUrl: string;
  public readonly httpApi: apigwv2.HttpApi;
  public readonly stage: apigwv2.HttpStage;
  public readonly verifier: lambda.Function;
  public readonly secret: secretsmanager.ISecret;
  public readonly table: dynamodb.ITable;
  public readonly eventBus: events.IEventBus;
  /** The archive, when `archive` is on. */
  public readonly archive?: events.Archive;
  public readonly deadLetterQueue: sqs.IQueue;
  /** The alert topic, when `alerts` is on. */
  public readonly alertTopic?: sns.ITopic;
  /** The custom domain, when `domainName` is set. */
  public readonly domainName?: apigwv2.DomainName;
  /** The CloudWatch alarms, when `alerts` is on. */
  public readonly alarms: cloudwatch.Alarm[] = [];
  /** The registration with Together, when `registration` is set. */
  public readonly registration?: TogetherWebhookRegistration;
  /** The job poller, when `poller` is set. */
  public readonly poller?: TogetherJobPoller;
  /** How long an outcome's claim is remembered (what `dedupeRetention` was set to). */
  public readonly dedupeRetention: Duration;
  /**
   * Names this construct's outcome claims in the dedupe table (`o#<claimScope>#<outcome key>`), shared by its
   * verifier, its poller and its recipes, apart from any other construct's in a shared table. The construct's
   * address: stable across deploys.
   */
  public readonly claimScope: string;

  private readonly routes = new Map<string, Array<{ rule: events.Rule; targets: number }>>();
  private readonly retryAttempts: number;

  constructor(scope: Construct, id: string, props: TogetherWebhooksProps = {}) {
    super(scope, id);
    validateProps(props);
    this.retryAttempts = props.targetRetryAttempts ?? 8;
    this.dedupeRetention = props.dedupeRetention ?? Duration.days(7);
    this.claimScope = this.node.addr;
    const retention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;
    const scheme = props.signatureScheme ?? SignatureScheme.togetherHmac();

    this.secret =
      props.secret ??
      new secretsmanager.Secret(this, 'SigningSecret', {
        description: 'Signing secret for Together AI webhooks',
        generateSecretString: {
          passwordLength: 48,
          excludePunctuation: true,
          // With secretJsonField, the secret the verifier reads is that field of a JSON SecretString.
          ...(props.secretJsonField
            ? { secretStringTemplate: '{}', generateStringKey: props.secretJsonField }
            : {}),
        },
      });

    this.table = props.table ?? this.createTable(props.removalPolicy ?? RemovalPolicy.RETAIN);

    this.eventBus = props.eventBus ?? new events.EventBus(this, 'Bus');
    if (props.archive ?? true) {
      this.archive = new events.Archive(this, 'Archive', {
        sourceEventBus: this.eventBus,
        eventPattern: { source: [EVENT_SOURCE] },
        retention: props.archiveRetention ?? Duration.days(30),
        description: 'Together AI events, for replay',
      });
    }

    this.deadLetterQueue =
      props.deadLetterQueue ??
      new sqs.Queue(this, 'DeadLetterQueue', {
        encryption: sqs.QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
        retentionPeriod: Duration.days(14),
      });

    this.verifier = bundledFunction(this, 'Verifier', {
      handler: 'verifier',
      description: 'Verifies Together AI webhooks and publishes them to EventBridge exactly once',
      timeout: props.timeout ?? Duration.seconds(10),
      memorySize: props.memorySize ?? 256,
      reservedConcurrentExecutions: props.reservedConcurrency,
      logRetention: retention,
      logGroupId: 'VerifierLogs',
      environment: {
        SECRET_ARN: this.secret.secretArn,
        ...(props.secretJsonField ? { SECRET_JSON_FIELD: props.secretJsonField } : {}),
        SIGNATURE_SCHEME: scheme.name,
        SECRET_CACHE_TTL_SECONDS: String((props.secretCacheTtl ?? Duration.minutes(5)).toSeconds()),
        TABLE_NAME: this.table.tableName,
        CLAIM_SCOPE: this.claimScope,
        EVENT_BUS_NAME: this.eventBus.eventBusName,
        RETENTION_DAYS: String(this.dedupeRetention.toDays({ integral: false })),
        METRICS_NAMESPACE,
      },
    });
    // Exactly what the verifier calls: its secret, its own claims in its table (and, read only, the unscoped claims
    // of the release before, for types Together sends), its bus. Nothing else.
    this.secret.grantRead(this.verifier);
    grantClaimPath(this.verifier, this.table, this.eventBus, {
      prefixes: [outcomeClaimPrefix(this.claimScope)],
      readOnlyPrefixes: legacyOutcomeClaimPrefixes(WEBHOOK_EVENT_TYPES),
    });

    this.httpApi = new apigwv2.HttpApi(this, 'Api', {
      description: 'Together AI webhook receiver',
      createDefaultStage: false,
      // With a custom domain, the execute-api URL would be a second way in that bypasses it.
      disableExecuteApiEndpoint: props.domainName !== undefined ? true : undefined,
    });
    this.httpApi.addRoutes({
      path: WEBHOOK_PATH,
      methods: [apigwv2.HttpMethod.POST],
      integration: new integrations.HttpLambdaIntegration('Verify', this.verifier),
    });
    if (props.domainName) {
      this.domainName = new apigwv2.DomainName(this, 'Domain', {
        domainName: props.domainName,
        certificate: props.certificate!,
      });
    }
    const accessLogs = new logs.LogGroup(this, 'AccessLogs', {
      retention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.stage = new apigwv2.HttpStage(this, 'Stage', {
      httpApi: this.httpApi,
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: props.throttlingRateLimit ?? 50, burstLimit: props.throttlingBurstLimit ?? 100 },
      accessLogSettings: { destination: new apigwv2.LogGroupLogDestination(accessLogs) },
      domainMapping: this.domainName ? { domainName: this.domainName } : undefined,
    });
    this.webhookUrl = props.domainName
      ? `https://${props.domainName}${WEBHOOK_PATH}`
      : `${this.httpApi.apiEndpoint}${WEBHOOK_PATH}`;

    if (props.alerts ?? true) {
      this.alertTopic = props.alertTopic ?? this.createAlertTopic();
      this.routeAlerts(this.alertTopic);
      this.createAlarms(this.alertTopic, props.rejectedSignatureAlarmThreshold ?? 10);
    }

    for (const type of EVENT_TYPES) {
      const list = (props.handlers as Record<string, events.IRuleTarget[] | undefined> | undefined)?.[
        handlerProperty(type)
      ];
      if (list?.length) this.onEvent(type, ...list);
    }

    if (props.poller) {
      this.poller = new TogetherJobPoller(this, 'Poller', {
        ...props.poller,
        table: this.table,
        eventBus: this.eventBus,
        claimScope: this.claimScope,
        alertTopic: this.alertTopic,
        dedupeRetention: props.dedupeRetention,
        logRetention: retention,
        metricsNamespace: METRICS_NAMESPACE,
      });
      if (this.alertTopic) this.createPollerAlarms(this.alertTopic, this.poller);
    }

    if (props.registration) {
      this.registration = new TogetherWebhookRegistration(this, 'Registration', {
        ...props.registration,
        webhookUrl: this.webhookUrl,
        signingSecret: this.secret,
        signingSecretJsonField: props.secretJsonField,
        logRetention: retention,
      });
    }
  }

  /**
   * Routes events of `eventType` to `targets`: a rule per type (`Route<Type>`), matching source `together.ai` and
   * the detail-type; past EventBridge's five targets a rule, `Route<Type>2`, `Route<Type>3`, ... take the rest.
   * Targets without their own dead-letter queue get the construct's, with retries. Returns the rule that took the
   * last target.
   */
  public onEvent(eventType: string, ...ruleTargets: events.IRuleTarget[]): events.Rule {
    checkEventType('TogetherWebhooks', 'onEvent', eventType);
    let route = this.routeFor(eventType);
    for (const target of ruleTargets) {
      if (route.targets >= MAX_TARGETS_PER_RULE) route = this.routeFor(eventType, true);
      route.rule.addTarget(new DeadLetteredTarget(target, this.deadLetterQueue, this.retryAttempts));
      route.targets++;
    }
    return route.rule;
  }

  /** Lets `grantee` put events on the bus (e.g. a handler that emits follow-up events). */
  public grantPutEvents(grantee: iam.IGrantable): iam.Grant {
    return this.eventBus.grantPutEventsTo(grantee);
  }

  /** A metric of the verifier's own counters (EMF), summed over 5 minutes unless told otherwise. */
  public metric(metricName: string, options: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: METRICS_NAMESPACE,
      metricName,
      dimensionsMap: { Service: this.verifier.functionName },
      statistic: 'Sum',
      period: Duration.minutes(5),
      ...options,
    });
  }

  /** Webhook requests that reached the verifier. */
  public metricReceived(options?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('Received', options);
  }

  /** Requests refused for a missing or wrong signature. */
  public metricRejected(options?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('Rejected', options);
  }

  /** Redeliveries of events already published. */
  public metricDuplicate(options?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('Duplicate', options);
  }

  /** Events put on the bus. */
  public metricPublished(options?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('Published', options);
  }

  /** The last rule of `eventType`, or a new one (ids are public API: the first keeps `Route<Type>`). */
  private routeFor(eventType: string, another = false): { rule: events.Rule; targets: number } {
    const routes = this.routes.get(eventType) ?? [];
    if (routes.length > 0 && !another) return routes[routes.length - 1];
    const id = `Route${pascal(eventType)}${routes.length === 0 ? '' : routes.length + 1}`;
    const rule = new events.Rule(this, id, {
      eventBus: this.eventBus,
      description: `Together AI ${eventType} events`,
      eventPattern: cdkPattern(routePattern(eventType)),
    });
    const route = { rule, targets: 0 };
    this.routes.set(eventType, [...routes, route]);
    return route;
  }

  private createTable(removalPolicy: RemovalPolicy): dynamodb.Table {
    return new dynamodb.Table(this, 'DedupeTable', {
      partitionKey: { name: 'id', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: 'expiration',
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      removalPolicy,
    });
  }

  private createAlertTopic(): sns.Topic {
    // EventBridge and CloudWatch cannot publish to a topic under the AWS-managed SNS key: it needs a key of ours.
    const key = new kms.Key(this, 'AlertKey', {
      description: 'Encrypts the Together webhooks alert topic',
      enableKeyRotation: true,
    });
    const topic = new sns.Topic(this, 'AlertTopic', {
      displayName: 'Together AI alerts',
      masterKey: key,
      enforceSSL: true,
    });
    // CloudWatch, for alarms of this account only (its requests carry these keys, so they can be pinned). EventBridge
    // gets no service principal here at all: its alert rules publish with a role (its KMS calls carry no such keys).
    const stack = Stack.of(this);
    const alarmsOfThisAccount = {
      StringEquals: { 'aws:SourceAccount': stack.account },
      ArnLike: {
        'aws:SourceArn': stack.formatArn({
          service: 'cloudwatch',
          resource: 'alarm',
          resourceName: '*',
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        }),
      },
    };
    const cloudwatch = new iam.ServicePrincipal('cloudwatch.amazonaws.com');
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [cloudwatch],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: alarmsOfThisAccount,
      }),
    );
    topic.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [cloudwatch],
        actions: ['sns:Publish'],
        resources: [topic.topicArn],
        conditions: alarmsOfThisAccount,
      }),
    );
    return topic;
  }

  /** One rule per alerting type, apart from the user's routes, so turning alerts off leaves those untouched. */
  private routeAlerts(topic: sns.ITopic): void {
    // One role for every alert rule: publish to this topic and use its key, nothing else, assumable by EventBridge
    // for this account only.
    const publisher = new iam.Role(this, 'AlertPublisherRole', {
      description: 'EventBridge publishes Together AI alerts to the alert topic',
      assumedBy: new iam.ServicePrincipal('events.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
      }),
    });
    publisher.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['sns:Publish'], resources: [topic.topicArn] }),
    );
    topic.masterKey?.grant(publisher, 'kms:Decrypt', 'kms:GenerateDataKey');
    for (const type of EVENT_TYPES) {
      const alert = eventSpec(type).alert;
      if (!alert) continue;
      const rule = new events.Rule(this, `Alert${pascal(type)}`, {
        eventBus: this.eventBus,
        description: `Together AI ${type} events to the alert topic`,
        eventPattern: cdkPattern(alertPattern(type)!),
      });
      rule.addTarget(
        new DeadLetteredTarget(
          new RolePublishedTopic(topic, publisher, alertMessage(type, alert.advice)),
          this.deadLetterQueue,
          this.retryAttempts,
        ),
      );
    }
  }

  private alarm(
    topic: sns.ITopic,
    id: string,
    metric: cloudwatch.IMetric,
    threshold: number,
    description: string,
    evaluationPeriods = 1,
  ): void {
    const created = new cloudwatch.Alarm(this, id, {
      metric,
      threshold,
      evaluationPeriods,
      datapointsToAlarm: evaluationPeriods,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: description,
    });
    created.addAlarmAction(new cwActions.SnsAction(topic));
    this.alarms.push(created);
  }

  private createPollerAlarms(topic: sns.ITopic, poller: TogetherJobPoller): void {
    this.alarm(
      topic,
      'PollerErrorsAlarm',
      poller.function.metricErrors({ period: Duration.minutes(15), statistic: 'Sum' }),
      1,
      'The Together job poller crashed: check its logs. Outcomes are picked up by the next poll that works.',
    );
    // Outcomes held back for a few polls in a row, one alarm per cause so its message can name it. An alarm may
    // look back one day at most: a long interval gets fewer polls.
    const polls = Math.max(1, Math.min(POLLS_HELD_BACK, Math.floor(1440 / poller.interval.toMinutes())));
    const inARow = polls === 1 ? 'on a poll' : `on ${polls} polls in a row`;
    this.alarm(
      topic,
      'PollerStoppingAlarm',
      poller.metricPollErrors({ statistic: 'Maximum', period: poller.interval }),
      1,
      `The Together poller hit failures ${inARow}: a source (fine-tunes, batches, models) or a job kept failing, Together ` +
        'rejected the API key or was down, or our bus or table failed. The outcomes it concerns are held back ' +
        "and published once it works; the poller's `poll` log lines name what failed (`failures`, `reason`).",
      polls,
    );
    this.alarm(
      topic,
      'PollerOutOfTimeAlarm',
      poller.metricOutOfTime(),
      1,
      `The Together poller ran out of time ${inARow}: too many jobs to follow, or Together answering slowly. ` +
        'Terminal states are still published first; checkpoints and stall checks of some running jobs are late. ' +
        "Poll less often (more time per poll) or check Together's latency.",
      polls,
    );
    this.alarm(
      topic,
      'PollerSkippedAlarm',
      poller.metricPollSkipped(),
      1,
      `The Together poller skipped its poll ${inARow}: another poll held the lease. A poll holds it at most until ` +
        "its function's end plus 30 s, so this means polls overlap or the lease item is stuck: check the poller's " +
        'logs, and the item `poller#<scope>#lease` in the dedupe table. Nothing is polled meanwhile.',
      polls,
    );
    this.alarm(
      topic,
      'PollerListingIncompleteAlarm',
      poller.metricListingIncomplete({ statistic: 'Maximum', period: poller.interval }),
      1,
      'A Together listing showed fewer jobs than there are (evaluations: more than 100 of one status created ' +
        "since the last listing): outcomes of jobs no listing showed can be missing. The poll log's `incomplete` " +
        "names the source and statuses; check those jobs in Together's console. Fewer jobs at once keep it whole.",
    );
    this.alarm(
      topic,
      'PollerRateLimitedAlarm',
      poller.metricRateLimited(),
      1,
      `Together rate-limited the poller (HTTP 429) ${inARow}: outcomes are held back until it lets us through. ` +
        'Poll less often, or ask Together for a higher rate limit.',
      polls,
    );
  }

  private createAlarms(topic: sns.ITopic, rejectedThreshold: number): void {
    const alarm = (id: string, metric: cloudwatch.IMetric, threshold: number, description: string) =>
      this.alarm(topic, id, metric, threshold, description);
    const fiveMinutes = { period: Duration.minutes(5), statistic: 'Sum' };
    alarm(
      'VerifierErrorsAlarm',
      this.verifier.metricErrors(fiveMinutes),
      1,
      'The Together webhook verifier threw: events may be retried by Together. Check its logs.',
    );
    alarm(
      'ServerErrorsAlarm',
      this.httpApi.metricServerError(fiveMinutes),
      1,
      'The Together webhook endpoint answered 5xx: DynamoDB, EventBridge or Secrets Manager failed. Together retries.',
    );
    alarm(
      'DeadLetterAlarm',
      this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(5),
        statistic: 'Max',
      }),
      1,
      'Together events could not be delivered to a target: they wait in the dead-letter queue.',
    );
    alarm(
      'RejectedSignaturesAlarm',
      this.metricRejected(),
      rejectedThreshold,
      'Many Together webhooks failed signature checks: a rotated secret not yet shared, or forged requests.',
    );
  }
}

/** The alert topic as a rule target, published to with `role` (targets.SnsTopic would grant kms:GenerateDataKey*). */
class RolePublishedTopic implements events.IRuleTarget {
  constructor(
    private readonly topic: sns.ITopic,
    private readonly role: iam.IRole,
    private readonly message: events.RuleTargetInput,
  ) {}

  bind(): events.RuleTargetConfig {
    return { arn: this.topic.topicArn, input: this.message, role: this.role, targetResource: this.topic };
  }
}

/** Adds the construct's dead-letter queue and retry policy to a target that has none of its own. */
class DeadLetteredTarget implements events.IRuleTarget {
  constructor(
    private readonly inner: events.IRuleTarget,
    private readonly queue: sqs.IQueue,
    private readonly retryAttempts: number,
  ) {}

  bind(rule: events.IRule, id?: string): events.RuleTargetConfig {
    const config = this.inner.bind(rule, id);
    if (config.deadLetterConfig) return config;
    targets.addToDeadLetterQueueResourcePolicy(rule, this.queue);
    return {
      ...config,
      deadLetterConfig: { arn: this.queue.queueArn },
      retryPolicy: config.retryPolicy ?? {
        maximumRetryAttempts: this.retryAttempts,
        maximumEventAgeInSeconds: 86400,
      },
    };
  }
}

/** Readable alert text from the catalogue: what happened, which job or model, what to do. */
function alertMessage(type: TogetherEventType, advice: string): events.RuleTargetInput {
  const fields = Object.keys(EVENT_CATALOGUE[type].fields)
    .map((name) => `${name}: ${events.EventField.fromPath(`$.detail.data.${name}`)}`)
    .join('\n');
  return events.RuleTargetInput.fromMultilineText(
    `Together AI: ${EVENT_CATALOGUE[type].description}\n` +
      `event: ${type} (id ${events.EventField.fromPath('$.detail.id')})\n` +
      `${fields}\n` +
      `What to do: ${advice}`,
  );
}

/** lib/patterns.ts speaks EventBridge's JSON; CDK's EventPattern spells `detail-type` as `detailType`. */
function cdkPattern(pattern: EventPatternJson): events.EventPattern {
  const { 'detail-type': detailType, ...rest } = pattern as Record<string, unknown>;
  return { ...rest, detailType } as events.EventPattern;
}

const W = 'TogetherWebhooks';

function validateProps(props: TogetherWebhooksProps): void {
  const known = EVENT_TYPES.map(handlerProperty);
  for (const [name, list] of Object.entries(props.handlers ?? {})) {
    if (isCatalogueType(name))
      throw new Error(`TogetherWebhooks: handlers["${name}"] is now handlers.${handlerProperty(name)}`);
    if (!known.includes(name))
      throw new Error(`TogetherWebhooks: handlers has no property "${name}"; one of: ${known.join(', ')}`);
    if (list !== undefined && !Array.isArray(list)) {
      throw new Error(
        `TogetherWebhooks: handlers.${name} must be an array of rule targets, got ${typeof list}`,
      );
    }
  }
  if (props.archive === false && props.archiveRetention) {
    throw new Error(
      `TogetherWebhooks: archiveRetention is set (${props.archiveRetention.toHumanString()}) but archive is false`,
    );
  }
  checkNumber(W, 'throttlingRateLimit', props.throttlingRateLimit, 1, 10_000);
  checkNumber(W, 'throttlingBurstLimit', props.throttlingBurstLimit, 0, 5_000, true);
  checkNumber(W, 'memorySize', props.memorySize, 128, 10_240, true);
  checkNumber(W, 'reservedConcurrency', props.reservedConcurrency, 1, 10_000, true);
  checkNumber(W, 'targetRetryAttempts', props.targetRetryAttempts, 0, 185, true);
  checkNumber(
    W,
    'rejectedSignatureAlarmThreshold',
    props.rejectedSignatureAlarmThreshold,
    1,
    1_000_000,
    true,
  );
  checkDuration(W, 'timeout', props.timeout, Duration.seconds(1), Duration.seconds(29));
  checkDuration(W, 'dedupeRetention', props.dedupeRetention, Duration.hours(1), Duration.days(365));
  if (props.domainName !== undefined && !props.certificate) {
    throw new Error(`TogetherWebhooks: domainName "${props.domainName}" needs a certificate`);
  }
  if (props.certificate && props.domainName === undefined) {
    throw new Error('TogetherWebhooks: certificate is set but domainName is not');
  }
  if (props.secretJsonField !== undefined && props.secretJsonField.trim() === '') {
    throw new Error('TogetherWebhooks: secretJsonField must not be empty, got ""');
  }
  if (props.alerts === false && props.alertTopic) {
    throw new Error('TogetherWebhooks: alertTopic is set but alerts is false');
  }
}
