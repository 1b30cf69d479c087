import { App, aws_secretsmanager as secretsmanager, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { TogetherAutoDeploy, TogetherAutoDeployProps, TogetherWebhooks } from '../../lib';
import {
  CLAIM_ITEM_ACTIONS,
  DEAD_LETTER_ACTIONS,
  expectPollerFollowsEndpoints,
  expectRoutedTo,
  roleStatementsOf,
  sortedActions,
} from '../support/recipes';

/** Issue 12, recipe 1, the construct: fine_tune.completed routed to a handler that may only deploy. */

describe('the construct', () => {
  function synth(props: Partial<TogetherAutoDeployProps> = {}, withPoller = true) {
    const app = new App({ builtinCloudFormationValidation: false });
    const stack = new Stack(app, 'Deploy', { env: { account: '111111111111', region: 'us-east-1' } });
    const apiKey = secretsmanager.Secret.fromSecretCompleteArn(stack, 'Key', API_KEY_ARN);
    const webhooks = new TogetherWebhooks(stack, 'Hooks', withPoller ? { poller: { apiKey } } : {});
    new TogetherAutoDeploy(stack, 'AutoDeploy', { webhooks, hardware: '1x_nvidia_h100_80gb_sxm', ...props });
    return Template.fromStack(stack);
  }
  const API_KEY_ARN = 'arn:aws:secretsmanager:us-east-1:111111111111:secret:together/api-key-AbCdEf';

  test('fine_tune.completed is routed to it; the poller follows endpoints; settings arrive as plain values', () => {
    const t = synth({ maxEvalLoss: 0.5, modelNamePrefix: 'acme/', maxReplicas: 3 });
    expectRoutedTo(t, 'fine_tune.completed', 'AutoDeployFunction');
    expectPollerFollowsEndpoints(t);
    t.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('Deploys completed Together AI fine-tunes'),
      Environment: {
        Variables: Match.objectLike({
          API_KEY_SECRET_ARN: API_KEY_ARN,
          HARDWARE: '1x_nvidia_h100_80gb_sxm',
          MIN_REPLICAS: '1',
          MAX_REPLICAS: '3',
          INACTIVE_TIMEOUT_MINUTES: '60',
          RETENTION_DAYS: '7',
          MAX_EVAL_LOSS: '0.5',
          MODEL_NAME_PREFIX: 'acme/',
        }),
      },
    });
  });

  test('least privilege: its key, item operations on the dedupe table, the dead-letter queue; no bus', () => {
    const role = roleStatementsOf(synth(), 'AutoDeployFunction');
    expect(role.actions).toEqual(
      sortedActions(
        CLAIM_ITEM_ACTIONS,
        'secretsmanager:DescribeSecret',
        'secretsmanager:GetSecretValue',
        DEAD_LETTER_ACTIONS,
      ),
    );
    expect(role.resourcesFor('secretsmanager:')).toEqual([JSON.stringify(API_KEY_ARN)]);
    expect(JSON.stringify(role.statements)).not.toContain('"*"');
  });

  test('props are checked early, with the value received', () => {
    expect(() => synth({}, false)).toThrow('TogetherAutoDeploy: the webhooks have no poller');
    expect(() => synth({ hardware: ' ' })).toThrow('hardware must name Together hardware');
    expect(() => synth({ minReplicas: 3, maxReplicas: 2 })).toThrow(
      'TogetherAutoDeploy: minReplicas (3) must be at most maxReplicas (2)',
    );
    expect(() => synth({ maxReplicas: 0 })).toThrow('maxReplicas must be an integer from 1 to 64, got 0');
    expect(() => synth({ inactiveTimeout: Duration.seconds(90) })).toThrow(
      'inactiveTimeout must be whole minutes, got 1 minute 30 seconds',
    );
  });
});
