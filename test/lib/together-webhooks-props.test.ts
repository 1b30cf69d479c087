import { App, aws_events_targets as targets, Duration, Stack } from 'aws-cdk-lib';
import { TogetherEventHandlers, TogetherWebhooks, TogetherWebhooksProps } from '../../lib';
import { EVENT_TYPES, handlerProperty, TogetherEventType } from '../../lib/events';
import { ENV, handlerFn, stackWith } from '../support/webhooks-stack';

// The props are checked at synth (validateProps in lib/together-webhooks.ts; the interfaces in
// lib/together-webhooks-props.ts).

describe('friction a newcomer hit (issue 9)', () => {
  test('archiveRetention without an archive is refused, not ignored', () => {
    expect(() => stackWith({ archive: false, archiveRetention: Duration.days(90) })).toThrow(
      'TogetherWebhooks: archiveRetention is set (90 days) but archive is false',
    );
  });

  test('handlers: one typed property per event type; the old dotted keys and typos name the property to use', () => {
    const app = new App({ builtinCloudFormationValidation: false });
    const stack = new Stack(app, 'Typed', { env: ENV });
    const fn = handlerFn(stack, 'Fn');
    // @ts-expect-error a typo is a compile error, not only a synth error
    const typo: TogetherWebhooksProps = { handlers: { fineTuneComplete: [new targets.LambdaFunction(fn)] } };
    expect(() => new TogetherWebhooks(stack, 'Typo', typo)).toThrow(
      /handlers has no property "fineTuneComplete"; one of: fineTuneCompleted, fineTuneFailed, /,
    );
    const dotted = { handlers: { 'fine_tune.completed': [] } } as unknown as TogetherWebhooksProps;
    expect(() => new TogetherWebhooks(stack, 'Dotted', dotted)).toThrow(
      'TogetherWebhooks: handlers["fine_tune.completed"] is now handlers.fineTuneCompleted',
    );
  });

  test('TogetherEventHandlers has exactly one property per catalogue type', () => {
    // A new catalogue type without its property here fails: the keys must be the catalogue's.
    const byProperty: { readonly [P in keyof Required<TogetherEventHandlers>]: TogetherEventType } = {
      fineTuneCompleted: 'fine_tune.completed',
      fineTuneFailed: 'fine_tune.failed',
      fineTuneRetried: 'fine_tune.retried',
      fineTuneCheckpoint: 'fine_tune.checkpoint',
      fineTuneCancelled: 'fine_tune.cancelled',
      fineTuneStalled: 'fine_tune.stalled',
      modelDeprecated: 'model.deprecated',
      batchDone: 'batch.done',
      evaluationCompleted: 'evaluation.completed',
      evaluationFailed: 'evaluation.failed',
      endpointReady: 'endpoint.ready',
      endpointFailed: 'endpoint.failed',
      jobCompleted: 'job.completed',
      jobFailed: 'job.failed',
      deploymentReady: 'deployment.ready',
      deploymentFailed: 'deployment.failed',
      batchCollected: 'batch.collected',
      clusterReady: 'cluster.ready',
      clusterDegraded: 'cluster.degraded',
      rlSessionStopped: 'rl_session.stopped',
      rlSessionFailed: 'rl_session.failed',
      videoCompleted: 'video.completed',
      videoFailed: 'video.failed',
      queueJobDone: 'queue_job.done',
      queueJobFailed: 'queue_job.failed',
    };
    expect(Object.values(byProperty).sort()).toEqual([...EVENT_TYPES].sort());
    for (const [property, type] of Object.entries(byProperty)) expect(handlerProperty(type)).toBe(property);
  });
});

describe('props are validated at synth, showing the value received', () => {
  test.each<[string, Partial<TogetherWebhooksProps>, RegExp]>([
    ['rate 0', { throttlingRateLimit: 0 }, /throttlingRateLimit must be a number from 1 to 10000, got 0/],
    [
      'burst 1.5',
      { throttlingBurstLimit: 1.5 },
      /throttlingBurstLimit must be an integer from 0 to 5000, got 1.5/,
    ],
    ['burst too high', { throttlingBurstLimit: 9999 }, /got 9999/],
    ['memory', { memorySize: 64 }, /memorySize must be an integer from 128 to 10240, got 64/],
    [
      'timeout',
      { timeout: Duration.seconds(60) },
      /timeout must be from 1 second to 29 seconds, got 1 minute/,
    ],
    [
      'concurrency',
      { reservedConcurrency: 0 },
      /reservedConcurrency must be an integer from 1 to 10000, got 0/,
    ],
    [
      'retention',
      { dedupeRetention: Duration.days(400) },
      /dedupeRetention must be from 1 hour to 365 days, got 400 days/,
    ],
    [
      'short retention',
      { dedupeRetention: Duration.minutes(30) },
      /dedupeRetention must be from 1 hour to 365 days, got 30 minutes/,
    ],
    [
      'domain without certificate',
      { domainName: 'hooks.example.com' },
      /domainName "hooks.example.com" needs a certificate/,
    ],
    ['empty JSON field', { secretJsonField: ' ' }, /secretJsonField must not be empty/],
  ])('%s', (_name, props, message) => {
    expect(() => stackWith(props as TogetherWebhooksProps)).toThrow(message);
  });
});
