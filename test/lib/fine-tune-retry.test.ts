import { App, aws_secretsmanager as secretsmanager, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import {
  RetryAction,
  RetryRule,
  TogetherFineTuneRetry,
  TogetherFineTuneRetryProps,
  TogetherWebhooks,
} from '../../lib';
import {
  CLAIM_ITEM_ACTIONS,
  DEAD_LETTER_ACTIONS,
  expectRoutedTo,
  roleStatementsOf,
  sortedActions,
} from '../support/recipes';

/** Issue 21, the retry half, the construct: fine_tune.failed routed to a handler that may only retry and tell. */

const API_KEY_ARN = 'arn:aws:secretsmanager:us-east-1:111111111111:secret:together/api-key-AbCdEf';

function synth(
  props: Partial<TogetherFineTuneRetryProps> = {},
  hooks: { poller?: boolean; alerts?: boolean } = {},
) {
  const app = new App({ builtinCloudFormationValidation: false });
  const stack = new Stack(app, 'Retry', { env: { account: '111111111111', region: 'us-east-1' } });
  const apiKey = secretsmanager.Secret.fromSecretCompleteArn(stack, 'Key', API_KEY_ARN);
  const webhooks = new TogetherWebhooks(stack, 'Hooks', {
    ...(hooks.poller === false ? {} : { poller: { apiKey } }),
    alerts: hooks.alerts ?? true,
  });
  const recipe = new TogetherFineTuneRetry(stack, 'FineTuneRetry', { webhooks, ...props });
  return { t: Template.fromStack(stack), recipe };
}

test('fine_tune.failed is routed to it; the rules and attempts arrive as plain values', () => {
  const { t } = synth({
    rules: [
      RetryRule.halveBatchSize({ whenErrorMatches: 'CUDA out of memory' }),
      RetryRule.noRetry({ whenErrorMatches: 'invalid json', advice: 'run check-data <file>' }),
    ],
    maxAttempts: 3,
  });
  expectRoutedTo(t, 'fine_tune.failed', 'FineTuneRetryFunction');
  t.hasResourceProperties('AWS::Lambda::Function', {
    Description: Match.stringLikeRegexp('Retries failed Together AI fine-tunes'),
    MemorySize: 512,
    Environment: {
      Variables: Match.objectLike({
        API_KEY_SECRET_ARN: API_KEY_ARN,
        MAX_ATTEMPTS: '3',
        RETRY_RULES: JSON.stringify([
          { match: 'CUDA out of memory', action: 'halve_batch_size' },
          { match: 'invalid json', action: 'no_retry', advice: 'run check-data <file>' },
        ]),
        EVENT_BUS_NAME: { Ref: Match.stringLikeRegexp('HooksBus') },
        ALERT_TOPIC_ARN: { Ref: Match.stringLikeRegexp('HooksAlert') },
      }),
    },
  });
});

test('the defaults: two attempts; out of memory halves, internal errors retry as they were, data errors name check-data', () => {
  const { t } = synth();
  const fn = Object.values(t.findResources('AWS::Lambda::Function')).find((r) =>
    String(r.Properties.Description).startsWith('Retries failed'),
  );
  const env = fn!.Properties.Environment.Variables;
  expect(env.MAX_ATTEMPTS).toBe('2');
  const rules = JSON.parse(env.RETRY_RULES) as Array<{ match: string; action: string; advice?: string }>;
  expect(rules.find((r) => r.match === 'out of memory')?.action).toBe('halve_batch_size');
  expect(rules.find((r) => r.match === 'internal error')?.action).toBe('same_parameters');
  expect(rules.find((r) => r.match === 'invalid json')).toEqual({
    match: 'invalid json',
    action: 'no_retry',
    advice: expect.stringContaining('npx together-webhooks check-data <file>'),
  });
  expect(RetryRule.defaults().map((r) => r.action)).toContain(RetryAction.NO_RETRY);
});

test('least privilege: its claims and lineages, the key, PutEvents on the bus, the alert topic, the dead-letter queue', () => {
  const { t } = synth();
  const role = roleStatementsOf(t, 'FineTuneRetryFunction');
  expect(role.actions).toEqual(
    sortedActions(
      CLAIM_ITEM_ACTIONS,
      'events:PutEvents',
      'kms:Decrypt',
      'kms:GenerateDataKey',
      'secretsmanager:DescribeSecret',
      'secretsmanager:GetSecretValue',
      'sns:Publish',
      DEAD_LETTER_ACTIONS,
    ),
  );
  expect(role.resourcesFor('secretsmanager:')).toEqual([JSON.stringify(API_KEY_ARN)]);
  expect(role.resourcesFor('events:').join()).toContain('HooksBus');
  expect(role.resourcesFor('sns:').join()).toContain('HooksAlert');
  const keys = JSON.stringify(role.statements.filter((s) => JSON.stringify(s.Action).includes('dynamodb:')));
  expect(keys).toMatch(
    /"dynamodb:LeadingKeys":\["fine-tune-retry#c8[0-9a-f]{40}:\*","fine-tune-retry#c8[0-9a-f]{40}#\*"\]/,
  );
  expect(JSON.stringify(role.statements)).not.toContain('"*"');
});

test('with alerts off: no topic, no sns permission', () => {
  const { t } = synth({}, { alerts: false });
  const role = roleStatementsOf(t, 'FineTuneRetryFunction');
  expect(role.actions.filter((a) => a.startsWith('sns:'))).toEqual([]);
});

test('props are checked early, with the value received', () => {
  expect(() => synth({}, { poller: false })).toThrow('TogetherFineTuneRetry: the webhooks have no poller');
  expect(() => synth({ maxAttempts: 0 })).toThrow(
    'TogetherFineTuneRetry: maxAttempts must be an integer from 1 to 10, got 0',
  );
  expect(() => synth({ maxAttempts: 2.5 })).toThrow('maxAttempts must be an integer from 1 to 10, got 2.5');
  expect(() => synth({ rules: [] })).toThrow('TogetherFineTuneRetry: rules must hold at least one RetryRule');
  const many = Array.from({ length: 60 }, (_, i) =>
    RetryRule.sameParameters({ whenErrorMatches: `error ${i}` }),
  );
  expect(() => synth({ rules: many })).toThrow(
    /TogetherFineTuneRetry: the rules take 2\d{3} characters as RETRY_RULES, at most 2500/,
  );
  expect(() => RetryRule.sameParameters({ whenErrorMatches: ' ' })).toThrow(
    'RetryRule: whenErrorMatches must be some text to look for in the error, got " "',
  );
});
