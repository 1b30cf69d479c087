import { App, aws_events_targets as targets, aws_sns as sns, aws_sqs as sqs, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { EventType, TogetherEventHandlers, TogetherWebhooks } from '../../lib';
import { EVENT_TYPES, handlerProperty } from '../../lib/events';
import { ENV, handlerFn, stackWith } from '../support/webhooks-stack';

// Routing events to targets: the handlers prop, onEvent, Route<Type> rules.

describe('routing', () => {
  test('handlers: one rule per event type, matching source and detail-type, targets with retries and the DLQ', () => {
    const app = new App({ builtinCloudFormationValidation: false });
    const stack = new Stack(app, 'Routes', { env: ENV });
    const handlers = Object.fromEntries(
      EVENT_TYPES.map((type, i) => [
        handlerProperty(type),
        [new targets.LambdaFunction(handlerFn(stack, `Fn${i}`))],
      ]),
    ) as TogetherEventHandlers;
    new TogetherWebhooks(stack, 'Hooks', { handlers, alerts: false });
    const t = Template.fromStack(stack);
    t.resourceCountIs('AWS::Events::Rule', EVENT_TYPES.length);
    EVENT_TYPES.forEach((type, i) => {
      t.hasResourceProperties('AWS::Events::Rule', {
        EventBusName: { Ref: Match.stringLikeRegexp('Bus') },
        EventPattern: { source: ['together.ai'], 'detail-type': [type] },
        Targets: [
          {
            Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp(`^Fn${i}`), 'Arn'] },
            Id: Match.anyValue(),
            DeadLetterConfig: { Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('DeadLetterQueue'), 'Arn'] } },
            RetryPolicy: { MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 86400 },
          },
        ],
      });
    });
    // EventBridge may invoke each handler, and may write to the DLQ for these rules only.
    t.resourceCountIs('AWS::Lambda::Permission', EVENT_TYPES.length + 1);
    const dlqPolicy = JSON.stringify(t.findResources('AWS::SQS::QueuePolicy'));
    expect(dlqPolicy).toContain('aws:SourceArn');
  });

  test('onEvent adds targets to the same rule later, and returns it', () => {
    const { stack, hooks } = stackWith({ alerts: false });
    const topic = new sns.Topic(stack, 'Extra');
    const queue = new sqs.Queue(stack, 'Q');
    const r1 = hooks.onEvent('batch.done', new targets.SnsTopic(topic));
    const r2 = hooks.onEvent('batch.done', new targets.SqsQueue(queue));
    expect(r1).toBe(r2);
    expect(r1.node.id).toBe('RouteBatchDone');
    const t = Template.fromStack(stack);
    t.resourceCountIs('AWS::Events::Rule', 1);
    t.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { 'detail-type': ['batch.done'] },
      Targets: [
        Match.objectLike({ Arn: { Ref: Match.stringLikeRegexp('Extra') } }),
        Match.objectLike({ Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Q'), 'Arn'] } }),
      ],
    });
  });

  test('a target that names its own dead-letter queue keeps it', () => {
    const { stack, hooks } = stackWith({ alerts: false });
    const mine = new sqs.Queue(stack, 'MyDlq');
    hooks.onEvent(
      'fine_tune.completed',
      new targets.LambdaFunction(handlerFn(stack, 'Fn'), { deadLetterQueue: mine, retryAttempts: 2 }),
    );
    Template.fromStack(stack).hasResourceProperties('AWS::Events::Rule', {
      Targets: [
        Match.objectLike({
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('MyDlq'), 'Arn'] } },
          RetryPolicy: { MaximumRetryAttempts: 2 },
        }),
      ],
    });
  });

  test('onEvent refuses a type outside the catalogue', () => {
    const { hooks } = stackWith();
    expect(() => hooks.onEvent('fine_tune.exploded' as 'batch.done')).toThrow(
      /unknown event type "fine_tune.exploded" in onEvent; known types: fine_tune.completed, /,
    );
  });
});

describe('friction a newcomer hit (issue 9)', () => {
  test('more than five targets for one type: a second rule takes the rest (EventBridge allows five a rule)', () => {
    const { stack, hooks } = stackWith({ alerts: false });
    const fns = Array.from({ length: 7 }, (_, i) => new targets.LambdaFunction(handlerFn(stack, `F${i}`)));
    const last = hooks.onEvent('batch.done', ...fns);
    expect(last.node.id).toBe('RouteBatchDone2');
    expect(hooks.onEvent('batch.done').node.id).toBe('RouteBatchDone2');
    const rules = Object.values(Template.fromStack(stack).findResources('AWS::Events::Rule'));
    expect(rules.map((r) => r.Properties.Targets.length).sort()).toEqual([2, 5]);
    for (const r of rules)
      expect(r.Properties.EventPattern).toEqual({ source: ['together.ai'], 'detail-type': ['batch.done'] });
  });
});

test('EventType has one constant per catalogue type, in catalogue order, each the type itself', () => {
  expect(EventType.all()).toEqual(EVENT_TYPES);
  const constants = Object.entries(EventType).filter(([name]) => /^[A-Z_]+$/.test(name));
  expect(constants.map(([, value]) => value).sort()).toEqual([...EVENT_TYPES].sort());
  for (const [name, value] of constants) expect(name).toBe(String(value).toUpperCase().replace(/\./g, '_'));
  const { stack, hooks } = stackWith({ alerts: false });
  expect(hooks.onEvent(EventType.BATCH_DONE).node.id).toBe('RouteBatchDone');
  expect(() => hooks.onEvent('batch.finished')).toThrow(/unknown event type "batch.finished" in onEvent/);
  expect(stack).toBeDefined();
});
