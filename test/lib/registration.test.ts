import { App, aws_secretsmanager as secretsmanager, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { RegistrationOptions, TogetherWebhooks } from '../../lib';
import { WEBHOOK_EVENT_TYPES } from '../../lib/events';
import { functionStatements } from '../support/iam';

const API_KEY_ARN = 'arn:aws:secretsmanager:us-east-1:111111111111:secret:together/api-key-AbCdEf';

function synth(registration: Partial<RegistrationOptions> = {}) {
  const app = new App({ builtinCloudFormationValidation: false });
  const stack = new Stack(app, 'Reg', { env: { account: '111111111111', region: 'us-east-1' } });
  const apiKey = secretsmanager.Secret.fromSecretCompleteArn(stack, 'ApiKey', API_KEY_ARN);
  const hooks = new TogetherWebhooks(stack, 'Hooks', { registration: { apiKey, ...registration } });
  return { stack, hooks, t: Template.fromStack(stack) };
}

test('Custom::TogetherWebhook carries only ARNs and plain settings, with a short service timeout', () => {
  const { t } = synth();
  const resources = t.findResources('Custom::TogetherWebhook');
  expect(Object.keys(resources)).toHaveLength(1);
  const props = Object.values(resources)[0].Properties;
  expect(Object.keys(props).sort()).toEqual(
    [
      'ServiceToken',
      'ServiceTimeout',
      'Url',
      'Events',
      'ApiBaseUrl',
      'Required',
      'ApiKeySecretArn',
      'ApiKeySecretName',
      'SigningSecretArn',
      'SecretVersion',
    ].sort(),
  );
  expect(props).toMatchObject({
    ServiceTimeout: '300',
    Events: [...WEBHOOK_EVENT_TYPES].sort(),
    ApiBaseUrl: 'https://api.together.xyz/v1',
    Required: 'false',
    ApiKeySecretArn: API_KEY_ARN,
    ApiKeySecretName: 'together/api-key',
    SigningSecretArn: { Ref: expect.stringMatching(/SigningSecret/) },
    SecretVersion: '1',
  });
  expect(JSON.stringify(props.Url)).toContain('/webhooks/together');
  expect(JSON.stringify(t.toJSON())).not.toMatch(/"SecretString"|resolve:secretsmanager/);
});

test('the handler may read the API key and the signing secret, and nothing else', () => {
  const { t } = synth();
  const statements = functionStatements(t, 'HooksRegistrationHandler');
  expect(statements).toEqual([
    {
      Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
      Effect: 'Allow',
      Resource: API_KEY_ARN,
    },
    {
      Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
      Effect: 'Allow',
      Resource: { Ref: expect.stringMatching(/SigningSecret/) },
    },
  ]);
});

test('options reach the resource: events, base URL, required, secret version, JSON fields', () => {
  const { t } = synth({
    events: ['fine_tune.failed', 'batch.done'],
    apiBaseUrl: 'https://api.together.example/v1',
    required: true,
    secretVersion: '2',
    apiKeyJsonField: 'apiKey',
  });
  t.hasResourceProperties('Custom::TogetherWebhook', {
    Events: ['batch.done', 'fine_tune.failed'],
    ApiBaseUrl: 'https://api.together.example/v1',
    Required: 'true',
    SecretVersion: '2',
    ApiKeyJsonField: 'apiKey',
  });
});

test('status and webhook id are attributes of the resource', () => {
  const { stack, hooks } = synth();
  expect(stack.resolve(hooks.registration!.status)).toEqual({
    'Fn::GetAtt': [expect.stringMatching(/HooksRegistration/), 'Status'],
  });
  expect(stack.resolve(hooks.registration!.webhookId)).toEqual({
    'Fn::GetAtt': [expect.stringMatching(/HooksRegistration/), 'WebhookId'],
  });
});

test('the Provider framework handles the resource with the prebundled handler', () => {
  const { t } = synth();
  t.hasResourceProperties('AWS::Lambda::Function', {
    Handler: 'index.handler',
    Runtime: 'nodejs24.x',
    Timeout: 120,
    Description: 'Registers the webhook endpoint with Together AI',
  });
  t.hasResourceProperties('AWS::Lambda::Function', {
    Description: Match.stringLikeRegexp('onEvent'),
    Environment: { Variables: { USER_ON_EVENT_FUNCTION_ARN: Match.anyValue() } },
  });
});

test.each<[Partial<RegistrationOptions>, RegExp]>([
  [{ events: ['fine_tune.done' as 'batch.done'] }, /unknown event type "fine_tune.done" in events/],
  [{ events: [] }, /events must not be empty, got \[\]/],
  [
    { apiBaseUrl: 'http://api.together.xyz/v1' },
    /apiBaseUrl must be an https URL, got "http:\/\/api.together.xyz\/v1"/,
  ],
  [{ secretVersion: '' }, /secretVersion must not be empty/],
])('invalid options are refused: %j', (options, message) => {
  expect(() => synth(options)).toThrow(message);
});
