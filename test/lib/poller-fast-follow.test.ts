import { App, aws_secretsmanager as secretsmanager, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { PollerOptions, TogetherJobPoller, TogetherWebhooks } from '../../lib';
import { readPollerEnv } from '../../lambda/poller/config';

// Fast follow's props (issue 19): validated early, written as three variables only when on, and the timeout
// stretched to cover re-checks until the next tick.

const API_KEY_ARN = 'arn:aws:secretsmanager:us-east-1:111111111111:secret:together/api-key-AbCdEf';

function pollerFunction(poller: Partial<PollerOptions> = {}) {
  const app = new App({ builtinCloudFormationValidation: false });
  const stack = new Stack(app, 'Poll', { env: { account: '111111111111', region: 'us-east-1' } });
  const apiKey = secretsmanager.Secret.fromSecretCompleteArn(stack, 'ApiKey', API_KEY_ARN);
  new TogetherWebhooks(stack, 'Hooks', { poller: { apiKey, ...poller } });
  const fn = Object.values(Template.fromStack(stack).findResources('AWS::Lambda::Function')).find((f) =>
    String(f.Properties.Description).startsWith('Polls Together AI jobs'),
  )!;
  return {
    timeout: fn.Properties.Timeout as number,
    variables: fn.Properties.Environment.Variables as Record<string, string>,
  };
}

test('off by default: no variable, the 90 s timeout', () => {
  const { timeout, variables } = pollerFunction();
  expect(timeout).toBe(90);
  for (const name of ['FAST_FOLLOW_SECONDS', 'FAST_FOLLOW_REQUESTS_PER_MINUTE', 'POLL_INTERVAL_SECONDS'])
    expect(variables).not.toHaveProperty(name);
});

test('on: the re-check period, the budget (60 unless set) and the interval; the timeout is the interval plus a minute', () => {
  expect(pollerFunction({ fastFollow: Duration.seconds(10) })).toEqual({
    timeout: 120,
    variables: expect.objectContaining({
      FAST_FOLLOW_SECONDS: '10',
      FAST_FOLLOW_REQUESTS_PER_MINUTE: '60',
      POLL_INTERVAL_SECONDS: '60',
    }),
  });
  const five = pollerFunction({
    fastFollow: Duration.seconds(30),
    fastFollowRequestsPerMinute: 20,
    interval: Duration.minutes(5),
  });
  expect(five.timeout).toBe(360);
  expect(five.variables).toMatchObject({
    FAST_FOLLOW_SECONDS: '30',
    FAST_FOLLOW_REQUESTS_PER_MINUTE: '20',
    POLL_INTERVAL_SECONDS: '300',
  });
  // What the handler reads of it.
  expect(readPollerEnv({ ...five.variables, TABLE_NAME: 't', EVENT_BUS_NAME: 'b' }).fastFollow).toEqual({
    everyMs: 30_000,
    requestsPerMinute: 20,
    intervalMs: 300_000,
  });
});

test.each<[Partial<PollerOptions>, string]>([
  [
    { fastFollow: Duration.seconds(5) },
    'poller.fastFollow must be whole seconds, at least 10 seconds and less than the interval (1 minute), got 5 seconds',
  ],
  [
    { fastFollow: Duration.millis(12_500) },
    'poller.fastFollow must be whole seconds, at least 10 seconds and less than the interval (1 minute), got 12 seconds 500 millis',
  ],
  [
    { fastFollow: Duration.minutes(1) },
    'poller.fastFollow must be whole seconds, at least 10 seconds and less than the interval (1 minute), got 1 minute',
  ],
  [
    { fastFollow: Duration.seconds(30), interval: Duration.minutes(15) },
    'poller.fastFollow needs an interval of at most 10 minutes (one invocation re-checks until the next tick), got 15 minutes',
  ],
  [
    { fastFollow: Duration.seconds(10), fastFollowRequestsPerMinute: 0 },
    'poller.fastFollowRequestsPerMinute must be an integer from 1 to 10000, got 0',
  ],
  [
    { fastFollow: Duration.seconds(10), fastFollowRequestsPerMinute: 2.5 },
    'poller.fastFollowRequestsPerMinute must be an integer from 1 to 10000, got 2.5',
  ],
  [
    { fastFollowRequestsPerMinute: 30 },
    'poller.fastFollowRequestsPerMinute is read only with fastFollow, got 30 without it',
  ],
])('refused early, with the value received: %j', (options, message) => {
  expect(() => pollerFunction(options)).toThrow(`TogetherWebhooks: ${message}`);
});

test('TogetherJobPoller on its own checks them too', () => {
  const stack = new Stack(new App(), 'Alone');
  const apiKey = secretsmanager.Secret.fromSecretCompleteArn(stack, 'ApiKey', API_KEY_ARN);
  const hooks = new TogetherWebhooks(stack, 'Hooks', {});
  expect(
    () =>
      new TogetherJobPoller(stack, 'Poller', {
        apiKey,
        table: hooks.table,
        eventBus: hooks.eventBus,
        metricsNamespace: 'X',
        fastFollow: Duration.seconds(9),
      }),
  ).toThrow(
    'TogetherJobPoller: fastFollow must be whole seconds, at least 10 seconds and less than the interval (1 minute), got 9 seconds',
  );
});
