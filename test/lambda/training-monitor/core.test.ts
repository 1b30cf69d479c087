import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { aws_secretsmanager as secretsmanager } from 'aws-cdk-lib';
import { TogetherTrainingMonitor, TogetherWebhooks } from '../../../lib';
import { sampleEvent } from '../../../lib/events';
import { lossLine, readCheckpoint, sampleTime } from '../../../lambda/training-monitor/core';
import { actionsOf, functionStatements } from '../../support/iam';

/** Issue 12, recipe 4: training loss per job as a metric, and a dashboard of the whole pipeline. */

const NOW = Date.parse('2026-11-26T12:00:00Z');

function checkpointEvent(data: Record<string, unknown>, createdAt: unknown = '2026-11-26T11:58:00Z') {
  const sample = sampleEvent('fine_tune.checkpoint', 'fine_tune.checkpoint:ft-1:40');
  return {
    'detail-type': 'fine_tune.checkpoint',
    source: 'together.ai',
    detail: { ...sample, created_at: createdAt, data: { ...sample.data, ...data } },
  };
}

describe('the handler core', () => {
  test('a checkpoint with a loss is one TrainingLoss sample, dimension FineTuneId, dated by the checkpoint', () => {
    const c = readCheckpoint(checkpointEvent({ fine_tune_id: 'ft-1', step: 40, loss: 1.0831 }));
    expect(c).toEqual({ fine_tune_id: 'ft-1', step: 40, loss: 1.0831, created_at: '2026-11-26T11:58:00Z' });
    const line = lossLine(c as Exclude<typeof c, { skip: string }>, 'TogetherWebhooks', NOW);
    expect(line).toEqual({
      message: 'training loss',
      FineTuneId: 'ft-1',
      step: 40,
      TrainingLoss: 1.0831,
      _aws: {
        Timestamp: Date.parse('2026-11-26T11:58:00Z'),
        CloudWatchMetrics: [
          {
            Namespace: 'TogetherWebhooks',
            Dimensions: [['FineTuneId']],
            Metrics: [{ Name: 'TrainingLoss', Unit: 'None' }],
          },
        ],
      },
    });
    // The dimension's value and the metric's value are top-level members, where EMF reads them.
    const emf = line._aws as { CloudWatchMetrics: Array<{ Dimensions: string[][] }> };
    for (const d of emf.CloudWatchMetrics[0].Dimensions[0]) expect(line).toHaveProperty(d);
  });

  test('no loss (the poller may not know it) records nothing; a bad loss is skipped, not thrown', () => {
    expect(readCheckpoint(checkpointEvent({ loss: null }))).toEqual({
      skip: 'the checkpoint carries no loss',
    });
    expect(readCheckpoint(checkpointEvent({ loss: 'NaN' }))).toEqual({
      skip: 'loss is not a finite number: "NaN"',
    });
  });

  test('fine-tune ids CloudWatch refuses as a dimension value are skipped with the reason, not emitted', () => {
    // Review T3. A dimension value is 1 to 1024 ASCII characters, not all blank, no control characters.
    const skip = (id: string) => readCheckpoint(checkpointEvent({ fine_tune_id: id, step: 1, loss: 1 }));
    expect(skip('x'.repeat(1025))).toEqual({
      skip: `fine_tune_id "${'x'.repeat(60)}..." (1025 characters) cannot be a CloudWatch dimension value: at most 1024`,
    });
    expect(skip('ft-é')).toEqual({
      skip: 'fine_tune_id "ft-é" cannot be a CloudWatch dimension value: ASCII only, no control characters',
    });
    expect(skip('ft-\u0007')).toHaveProperty('skip', expect.stringContaining('no control characters'));
    expect(skip('   ')).toEqual({
      skip: 'fine_tune_id "   " cannot be a CloudWatch dimension value: it is blank',
    });
    expect(skip('x'.repeat(1024))).toHaveProperty('fine_tune_id', 'x'.repeat(1024));
    expect(skip('ft-a b')).toHaveProperty('fine_tune_id', 'ft-a b');
  });

  test('the handler logs why it records nothing', async () => {
    const lines: string[] = [];
    const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { handler } = require('../../../lambda/training-monitor/index') as {
        handler: (e: unknown) => Promise<void>;
      };
      await handler(checkpointEvent({ fine_tune_id: 'ft-é', step: 1, loss: 1 }));
    } finally {
      spy.mockRestore();
    }
    expect(lines.map((l) => JSON.parse(l))).toEqual([
      {
        message: 'no training loss to record',
        reason:
          'fine_tune_id "ft-é" cannot be a CloudWatch dimension value: ASCII only, no control characters',
      },
    ]);
  });

  test('another event type, or no fine_tune_id, is an error that names it', () => {
    expect(() => readCheckpoint({ ...checkpointEvent({}), 'detail-type': 'batch.done' })).toThrow(
      'expected a fine_tune.checkpoint event, got detail-type batch.done',
    );
    expect(() => readCheckpoint(checkpointEvent({ fine_tune_id: '' }))).toThrow('without data.fine_tune_id');
  });

  test('samples CloudWatch would refuse (over two weeks old, or ahead) are dated now; seconds are read as such', () => {
    expect(sampleTime('2026-11-01T00:00:00Z', NOW)).toBe(NOW);
    expect(sampleTime('2026-11-27T12:00:00Z', NOW)).toBe(NOW);
    expect(sampleTime('not a date', NOW)).toBe(NOW);
    expect(sampleTime(undefined, NOW)).toBe(NOW);
    expect(sampleTime(NOW / 1000 - 60, NOW)).toBe(NOW - 60_000);
    expect(sampleTime(NOW - 60_000, NOW)).toBe(NOW - 60_000);
  });
});

describe('the construct', () => {
  function synth(withPoller: boolean) {
    const app = new App({ builtinCloudFormationValidation: false });
    const stack = new Stack(app, 'Train', { env: { account: '111111111111', region: 'us-east-1' } });
    const apiKey = secretsmanager.Secret.fromSecretNameV2(stack, 'Key', 'together/api-key');
    const webhooks = new TogetherWebhooks(stack, 'Hooks', withPoller ? { poller: { apiKey } } : {});
    const monitor = new TogetherTrainingMonitor(stack, 'Training', { webhooks });
    return { monitor, t: Template.fromStack(stack) };
  }

  test('fine_tune.checkpoint is routed to the handler, with retries and the dead-letter queue both ways', () => {
    const { t } = synth(true);
    t.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { source: ['together.ai'], 'detail-type': ['fine_tune.checkpoint'] },
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('TrainingFunction'), 'Arn'] },
          DeadLetterConfig: {
            Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('HooksDeadLetterQueue'), 'Arn'] },
          },
        }),
      ],
    });
    t.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: Match.stringLikeRegexp('TrainingFunction') },
      MaximumRetryAttempts: 2,
      DestinationConfig: {
        OnFailure: { Destination: { 'Fn::GetAtt': [Match.stringLikeRegexp('HooksDeadLetterQueue'), 'Arn'] } },
      },
    });
  });

  test('least privilege: the handler may only hand a failed event to the dead-letter queue', () => {
    const { t } = synth(true);
    expect(actionsOf(functionStatements(t, 'TrainingFunction'))).toEqual([
      'sqs:GetQueueAttributes',
      'sqs:GetQueueUrl',
      'sqs:SendMessage',
    ]);
  });

  test('the dashboard shows the receiver, the poller, the dead-letter queue and the loss of every fine-tune', () => {
    const { t, monitor } = synth(true);
    expect(monitor.dashboard).toBeDefined();
    const body = JSON.stringify(Object.values(t.findResources('AWS::CloudWatch::Dashboard'))[0]);
    for (const text of [
      'Received',
      'Published',
      'Duplicate',
      'Rejected',
      'PollErrors',
      'OutOfTime',
      'RateLimited',
      'FollowedJobs',
      'ApproximateNumberOfMessagesVisible',
      `SEARCH('{TogetherWebhooks,FineTuneId} MetricName=\\\\\\"TrainingLoss\\\\\\"', 'Average', 300)`,
    ])
      expect(body).toContain(text);
  });

  test('without a poller the dashboard says so; dashboard: false creates none', () => {
    const { t } = synth(false);
    const body = JSON.stringify(Object.values(t.findResources('AWS::CloudWatch::Dashboard'))[0]);
    expect(body).toContain('Poller** is off');
    expect(body).not.toContain('PollErrors');
    const app = new App({ builtinCloudFormationValidation: false });
    const stack = new Stack(app, 'NoDash');
    const m = new TogetherTrainingMonitor(stack, 'T', {
      webhooks: new TogetherWebhooks(stack, 'H'),
      dashboard: false,
    });
    expect(m.dashboard).toBeUndefined();
    Template.fromStack(stack).resourceCountIs('AWS::CloudWatch::Dashboard', 0);
  });

  test('metricTrainingLoss names one fine-tune', () => {
    const { monitor } = synth(false);
    const m = monitor.metricTrainingLoss('ft-42');
    expect(m.metricName).toBe('TrainingLoss');
    expect(m.dimensions).toEqual({ FineTuneId: 'ft-42' });
    expect(m.statistic).toBe('Average');
  });
});
