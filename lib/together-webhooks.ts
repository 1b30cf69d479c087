import {
  aws_apigatewayv2 as apigwv2,
  aws_apigatewayv2_integrations as integrations,
  aws_certificatemanager as acm,
  aws_cloudwatch as cloudwatch,
  aws_dynamodb as dynamodb,
  aws_events as events,
  aws_eventschemas as eventschemas,
  aws_iam as iam,
  aws_lambda as lambda,
  aws_logs as logs,
  aws_secretsmanager as secretsmanager,
  aws_sns as sns,
  aws_sqs as sqs,
  Duration,
  RemovalPolicy,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { createAlertTopic, pollerAlarms, routeAlerts, webhookAlarms } from './alerts';
import { bundledFunction, grantClaimPath } from './assets';
import { legacyOutcomeClaimPrefixes, outcomeClaimPrefix } from './claim-keys';
import * as contract from './contract';
import {
  DEFAULT_METRICS_NAMESPACE,
  DEFAULTS,
  environmentOf,
  VerifierEnvironment,
  VerifierMetric,
} from './contract';
import { EVENT_SOURCE, EVENT_TYPES, handlerProperty, isCatalogueType, WEBHOOK_EVENT_TYPES } from './events';
import { libraryMetric } from './metrics';
import { pascal, routePattern } from './patterns';
import { PollerOptions, TogetherJobPoller } from './poller';
import { RegistrationOptions, TogetherWebhookRegistration } from './registration';
import { createSchemaRegistry } from './schema-registry';
import { SignatureScheme } from './signature-scheme';
import { cdkPattern, DeadLetteredTarget } from './targets';
import { TogetherEventHandlers, TogetherWebhooksProps } from './together-webhooks-props';
import {
  checkDuration,
  checkEventType,
  checkKind,
  checkNumber,
  checkPollerOptions,
  checkProps,
  checkRegistrationOptions,
  KIND,
  listOf,
  POLLER_OPTIONS,
  REGISTRATION_OPTIONS,
  Shape,
  struct,
} from './validation';

/** The path Together posts to. */
export const WEBHOOK_PATH = contract.WEBHOOK_PATH;
/** The namespace of the metrics the verifier emits (CloudWatch embedded metric format). */
export const METRICS_NAMESPACE = DEFAULT_METRICS_NAMESPACE;
/** EventBridge takes at most five targets a rule. */
const MAX_TARGETS_PER_RULE = 5;

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
  /** The schema registry, when `schemas` is on: one schema per event type, named `together.ai@<Type>`. */
  public readonly schemaRegistry?: eventschemas.CfnRegistry;
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
    this.dedupeRetention = props.dedupeRetention ?? Duration.days(DEFAULTS.retentionDays);
    this.claimScope = this.node.addr;
    const logRetention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;

    // Where events are verified, remembered and published.
    this.secret = props.secret ?? this.createSigningSecret(props.secretJsonField);
    this.table = props.table ?? this.createTable(props.removalPolicy ?? RemovalPolicy.RETAIN);
    this.eventBus = props.eventBus ?? new events.EventBus(this, 'Bus');
    if (props.archive ?? true) this.archive = this.createArchive(props.archiveRetention);
    if (props.schemas) this.schemaRegistry = createSchemaRegistry(this);
    this.deadLetterQueue = props.deadLetterQueue ?? this.createDeadLetterQueue();
    this.verifier = this.createVerifier(props, logRetention);

    // The endpoint Together posts to.
    this.httpApi = this.createHttpApi(props.domainName !== undefined);
    if (props.domainName) this.domainName = this.createDomain(props.domainName, props.certificate!);
    this.stage = this.createStage(props, logRetention);
    this.webhookUrl = props.domainName
      ? `https://${props.domainName}${WEBHOOK_PATH}`
      : `${this.httpApi.apiEndpoint}${WEBHOOK_PATH}`;

    // Where events go: alerts, then the user's targets.
    if (props.alerts ?? true) {
      this.alertTopic = props.alertTopic ?? createAlertTopic(this);
      routeAlerts(this, this.alertTopic, {
        eventBus: this.eventBus,
        deadLetterQueue: this.deadLetterQueue,
        retryAttempts: this.retryAttempts,
      });
      this.alarms.push(...this.createAlarms(this.alertTopic, props.rejectedSignatureAlarmThreshold ?? 10));
    }
    this.routeHandlers(props.handlers);

    // The other ways in and out: polling Together, registering with it.
    if (props.poller) {
      this.poller = this.createPoller(props.poller, props, logRetention);
      if (this.alertTopic) this.alarms.push(...pollerAlarms(this, this.alertTopic, this.poller));
    }
    if (props.registration) {
      this.registration = this.createRegistration(props.registration, props.secretJsonField, logRetention);
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
    ruleTargets.forEach((target, i) => checkKind(W, `onEvent's targets[${i}]`, target, KIND.ruleTarget));
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
    return libraryMetric(
      { metricName, namespace: METRICS_NAMESPACE, dimensionsMap: { Service: this.verifier.functionName } },
      options,
    );
  }

  /** One of the verifier's own metrics, by a name it emits (lib/contract.ts). */
  private verifierMetric(name: VerifierMetric, options?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(name, options);
  }

  /** Webhook requests that reached the verifier. */
  public metricReceived(options?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.verifierMetric('Received', options);
  }

  /** Requests refused for a missing or wrong signature. */
  public metricRejected(options?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.verifierMetric('Rejected', options);
  }

  /** Redeliveries of events already published. */
  public metricDuplicate(options?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.verifierMetric('Duplicate', options);
  }

  /** Events put on the bus. */
  public metricPublished(options?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.verifierMetric('Published', options);
  }

  /** A generated 48-character secret; with `jsonField`, that field of a JSON SecretString. */
  private createSigningSecret(jsonField: string | undefined): secretsmanager.Secret {
    return new secretsmanager.Secret(this, 'SigningSecret', {
      description: 'Signing secret for Together AI webhooks',
      generateSecretString: {
        passwordLength: 48,
        excludePunctuation: true,
        // With secretJsonField, the secret the verifier reads is that field of a JSON SecretString.
        ...(jsonField ? { secretStringTemplate: '{}', generateStringKey: jsonField } : {}),
      },
    });
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

  /** Every Together event on the bus, kept for replay. */
  private createArchive(retention: Duration | undefined): events.Archive {
    return new events.Archive(this, 'Archive', {
      sourceEventBus: this.eventBus,
      eventPattern: { source: [EVENT_SOURCE] },
      retention: retention ?? Duration.days(30),
      description: 'Together AI events, for replay',
    });
  }

  private createDeadLetterQueue(): sqs.Queue {
    return new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
  }

  /** The verifier, allowed exactly what it calls. */
  private createVerifier(props: TogetherWebhooksProps, logRetention: logs.RetentionDays): lambda.Function {
    const verifier = bundledFunction(this, 'Verifier', {
      handler: 'verifier',
      description: 'Verifies Together AI webhooks and publishes them to EventBridge exactly once',
      timeout: props.timeout ?? Duration.seconds(10),
      memorySize: props.memorySize ?? 256,
      reservedConcurrentExecutions: props.reservedConcurrency,
      logRetention,
      logGroupId: 'VerifierLogs',
      tracing: props.tracing,
      environment: environmentOf<VerifierEnvironment>({
        SECRET_ARN: this.secret.secretArn,
        SECRET_JSON_FIELD: props.secretJsonField || undefined,
        SIGNATURE_SCHEME: (props.signatureScheme ?? SignatureScheme.togetherHmac()).name,
        SECRET_CACHE_TTL_SECONDS: String(
          (props.secretCacheTtl ?? Duration.seconds(DEFAULTS.secretCacheTtlSeconds)).toSeconds(),
        ),
        TABLE_NAME: this.table.tableName,
        CLAIM_SCOPE: this.claimScope,
        EVENT_BUS_NAME: this.eventBus.eventBusName,
        RETENTION_DAYS: String(this.dedupeRetention.toDays({ integral: false })),
        METRICS_NAMESPACE,
      }),
    });
    // Exactly what the verifier calls: its secret, its own claims in its table (and, read only, the unscoped claims
    // of the release before, for types Together sends), its bus. Nothing else.
    this.secret.grantRead(verifier);
    grantClaimPath(verifier, this.table, this.eventBus, {
      prefixes: [outcomeClaimPrefix(this.claimScope)],
      readOnlyPrefixes: legacyOutcomeClaimPrefixes(WEBHOOK_EVENT_TYPES),
    });
    return verifier;
  }

  /** The HTTP API with its one route, POST /webhooks/together to the verifier. */
  private createHttpApi(customDomain: boolean): apigwv2.HttpApi {
    const httpApi = new apigwv2.HttpApi(this, 'Api', {
      description: 'Together AI webhook receiver',
      createDefaultStage: false,
      // With a custom domain, the execute-api URL would be a second way in that bypasses it.
      disableExecuteApiEndpoint: customDomain ? true : undefined,
    });
    httpApi.addRoutes({
      path: WEBHOOK_PATH,
      methods: [apigwv2.HttpMethod.POST],
      integration: new integrations.HttpLambdaIntegration('Verify', this.verifier),
    });
    return httpApi;
  }

  private createDomain(domainName: string, certificate: acm.ICertificate): apigwv2.DomainName {
    return new apigwv2.DomainName(this, 'Domain', { domainName, certificate });
  }

  /** The `$default` stage: throttled, access-logged, mapped to the custom domain if any. */
  private createStage(props: TogetherWebhooksProps, logRetention: logs.RetentionDays): apigwv2.HttpStage {
    const accessLogs = new logs.LogGroup(this, 'AccessLogs', {
      retention: logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    return new apigwv2.HttpStage(this, 'Stage', {
      httpApi: this.httpApi,
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: props.throttlingRateLimit ?? 50, burstLimit: props.throttlingBurstLimit ?? 100 },
      accessLogSettings: { destination: new apigwv2.LogGroupLogDestination(accessLogs) },
      domainMapping: this.domainName ? { domainName: this.domainName } : undefined,
    });
  }

  /** The receiver's alarms (lib/alerts.ts). */
  private createAlarms(topic: sns.ITopic, rejectedThreshold: number): cloudwatch.Alarm[] {
    return webhookAlarms(this, topic, {
      verifier: this.verifier,
      httpApi: this.httpApi,
      deadLetterQueue: this.deadLetterQueue,
      rejected: this.metricRejected(),
      rejectedThreshold,
    });
  }

  /** The targets given in props, in catalogue order. */
  private routeHandlers(handlers: TogetherEventHandlers | undefined): void {
    for (const type of EVENT_TYPES) {
      const list = (handlers as Record<string, events.IRuleTarget[] | undefined> | undefined)?.[
        handlerProperty(type)
      ];
      if (list?.length) this.onEvent(type, ...list);
    }
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

  /** The poller, on this construct's table, bus, claims and alert topic. */
  private createPoller(
    options: PollerOptions,
    props: TogetherWebhooksProps,
    logRetention: logs.RetentionDays,
  ): TogetherJobPoller {
    return new TogetherJobPoller(this, 'Poller', {
      ...options,
      table: this.table,
      eventBus: this.eventBus,
      claimScope: this.claimScope,
      alertTopic: this.alertTopic,
      dedupeRetention: props.dedupeRetention,
      logRetention,
      metricsNamespace: METRICS_NAMESPACE,
      tracing: props.tracing,
    });
  }

  /** The registration of this endpoint and its secret with Together. */
  private createRegistration(
    options: RegistrationOptions,
    secretJsonField: string | undefined,
    logRetention: logs.RetentionDays,
  ): TogetherWebhookRegistration {
    return new TogetherWebhookRegistration(this, 'Registration', {
      ...options,
      webhookUrl: this.webhookUrl,
      signingSecret: this.secret,
      signingSecretJsonField: secretJsonField,
      logRetention,
    });
  }
}

const W = 'TogetherWebhooks';

/** One list of rule targets per catalogue type (the test of TogetherEventHandlers keeps them one per type). */
const HANDLERS = Object.fromEntries(
  EVENT_TYPES.map((type) => [
    handlerProperty(type),
    listOf('a list of IRuleTarget (e.g. [new targets.LambdaFunction(fn)])', KIND.ruleTarget),
  ]),
) as Shape<TogetherEventHandlers>;

/** The kind of every prop. */
const PROPS: Shape<TogetherWebhooksProps> = {
  secret: KIND.secret,
  secretJsonField: KIND.string,
  signatureScheme: KIND.signatureScheme,
  secretCacheTtl: KIND.duration,
  table: KIND.table,
  removalPolicy: KIND.removalPolicy,
  dedupeRetention: KIND.duration,
  eventBus: KIND.eventBus,
  archiveRetention: KIND.duration,
  archive: KIND.boolean,
  schemas: KIND.boolean,
  tracing: KIND.boolean,
  handlers: struct('TogetherEventHandlers', HANDLERS),
  deadLetterQueue: KIND.queue,
  targetRetryAttempts: KIND.number,
  alerts: KIND.boolean,
  alertTopic: KIND.topic,
  rejectedSignatureAlarmThreshold: KIND.number,
  throttlingRateLimit: KIND.number,
  throttlingBurstLimit: KIND.number,
  logRetention: KIND.logRetention,
  domainName: KIND.string,
  certificate: KIND.certificate,
  registration: struct('RegistrationOptions', REGISTRATION_OPTIONS),
  poller: struct('PollerOptions', POLLER_OPTIONS),
  timeout: KIND.duration,
  memorySize: KIND.number,
  reservedConcurrency: KIND.number,
};

/** Refuses props that cannot work, naming the prop and the value received: first each kind, then the values. */
function validateProps(props: TogetherWebhooksProps): void {
  checkProps(W, props, 'TogetherWebhooksProps', PROPS);
  const known = EVENT_TYPES.map(handlerProperty);
  for (const name of Object.keys(props.handlers ?? {})) {
    if (isCatalogueType(name))
      throw new Error(`TogetherWebhooks: handlers["${name}"] is now handlers.${handlerProperty(name)}`);
    if (!known.includes(name))
      throw new Error(`TogetherWebhooks: handlers has no property "${name}"; one of: ${known.join(', ')}`);
  }
  if (props.poller) checkPollerOptions(W, 'poller', props.poller);
  if (props.registration) checkRegistrationOptions(W, 'registration', props.registration);
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
