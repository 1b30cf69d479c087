import { App, aws_secretsmanager as secretsmanager, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { PollerOptions, TogetherWebhooks, TogetherWebhooksProps } from '../../lib';
import { actionsOf, functionStatements, resourcesFor } from '../support/iam';

const API_KEY_ARN = 'arn:aws:secretsmanager:us-east-1:111111111111:secret:together/api-key-AbCdEf';

function synth(poller: Partial<PollerOptions> = {}, props: Partial<TogetherWebhooksProps> = {}) {
  const app = new App({ builtinCloudFormationValidation: false });
  const stack = new Stack(app, 'Poll', { env: { account: '111111111111', region: 'us-east-1' } });
  const apiKey = secretsmanager.Secret.fromSecretCompleteArn(stack, 'ApiKey', API_KEY_ARN);
  const hooks = new TogetherWebhooks(stack, 'Hooks', { poller: { apiKey, ...poller }, ...props });
  return { stack, hooks, t: Template.fromStack(stack) };
}

const pollerStatements = (t: Template) => functionStatements(t, 'HooksPollerFunction');

test('a schedule every minute invokes the poller, which never runs twice at once', () => {
  const { t } = synth();
  t.hasResourceProperties('AWS::Events::Rule', {
    ScheduleExpression: 'rate(1 minute)',
    Targets: [
      Match.objectLike({
        Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('HooksPollerFunction'), 'Arn'] },
        RetryPolicy: { MaximumRetryAttempts: 0 },
      }),
    ],
  });
  t.hasResourceProperties('AWS::Lambda::Function', {
    Description: Match.stringLikeRegexp('Polls Together AI jobs'),
    ReservedConcurrentExecutions: 1,
    Timeout: 90,
    Runtime: 'nodejs24.x',
    Architectures: ['arm64'],
  });
  t.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
    MaximumRetryAttempts: 0,
    MaximumEventAgeInSeconds: 60,
  });
});

test("the poller shares the verifier's table and bus, and gets its settings as plain values", () => {
  const { t } = synth({
    watchModels: ['meta-llama/Llama-3.3-70B-Instruct-Turbo'],
    modelDeprecations: { 'meta-llama/Llama-3.3-70B-Instruct-Turbo': { sunsetDate: '2027-03-01' } },
    stallAfter: Duration.hours(2),
    interval: Duration.minutes(5),
    modelMissingFor: Duration.hours(1),
  });
  t.hasResourceProperties('AWS::Lambda::Function', {
    Description: Match.stringLikeRegexp('Polls Together AI jobs'),
    Environment: {
      Variables: {
        TABLE_NAME: { Ref: Match.stringLikeRegexp('HooksDedupeTable') },
        EVENT_BUS_NAME: { Ref: Match.stringLikeRegexp('HooksBus') },
        API_KEY_SECRET_ARN: API_KEY_ARN,
        API_KEY_SECRET_NAME: 'together/api-key',
        API_BASE_URL: 'https://api.together.xyz/v1',
        ALERT_TOPIC_ARN: { Ref: Match.stringLikeRegexp('HooksAlertTopic') },
        WATCH_MODELS: '["meta-llama/Llama-3.3-70B-Instruct-Turbo"]',
        MODEL_INFO: '{"meta-llama/Llama-3.3-70B-Instruct-Turbo":{"sunsetDate":"2027-03-01"}}',
        STATE_SCOPE: Match.stringLikeRegexp('^c8[0-9a-f]{40}$'),
        CLAIM_SCOPE: Match.stringLikeRegexp('^c8[0-9a-f]{40}$'),
        STALL_AFTER_MINUTES: '120',
        MODEL_MISSING_MINUTES: '60',
        INITIAL_LOOKBACK_MINUTES: '60',
        RETENTION_DAYS: '7',
        METRICS_NAMESPACE: 'TogetherWebhooks',
      },
    },
  });
  t.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(5 minutes)' });
});

test("least privilege: its key, its table, its bus, its alert topic and that topic's key, nothing else", () => {
  const { t } = synth();
  const statements = pollerStatements(t);
  // Item operations on its own claims and state; GetItem again, alone, on the claims of the release before.
  expect(actionsOf(statements)).toEqual(
    [
      'dynamodb:DeleteItem',
      'dynamodb:GetItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
      'events:PutEvents',
      'kms:Decrypt',
      'kms:GenerateDataKey',
      'secretsmanager:DescribeSecret',
      'secretsmanager:GetSecretValue',
      'sns:Publish',
    ].sort(),
  );
  for (const s of statements) expect(JSON.stringify(s.Resource)).not.toMatch(/"\*"/);
  expect(resourcesFor(statements, 'secretsmanager:')).toEqual([JSON.stringify(API_KEY_ARN)]);
  expect(resourcesFor(statements, 'sns:')).toEqual([expect.stringContaining('HooksAlertTopic')]);
  expect(resourcesFor(statements, 'kms:')).toEqual([expect.stringContaining('HooksAlertKey')]);
});

test('without alerts the poller neither knows nor may publish to a topic', () => {
  const { t } = synth({}, { alerts: false });
  const statements = pollerStatements(t);
  expect(JSON.stringify(statements)).not.toMatch(/sns:|kms:/);
  t.hasResourceProperties('AWS::Lambda::Function', {
    Description: Match.stringLikeRegexp('Polls Together AI jobs'),
    Environment: { Variables: Match.not(Match.objectLike({ ALERT_TOPIC_ARN: Match.anyValue() })) },
  });
});

test('poller alarms: crashes, and outcomes held back five polls in a row, one alarm per cause', () => {
  const { t, hooks } = synth();
  t.hasResourceProperties('AWS::CloudWatch::Alarm', {
    MetricName: 'Errors',
    Namespace: 'AWS/Lambda',
    Period: 900,
  });
  const held = (metric: string, description: RegExp) =>
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: metric,
      Namespace: 'TogetherWebhooks',
      Statistic: 'Maximum',
      Period: 60,
      Threshold: 1,
      EvaluationPeriods: 5,
      DatapointsToAlarm: 5,
      AlarmDescription: Match.stringLikeRegexp(description.source),
      Dimensions: [{ Name: 'Service', Value: { Ref: Match.stringLikeRegexp('HooksPollerFunction') } }],
    });
  held('PollErrors', /hit failures on 5 polls in a row: a source/);
  held('OutOfTime', /ran out of time on 5 polls in a row/);
  held('RateLimited', /\(HTTP 429\) on 5 polls in a row/);
  expect(hooks.alarms.map((a) => a.node.id)).toEqual(
    expect.arrayContaining([
      'PollerErrorsAlarm',
      'PollerStoppingAlarm',
      'PollerOutOfTimeAlarm',
      'PollerRateLimitedAlarm',
    ]),
  );
});

test('a long interval: the alarm periods follow it and look back one day at most', () => {
  const { t } = synth({ interval: Duration.hours(6) });
  t.hasResourceProperties('AWS::CloudWatch::Alarm', {
    MetricName: 'OutOfTime',
    Period: 6 * 3600,
    EvaluationPeriods: 4,
    AlarmDescription: Match.stringLikeRegexp('on 4 polls in a row'),
  });
});

test('two pollers sharing one table get distinct state scopes, the same on every synth', () => {
  const scopes = () => {
    const app = new App({ builtinCloudFormationValidation: false });
    const stack = new Stack(app, 'Poll', { env: { account: '111111111111', region: 'us-east-1' } });
    const apiKey = secretsmanager.Secret.fromSecretCompleteArn(stack, 'ApiKey', API_KEY_ARN);
    const first = new TogetherWebhooks(stack, 'Hooks', { poller: { apiKey } });
    new TogetherWebhooks(stack, 'Other', { poller: { apiKey }, table: first.table });
    const t = Template.fromStack(stack);
    return Object.values(t.findResources('AWS::Lambda::Function'))
      .map((f) => f.Properties.Environment?.Variables?.STATE_SCOPE)
      .filter(Boolean);
  };
  const once = scopes();
  expect(once).toHaveLength(2);
  expect(new Set(once).size).toBe(2);
  expect(scopes()).toEqual(once);
});

test.each<[Partial<PollerOptions>, RegExp]>([
  [{ interval: Duration.seconds(30) }, /interval must be whole minutes from 1 to 1440, got 30 seconds/],
  [{ stallAfter: Duration.minutes(5) }, /stallAfter must be at least 10 minutes, got 5 minutes/],
  [{ modelMissingFor: Duration.seconds(30) }, /modelMissingFor must be at least 1 minute, got 30 seconds/],
  [{ watchModels: [''] }, /watchModels must hold model ids, got ""/],
  [
    { watchModels: ['a'], modelDeprecations: { b: {} } },
    /modelDeprecations names "b", which is not in watchModels/,
  ],
  [{ apiBaseUrl: 'ftp://together' }, /apiBaseUrl must be an https URL, got "ftp:\/\/together"/],
  [{ memorySize: 128 }, /memorySize must be a whole number of MB from 256 to 10240, got 128/],
  [{ memorySize: 512.5 }, /memorySize must be a whole number of MB from 256 to 10240, got 512.5/],
  [{ memorySize: 20_480 }, /memorySize must be a whole number of MB from 256 to 10240, got 20480/],
  [{ memorySize: Number.NaN }, /memorySize must be a whole number of MB from 256 to 10240, got NaN/],
])('invalid poller options are refused: %j', (options, message) => {
  expect(() => synth(options)).toThrow(message);
});

test("memorySize sets the poller function's memory: 256 MB unless raised", () => {
  const memoryOf = (t: Template) =>
    Object.values(t.findResources('AWS::Lambda::Function')).find((f) =>
      /Polls Together AI jobs/.test(f.Properties.Description),
    )?.Properties.MemorySize;
  expect(memoryOf(synth().t)).toBe(256);
  expect(memoryOf(synth({ memorySize: 1769 }).t)).toBe(1769);
});

test('the opt-in sources: each flag written only when its prop turns it on; the defaults as the poller assumes them', () => {
  const variables = (t: Template) =>
    Object.values(t.findResources('AWS::Lambda::Function')).find((f) =>
      String(f.Properties.Description).startsWith('Polls Together AI jobs'),
    )!.Properties.Environment.Variables as Record<string, unknown>;
  const off = variables(synth().t);
  expect(off).not.toHaveProperty('EVALUATIONS');
  expect(off).not.toHaveProperty('ENDPOINTS');
  expect(off).not.toHaveProperty('JOBS');
  expect(off).not.toHaveProperty('DEPLOYMENTS');
  expect(off).not.toHaveProperty('CLUSTERS');
  expect(off).not.toHaveProperty('RL_SESSIONS');
  expect(off).toMatchObject({
    STALL_AFTER_MINUTES: '360',
    MODEL_MISSING_MINUTES: '60',
    INITIAL_LOOKBACK_MINUTES: '60',
    RETENTION_DAYS: '7',
  });
  expect(variables(synth({ evaluations: true, endpoints: true }).t)).toMatchObject({
    EVALUATIONS: 'true',
    ENDPOINTS: 'true',
  });
  const on = variables(synth({ jobs: true, deployments: true }).t);
  expect(on).toMatchObject({ JOBS: 'true', DEPLOYMENTS: 'true' });
  expect(on).not.toHaveProperty('EVALUATIONS');
  const some = variables(synth({ clusters: true, rlSessions: true }).t);
  expect(some).toMatchObject({ CLUSTERS: 'true', RL_SESSIONS: 'true' });
  expect(some).not.toHaveProperty('ENDPOINTS');
  // Turned on after construction (TogetherAutoDeploy does), before synth.
  const app = new App({ builtinCloudFormationValidation: false });
  const stack = new Stack(app, 'Poll', { env: { account: '111111111111', region: 'us-east-1' } });
  const apiKey = secretsmanager.Secret.fromSecretCompleteArn(stack, 'ApiKey', API_KEY_ARN);
  new TogetherWebhooks(stack, 'Hooks', { poller: { apiKey, evaluations: true } }).poller!.followEndpoints();
  expect(variables(Template.fromStack(stack))).toMatchObject({ EVALUATIONS: 'true', ENDPOINTS: 'true' });
});
