import { App, aws_secretsmanager as secretsmanager, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { TogetherTrainingMonitor, TogetherWebhooks } from '../../lib';
import { DEAD_LETTER_ACTIONS, expectRoutedTo, roleStatementsOf } from '../support/recipes';

/** Issue 12, recipe 4, the construct: checkpoints routed to the handler, and a dashboard of the whole pipeline. */

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
    expectRoutedTo(t, 'fine_tune.checkpoint', 'TrainingFunction');
  });

  test('least privilege: the handler may only hand a failed event to the dead-letter queue', () => {
    const { t } = synth(true);
    expect(roleStatementsOf(t, 'TrainingFunction').actions).toEqual(DEAD_LETTER_ACTIONS);
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
