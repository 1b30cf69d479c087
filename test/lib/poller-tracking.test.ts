import {
  App,
  aws_dynamodb as dynamodb,
  aws_kms as kms,
  aws_lambda as lambda,
  aws_secretsmanager as secretsmanager,
  Duration,
  Stack,
} from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { PollerOptions, TogetherWebhooks } from '../../lib';
import { functionStatements } from '../support/iam';

/** Issue 19, the construct side of tracked operations: the opt-in, its expiry, grantTrack and the environment. */

const API_KEY_ARN = 'arn:aws:secretsmanager:us-east-1:111111111111:secret:together/api-key-AbCdEf';

function stackWith(poller: Partial<PollerOptions> = {}) {
  const app = new App({ builtinCloudFormationValidation: false });
  const stack = new Stack(app, 'Track', { env: { account: '111111111111', region: 'us-east-1' } });
  const apiKey = secretsmanager.Secret.fromSecretCompleteArn(stack, 'ApiKey', API_KEY_ARN);
  const hooks = new TogetherWebhooks(stack, 'Hooks', { poller: { apiKey, ...poller } });
  const fn = new lambda.Function(stack, 'Submitter', {
    runtime: lambda.Runtime.NODEJS_24_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('exports.handler = async () => {}'),
  });
  return { stack, hooks, poller: hooks.poller!, fn };
}

const variablesOf = (t: Template, id: RegExp) =>
  Object.entries(t.findResources('AWS::Lambda::Function')).find(
    ([logicalId, f]) => id.test(logicalId) || id.test(String(f.Properties.Description)),
  )![1].Properties.Environment?.Variables as Record<string, unknown>;
const pollerVariables = (t: Template) => variablesOf(t, /^Polls Together AI jobs/);

test('off by default; tracking: true turns both tracked sources on, with a one-day expiry unless told', () => {
  const off = pollerVariables(Template.fromStack(stackWith().stack));
  expect(off).not.toHaveProperty('TRACKING');
  // The handler's default (one day) unless told: a template without tracking carries nothing of it.
  expect(off).not.toHaveProperty('TRACKING_EXPIRY_MINUTES');
  const on = pollerVariables(
    Template.fromStack(stackWith({ tracking: true, trackingExpiry: Duration.hours(6) }).stack),
  );
  expect(on).toMatchObject({ TRACKING: 'true', TRACKING_EXPIRY_MINUTES: '360' });
});

test('grantTrack: UpdateItem on the table, on the inbox key exactly, nothing else; it turns tracking on', () => {
  const { stack, poller, fn } = stackWith();
  const grant = poller.grantTrack(fn);
  poller.addTrackingEnvironment(fn);
  expect(grant.success).toBe(true);
  const t = Template.fromStack(stack);
  expect(poller.trackInboxKey).toBe(`poller#${poller.stateScope}#track`);
  const dynamo = functionStatements(t, 'Submitter').filter((s) =>
    JSON.stringify(s.Action).includes('dynamodb:'),
  );
  expect(dynamo).toEqual([
    {
      Effect: 'Allow',
      Action: 'dynamodb:UpdateItem',
      Resource: { 'Fn::GetAtt': [expect.stringMatching(/^HooksDedupeTable/), 'Arn'] },
      Condition: {
        'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [poller.trackInboxKey] },
        StringEqualsIfExists: { 'dynamodb:ReturnValues': ['NONE', 'UPDATED_OLD'] },
      },
    },
  ]);
  expect(variablesOf(t, /^Submitter/)).toEqual({
    TOGETHER_TRACK_TABLE: { Ref: expect.stringMatching(/^HooksDedupeTable/) },
    TOGETHER_TRACK_SCOPE: poller.stateScope,
  });
  expect(pollerVariables(t)).toMatchObject({ TRACKING: 'true' });
  // The poller itself reads and clears the inbox: it is inside its own state prefix.
  const own = functionStatements(t, 'HooksPollerFunction')
    .filter((s) => JSON.stringify(s.Action).includes('dynamodb:UpdateItem'))
    .flatMap(
      (s) =>
        (s as unknown as { Condition: Record<string, Record<string, string[]>> }).Condition[
          'ForAllValues:StringLike'
        ]['dynamodb:LeadingKeys'],
    );
  expect(own).toContain(`poller#${poller.stateScope}#*`);
});

test('addTrackingEnvironment alone turns tracking on too', () => {
  const { stack, poller, fn } = stackWith();
  poller.addTrackingEnvironment(fn);
  expect(pollerVariables(Template.fromStack(stack))).toMatchObject({ TRACKING: 'true' });
});

test('grantTrack on a table under a customer-managed key: Decrypt and GenerateDataKey on it, through DynamoDB only', () => {
  const app = new App({ builtinCloudFormationValidation: false });
  const stack = new Stack(app, 'Track', { env: { account: '111111111111', region: 'us-east-1' } });
  const apiKey = secretsmanager.Secret.fromSecretCompleteArn(stack, 'ApiKey', API_KEY_ARN);
  const key = new kms.Key(stack, 'TableKey');
  const table = new dynamodb.Table(stack, 'Dedupe', {
    partitionKey: { name: 'id', type: dynamodb.AttributeType.STRING },
    timeToLiveAttribute: 'expiration',
    encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
    encryptionKey: key,
  });
  const hooks = new TogetherWebhooks(stack, 'Hooks', { table, poller: { apiKey } });
  const fn = new lambda.Function(stack, 'Submitter', {
    runtime: lambda.Runtime.NODEJS_24_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('exports.handler = async () => {}'),
  });
  hooks.poller!.grantTrack(fn);
  const t = Template.fromStack(stack);
  const kmsStatements = functionStatements(t, 'Submitter').filter((s) =>
    JSON.stringify(s.Action).includes('kms:'),
  );
  expect(kmsStatements).toEqual([
    {
      Effect: 'Allow',
      Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
      Resource: { 'Fn::GetAtt': [expect.stringMatching(/^TableKey/), 'Arn'] },
      Condition: { StringEquals: { 'kms:ViaService': 'dynamodb.us-east-1.amazonaws.com' } },
    },
  ]);
  // Nor through the key's own policy.
  const keyPolicy = JSON.stringify(Object.values(t.findResources('AWS::KMS::Key'))[0].Properties.KeyPolicy);
  expect(keyPolicy).not.toContain('Submitter');
});
