import {
  App,
  aws_lambda as lambda,
  aws_secretsmanager as secretsmanager,
  Duration,
  Stack,
} from 'aws-cdk-lib';
import {
  TogetherAutoDeploy,
  RetryRule,
  TogetherBatchResults,
  TogetherFineTuneRetry,
  TogetherJobPoller,
  TogetherModelAliases,
  TogetherTrainingMonitor,
  TogetherWebhookRegistration,
  TogetherWebhooks,
} from '../../lib';

// Props as plain JavaScript (and so Python, through jsii) hands them over: plain objects, no compiler between the
// caller and the constructor, so a prop can be missing, or of the wrong kind. Each case is an input and the whole
// message it must get (test/lib/plain-js-props.test.ts).

/** Anything at all, as a JavaScript caller may pass it. */
type Loose = never;

/** What a case is called with: a fresh stack, a secret, a function, and a TogetherWebhooks with a poller. */
export interface Fixture {
  readonly stack: Stack;
  readonly apiKey: secretsmanager.ISecret;
  readonly fn: lambda.Function;
  /** A receiver with a poller (made on first use). */
  hooks(): TogetherWebhooks;
}

export interface PlainJsCase {
  /** The construct called. */
  readonly construct: string;
  /** The input, as the report's table writes it. */
  readonly input: string;
  readonly call: (f: Fixture) => unknown;
  /** The whole message expected. */
  readonly message: string;
}

export function fixture(): Fixture {
  const app = new App({ builtinCloudFormationValidation: false });
  const stack = new Stack(app, 'Test', { env: { account: '111111111111', region: 'us-east-1' } });
  const apiKey = secretsmanager.Secret.fromSecretCompleteArn(
    stack,
    'ApiKey',
    'arn:aws:secretsmanager:us-east-1:111111111111:secret:together/api-key-AbCdEf',
  );
  const fn = new lambda.Function(stack, 'Fn', {
    runtime: lambda.Runtime.NODEJS_24_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('exports.handler = async () => {}'),
  });
  let hooks: TogetherWebhooks | undefined;
  return {
    stack,
    apiKey,
    fn,
    hooks: () => (hooks ??= new TogetherWebhooks(stack, 'Hooks', { poller: { apiKey } })),
  };
}

/** One case: the input as the table writes it, the props, the message after `<construct>: `. */
type Row = readonly [input: string, props: (f: Fixture) => unknown, message: string];

/** The cases of one construct, each calling it with its row's props. */
function casesOf(construct: string, make: (f: Fixture, props: Loose) => unknown, rows: Row[]): PlainJsCase[] {
  return rows.map(([input, props, message]) => ({
    construct,
    input,
    call: (f) => make(f, props(f) as Loose),
    message: `${construct}: ${message}`,
  }));
}

/** `prop` set to `value` over `base`: refused as not of kind `expected`, `value` shown as `shown`. */
function wrongKind(
  base: (f: Fixture) => object,
  prop: string,
  value: unknown,
  expected: string,
  shown: string,
): Row {
  return [
    `${prop}: ${shown}`,
    (f) => ({ ...base(f), [prop]: value }),
    `${prop} must be ${expected}, got ${shown}`,
  ];
}

// What each kind of prop is called in the messages.
const SECRET = 'an ISecret (e.g. Secret.fromSecretNameV2(scope, id, name))';
const DURATION = 'a Duration (e.g. Duration.minutes(5))';
const TABLE = 'an ITable (e.g. Table.fromTableName(scope, id, name))';
const BUS = 'an IEventBus (e.g. EventBus.fromEventBusName(scope, id, name))';
const QUEUE = 'an IQueue (e.g. Queue.fromQueueArn(scope, id, arn))';
const TOPIC = 'an ITopic (e.g. Topic.fromTopicArn(scope, id, arn))';
const CERTIFICATE = 'an ICertificate (e.g. Certificate.fromCertificateArn(scope, id, arn))';
const BUCKET = 'an IBucket (e.g. Bucket.fromBucketName(scope, id, name))';
const RETENTION = 'a RetentionDays (e.g. RetentionDays.ONE_MONTH)';
const WEBHOOKS = 'a TogetherWebhooks construct';
const TARGET = 'an IRuleTarget (e.g. new targets.LambdaFunction(fn))';
const SCHEME = 'a SignatureScheme (SignatureScheme.togetherHmac() or SignatureScheme.standardWebhooks())';

const none = () => ({});
/** A prop of TogetherWebhooks of the wrong kind. */
const hooksProp = (prop: string, value: unknown, expected: string, shown: string): Row =>
  wrongKind(none, prop, value, expected, shown);
/** A poller option of the wrong kind, inside TogetherWebhooks. */
const pollerOption = (prop: string, value: unknown, expected: string, shown: string): Row => [
  `poller: { apiKey, ${prop}: ${shown} }`,
  (f) => ({ poller: { apiKey: f.apiKey, [prop]: value } }),
  `poller.${prop} must be ${expected}, got ${shown}`,
];
const registrationOption = (prop: string, value: unknown, expected: string, shown: string): Row => [
  `registration: { apiKey, ${prop}: ${shown} }`,
  (f) => ({ registration: { apiKey: f.apiKey, [prop]: value } }),
  `registration.${prop} must be ${expected}, got ${shown}`,
];

const webhooksCases = casesOf(
  'TogetherWebhooks',
  (f, props) => new TogetherWebhooks(f.stack, 'Hooks', props),
  [
    ['props: []', () => [], 'props must be an object (TogetherWebhooksProps), got []'],
    ['props: "hooks"', () => 'hooks', 'props must be an object (TogetherWebhooksProps), got "hooks"'],
    ['poller: {}', () => ({ poller: {} }), `poller.apiKey is required: ${SECRET}, got undefined`],
    ['poller: []', () => ({ poller: [] }), 'poller must be an object (PollerOptions), got []'],
    [
      'poller: null',
      () => ({ poller: null }),
      'poller must be an object (PollerOptions) or left out, got null',
    ],
    [
      'poller: { api_key: secret }',
      (f) => ({ poller: { api_key: f.apiKey } }),
      `poller.apiKey is required: ${SECRET}, got undefined (poller has "api_key": the property is apiKey)`,
    ],
    [
      "poller: { apiKey, api_base_url: 'https://api.example.com' }",
      (f) => ({ poller: { apiKey: f.apiKey, api_base_url: 'https://api.example.com' } }),
      'poller.apiBaseUrl is not set (poller has "api_base_url": the property is apiBaseUrl)',
    ],
    [
      "poller: { apiKey: 'together/api-key' }",
      () => ({ poller: { apiKey: 'together/api-key' } }),
      `poller.apiKey must be ${SECRET}, got "together/api-key"`,
    ],
    pollerOption('interval', 60, DURATION, '60'),
    pollerOption('interval', { seconds: 30 }, DURATION, '{ seconds: 30 }'),
    [
      'poller: { apiKey, interval: Duration.seconds(30) }',
      (f) => ({ poller: { apiKey: f.apiKey, interval: Duration.seconds(30) } }),
      'poller.interval must be whole minutes from 1 to 1440, got 30 seconds',
    ],
    pollerOption('watchModels', 'meta/llama', 'a list of strings', '"meta/llama"'),
    [
      "poller: { apiKey, watchModels: ['a', 5] }",
      (f) => ({ poller: { apiKey: f.apiKey, watchModels: ['a', 5] } }),
      'poller.watchModels[1] must be a string, got 5',
    ],
    pollerOption('modelDeprecations', ['a'], 'an object of ModelDeprecationInfo by model id', '["a"]'),
    [
      "poller: { apiKey, watchModels: ['a'], modelDeprecations: { a: '2027-01-01' } }",
      (f) => ({ poller: { apiKey: f.apiKey, watchModels: ['a'], modelDeprecations: { a: '2027-01-01' } } }),
      'poller.modelDeprecations["a"] must be an object (ModelDeprecationInfo), got "2027-01-01"',
    ],
    pollerOption('evaluations', 'yes', 'a boolean', '"yes"'),
    pollerOption('memorySize', '512', 'a number', '"512"'),
    pollerOption('fastFollow', 10, DURATION, '10'),
    pollerOption('fastFollowRequestsPerMinute', '60', 'a number', '"60"'),
    pollerOption('tracking', 1, 'a boolean', '1'),
    pollerOption('trackingExpiry', '24h', DURATION, '"24h"'),
    [
      'poller: { apiKey, trackingExpiry: Duration.minutes(5) }',
      (f) => ({ poller: { apiKey: f.apiKey, trackingExpiry: Duration.minutes(5) } }),
      'poller.trackingExpiry must be whole minutes from 10 minutes to 30 days, got 5 minutes',
    ],
    pollerOption('stallAfter', '6h', DURATION, '"6h"'),
    pollerOption('apiBaseUrl', 5, 'a string', '5'),
    [
      'registration: {}',
      () => ({ registration: {} }),
      `registration.apiKey is required: ${SECRET}, got undefined`,
    ],
    [
      'registration: { apiKey: fn }',
      (f) => ({ registration: { apiKey: f.fn } }),
      `registration.apiKey must be ${SECRET}, got a Function at Test/Fn`,
    ],
    registrationOption('events', 'batch.done', 'a list of strings', '"batch.done"'),
    registrationOption('required', 'true', 'a boolean', '"true"'),
    registrationOption('secretVersion', 2, 'a string', '2'),
    [
      "secret: 'x'.repeat(500)",
      () => ({ secret: 'x'.repeat(500) }),
      `secret must be ${SECRET}, got "${'x'.repeat(50)}..."`,
    ],
    hooksProp('secretJsonField', 5, 'a string', '5'),
    hooksProp('signatureScheme', 'standard-webhooks', SCHEME, '"standard-webhooks"'),
    hooksProp('secretCacheTtl', 300, DURATION, '300'),
    hooksProp('table', 'dedupe', TABLE, '"dedupe"'),
    hooksProp('removalPolicy', 'keep', 'a RemovalPolicy (e.g. RemovalPolicy.RETAIN)', '"keep"'),
    hooksProp('dedupeRetention', 7, DURATION, '7'),
    hooksProp('eventBus', 'default', BUS, '"default"'),
    hooksProp('archiveRetention', 30, DURATION, '30'),
    hooksProp('archive', 'false', 'a boolean', '"false"'),
    hooksProp('handlers', [], 'an object (TogetherEventHandlers)', '[]'),
    [
      'handlers: { batchDone: fn }',
      (f) => ({ handlers: { batchDone: f.fn } }),
      'handlers.batchDone must be a list of IRuleTarget (e.g. [new targets.LambdaFunction(fn)]), got a Function at Test/Fn',
    ],
    [
      'handlers: { batchDone: [fn] }',
      (f) => ({ handlers: { batchDone: [f.fn] } }),
      `handlers.batchDone[0] must be ${TARGET}, got a Function at Test/Fn`,
    ],
    hooksProp('deadLetterQueue', 'arn:aws:sqs:us-east-1:1:dlq', QUEUE, '"arn:aws:sqs:us-east-1:1:dlq"'),
    hooksProp('targetRetryAttempts', '8', 'a number', '"8"'),
    hooksProp('alerts', 0, 'a boolean', '0'),
    hooksProp('alertTopic', 'arn:aws:sns:us-east-1:1:alerts', TOPIC, '"arn:aws:sns:us-east-1:1:alerts"'),
    hooksProp('rejectedSignatureAlarmThreshold', '10', 'a number', '"10"'),
    hooksProp('throttlingRateLimit', '50', 'a number', '"50"'),
    [
      'throttlingRateLimit: null',
      () => ({ throttlingRateLimit: null }),
      'throttlingRateLimit must be a number or left out, got null',
    ],
    hooksProp('throttlingBurstLimit', [100], 'a number', '[100]'),
    hooksProp('logRetention', 'one month', RETENTION, '"one month"'),
    hooksProp('domainName', 5, 'a string', '5'),
    wrongKind(
      () => ({ domainName: 'hooks.example.com' }),
      'certificate',
      'arn:aws:acm:x',
      CERTIFICATE,
      '"arn:aws:acm:x"',
    ),
    hooksProp('timeout', 10, DURATION, '10'),
    hooksProp('memorySize', '256', 'a number', '"256"'),
    hooksProp('reservedConcurrency', true, 'a number', 'true'),
  ],
);

const onEventCase: PlainJsCase = {
  construct: 'TogetherWebhooks',
  input: "onEvent('batch.done', fn)",
  call: (f) => new TogetherWebhooks(f.stack, 'Hooks').onEvent('batch.done', f.fn as Loose),
  message: `TogetherWebhooks: onEvent's targets[0] must be ${TARGET}, got a Function at Test/Fn`,
};

const completePoller = (f: Fixture) => ({
  apiKey: f.apiKey,
  table: f.hooks().table,
  eventBus: f.hooks().eventBus,
  metricsNamespace: 'Test',
});
const pollerCases = casesOf(
  'TogetherJobPoller',
  (f, props) => new TogetherJobPoller(f.stack, 'Poller', props),
  [
    ['no props', () => undefined, 'props is required: an object (TogetherJobPollerProps), got undefined'],
    ['{}', none, `apiKey is required: ${SECRET}, got undefined`],
    ['{ apiKey } (no table)', (f) => ({ apiKey: f.apiKey }), `table is required: ${TABLE}, got undefined`],
    [
      'no metricsNamespace',
      (f) => ({ ...completePoller(f), metricsNamespace: undefined }),
      'metricsNamespace is required: a string, got undefined',
    ],
    wrongKind(completePoller, 'table', 'dedupe', TABLE, '"dedupe"'),
    wrongKind(completePoller, 'eventBus', {}, BUS, '{}'),
    wrongKind(completePoller, 'claimScope', 7, 'a string', '7'),
    wrongKind(completePoller, 'alertTopic', 'alerts', TOPIC, '"alerts"'),
    wrongKind(completePoller, 'dedupeRetention', 7, DURATION, '7'),
    wrongKind(completePoller, 'logRetention', 0.5, RETENTION, '0.5'),
    wrongKind(completePoller, 'interval', 60, DURATION, '60'),
  ],
);

const completeRegistration = (f: Fixture) => ({
  apiKey: f.apiKey,
  signingSecret: f.apiKey,
  webhookUrl: 'https://example.com/hook',
});
const registrationCases = casesOf(
  'TogetherWebhookRegistration',
  (f, props) => new TogetherWebhookRegistration(f.stack, 'Registration', props),
  [
    [
      'no props',
      () => undefined,
      'props is required: an object (TogetherWebhookRegistrationProps), got undefined',
    ],
    ['{}', none, `apiKey is required: ${SECRET}, got undefined`],
    [
      'no webhookUrl',
      (f) => ({ ...completeRegistration(f), webhookUrl: undefined }),
      'webhookUrl is required: a string, got undefined',
    ],
    wrongKind(completeRegistration, 'signingSecret', 'whsec_abc', SECRET, '"whsec_abc"'),
    wrongKind(completeRegistration, 'signingSecretJsonField', 1, 'a string', '1'),
    wrongKind(completeRegistration, 'apiKeyJsonField', {}, 'a string', '{}'),
    [
      "events: ['batch.done', null]",
      (f) => ({ ...completeRegistration(f), events: ['batch.done', null] }),
      'events[1] must be a string, got null',
    ],
  ],
);

const deploy = (f: Fixture) => ({ webhooks: f.hooks(), hardware: '1x_nvidia_h100_80gb_sxm' });
const autoDeployCases = casesOf(
  'TogetherAutoDeploy',
  (f, props) => new TogetherAutoDeploy(f.stack, 'AutoDeploy', props),
  [
    ['no props', () => undefined, 'props is required: an object (TogetherAutoDeployProps), got undefined'],
    ['{}', none, `webhooks is required: ${WEBHOOKS}, got undefined`],
    [
      '{ webhooks } (no hardware)',
      (f) => ({ webhooks: f.hooks() }),
      'hardware is required: a string, got undefined',
    ],
    wrongKind(deploy, 'webhooks', {}, WEBHOOKS, '{}'),
    [
      'webhooks: stack',
      (f) => ({ ...deploy(f), webhooks: f.stack }),
      `webhooks must be ${WEBHOOKS}, got a Stack at Test`,
    ],
    wrongKind(deploy, 'minReplicas', '1', 'a number', '"1"'),
    wrongKind(deploy, 'maxReplicas', '3', 'a number', '"3"'),
    wrongKind(deploy, 'inactiveTimeout', 60, DURATION, '60'),
    wrongKind(deploy, 'maxEvalLoss', '0.5', 'a number', '"0.5"'),
    wrongKind(deploy, 'modelNamePrefix', ['acme/'], 'a string', '["acme/"]'),
    wrongKind(deploy, 'apiKey', 'together/api-key', SECRET, '"together/api-key"'),
    wrongKind(deploy, 'logRetention', 31, RETENTION, '31'),
  ],
);

const ALIASES = 'a list of ModelAlias objects';
const aliases = (f: Fixture) => ({ webhooks: f.hooks(), aliases: [{ name: 'chat', model: 'meta/llama' }] });
const aliasesCases = casesOf(
  'TogetherModelAliases',
  (f, props) => new TogetherModelAliases(f.stack, 'Aliases', props),
  [
    ['{}', none, `webhooks is required: ${WEBHOOKS}, got undefined`],
    [
      '{ webhooks } (no aliases)',
      (f) => ({ webhooks: f.hooks() }),
      `aliases is required: ${ALIASES}, got undefined`,
    ],
    wrongKind(aliases, 'aliases', { chat: 'meta/llama' }, ALIASES, '{ chat: "meta/llama" }'),
    wrongKind(aliases, 'parameterPrefix', 5, 'a string', '5'),
    wrongKind(aliases, 'switchOnDeprecation', 'yes', 'a boolean', '"yes"'),
    [
      "aliases: ['chat']",
      (f) => ({ ...aliases(f), aliases: ['chat'] }),
      'aliases[0] must be an object (ModelAlias), got "chat"',
    ],
    [
      "aliases: [{ name: 'chat' }]",
      (f) => ({ ...aliases(f), aliases: [{ name: 'chat' }] }),
      'aliases[0].model is required: a string, got undefined',
    ],
    [
      "aliases: [{ name: 'chat', model: 'm', followDeploymentsOf: true }]",
      (f) => ({ ...aliases(f), aliases: [{ name: 'chat', model: 'm', followDeploymentsOf: true }] }),
      'aliases[0].followDeploymentsOf must be a string, got true',
    ],
  ],
);

const batches = (f: Fixture) => ({ webhooks: f.hooks() });
const batchCases = casesOf(
  'TogetherBatchResults',
  (f, props) => new TogetherBatchResults(f.stack, 'Batches', props),
  [
    ['{}', none, `webhooks is required: ${WEBHOOKS}, got undefined`],
    wrongKind(batches, 'bucket', 'my-bucket', BUCKET, '"my-bucket"'),
    wrongKind(batches, 'keyPrefix', 5, 'a string', '5'),
    wrongKind(batches, 'apiKey', 'together/api-key', SECRET, '"together/api-key"'),
    wrongKind(batches, 'timeout', 900, DURATION, '900'),
    wrongKind(batches, 'memorySize', '512', 'a number', '"512"'),
    wrongKind(batches, 'apiBaseUrl', 5, 'a string', '5'),
  ],
);

const monitor = (f: Fixture) => ({ webhooks: f.hooks() });
const monitorCases = casesOf(
  'TogetherTrainingMonitor',
  (f, props) => new TogetherTrainingMonitor(f.stack, 'Monitor', props),
  [
    [
      'no props',
      () => undefined,
      'props is required: an object (TogetherTrainingMonitorProps), got undefined',
    ],
    ['{}', none, `webhooks is required: ${WEBHOOKS}, got undefined`],
    wrongKind(monitor, 'dashboard', 'no', 'a boolean', '"no"'),
    wrongKind(monitor, 'dashboardName', 5, 'a string', '5'),
    wrongKind(monitor, 'logRetention', 'week', RETENTION, '"week"'),
  ],
);

const RULES = 'a list of RetryRule';
const RULE = 'a RetryRule (e.g. RetryRule.halveBatchSize({ whenErrorMatches: "out of memory" }))';
const retries = (f: Fixture) => ({ webhooks: f.hooks() });
const retryCases = casesOf(
  'TogetherFineTuneRetry',
  (f, props) => new TogetherFineTuneRetry(f.stack, 'Retry', props),
  [
    ['no props', () => undefined, 'props is required: an object (TogetherFineTuneRetryProps), got undefined'],
    ['{}', none, `webhooks is required: ${WEBHOOKS}, got undefined`],
    wrongKind(retries, 'rules', 'out of memory', RULES, '"out of memory"'),
    [
      "rules: [{ whenErrorMatches: 'out of memory' }]",
      (f) => ({ ...retries(f), rules: [{ whenErrorMatches: 'out of memory' }] }),
      `rules[0] must be ${RULE}, got { whenErrorMatches: "out of memory" }`,
    ],
    [
      'rules: [RetryRule, null]',
      (f) => ({ ...retries(f), rules: [RetryRule.sameParameters({ whenErrorMatches: 'internal' }), null] }),
      `rules[1] must be ${RULE}, got null`,
    ],
    wrongKind(retries, 'maxAttempts', '2', 'a number', '"2"'),
    wrongKind(retries, 'apiKey', 'together/api-key', SECRET, '"together/api-key"'),
    wrongKind(retries, 'apiKeyJsonField', 1, 'a string', '1'),
    wrongKind(retries, 'logRetention', 31, RETENTION, '31'),
  ],
);

/** Every case, construct by construct. */
export const PLAIN_JS_CASES: readonly PlainJsCase[] = [
  ...webhooksCases,
  onEventCase,
  ...pollerCases,
  ...registrationCases,
  ...autoDeployCases,
  ...retryCases,
  ...aliasesCases,
  ...batchCases,
  ...monitorCases,
];
