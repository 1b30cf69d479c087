import {
  App,
  aws_iam as iam,
  aws_kms as kms,
  aws_s3 as s3Cdk,
  aws_secretsmanager as secretsmanager,
  Duration,
  Stack,
} from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { DEFAULT_LIMITS } from '../../lambda/batch-results/core';
import { TogetherBatchResults, TogetherBatchResultsProps, TogetherWebhooks } from '../../lib';
import { actionsOf, functionStatements, resourcesFor } from '../support/iam';

/** The TogetherBatchResults construct: its routing, environment, bucket, grants and props. */

const API_KEY_ARN = 'arn:aws:secretsmanager:us-east-1:111111111111:secret:together/api-key-AbCdEf';
function synth(props: Partial<TogetherBatchResultsProps> = {}, withPoller = true) {
  const app = new App({ builtinCloudFormationValidation: false });
  const stack = new Stack(app, 'Batches', { env: { account: '111111111111', region: 'us-east-1' } });
  const apiKey = secretsmanager.Secret.fromSecretCompleteArn(stack, 'Key', API_KEY_ARN);
  const webhooks = new TogetherWebhooks(stack, 'Hooks', withPoller ? { poller: { apiKey } } : {});
  const results = new TogetherBatchResults(stack, 'Results', { webhooks, ...props });
  return { t: Template.fromStack(stack), stack, results };
}

test('batch.done is routed to it; its settings arrive as plain values; a bucket that aborts stale uploads', () => {
  const { t } = synth();
  t.hasResourceProperties('AWS::Events::Rule', {
    EventPattern: { source: ['together.ai'], 'detail-type': ['batch.done'] },
    Targets: [
      Match.objectLike({ Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('ResultsFunction'), 'Arn'] } }),
    ],
  });
  t.hasResourceProperties('AWS::Lambda::Function', {
    Description: Match.stringLikeRegexp('batch results to S3'),
    Timeout: 900,
    MemorySize: 512,
    Environment: {
      Variables: Match.objectLike({
        API_KEY_SECRET_ARN: API_KEY_ARN,
        API_BASE_URL: 'https://api.together.xyz/v1',
        KEY_PREFIX: 'together-batches/',
        RETENTION_DAYS: '7',
        BUCKET_NAME: { Ref: Match.stringLikeRegexp('ResultsBucket') },
      }),
    },
  });
  t.hasResourceProperties('AWS::S3::Bucket', {
    LifecycleConfiguration: {
      Rules: [Match.objectLike({ AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } })],
    },
    PublicAccessBlockConfiguration: Match.objectLike({
      BlockPublicAcls: true,
      RestrictPublicBuckets: true,
    }),
  });
  t.hasResource('AWS::S3::Bucket', { DeletionPolicy: 'Retain' });
});

test('least privilege: its key, objects under its prefix, the claim items and PutEvents on its bus, the DLQ', () => {
  const { t } = synth();
  const statements = functionStatements(t, 'ResultsFunction');
  // GetItem twice: on its own claims, and alone on the unscoped claims of the release before (test/table-grants).
  expect(actionsOf(statements)).toEqual([
    'dynamodb:DeleteItem',
    'dynamodb:GetItem',
    'dynamodb:GetItem',
    'dynamodb:PutItem',
    'dynamodb:UpdateItem',
    'events:PutEvents',
    's3:AbortMultipartUpload',
    's3:PutObject',
    'secretsmanager:DescribeSecret',
    'secretsmanager:GetSecretValue',
    'sqs:GetQueueAttributes',
    'sqs:GetQueueUrl',
    'sqs:SendMessage',
  ]);
  expect(resourcesFor(statements, 'secretsmanager:')).toEqual([JSON.stringify(API_KEY_ARN)]);
  const [objects] = resourcesFor(statements, 's3:');
  expect(objects).toContain('/together-batches/*');
  expect(resourcesFor(statements, 'events:')).toEqual([
    JSON.stringify({ 'Fn::GetAtt': [Object.keys(t.findResources('AWS::Events::EventBus'))[0], 'Arn'] }),
  ]);
  expect(JSON.stringify(statements)).not.toContain('"*"');
});

test('a bucket of yours with a KMS key: the key is granted for multipart uploads; grantRead reads the prefix only', () => {
  const app = new App({ builtinCloudFormationValidation: false });
  const stack = new Stack(app, 'Own', { env: { account: '111111111111', region: 'us-east-1' } });
  const apiKey = secretsmanager.Secret.fromSecretCompleteArn(stack, 'Key', API_KEY_ARN);
  const key = new kms.Key(stack, 'BucketKey');
  const bucket = new s3Cdk.Bucket(stack, 'Own', { encryptionKey: key });
  const webhooks = new TogetherWebhooks(stack, 'Hooks', {});
  const results = new TogetherBatchResults(stack, 'Results', {
    webhooks,
    bucket,
    apiKey,
    keyPrefix: 'batches/',
    timeout: Duration.minutes(10),
  });
  const reader = new iam.Role(stack, 'Reader', { assumedBy: new iam.AccountRootPrincipal() });
  results.grantRead(reader);
  const t = Template.fromStack(stack);
  expect(Object.keys(t.findResources('AWS::S3::Bucket'))).toEqual([expect.stringMatching(/^Own/)]);
  const statements = functionStatements(t, 'ResultsFunction');
  expect(actionsOf(statements)).toEqual(expect.arrayContaining(['kms:Decrypt', 'kms:GenerateDataKey']));
  expect(JSON.stringify(statements)).toContain('/batches/*');
  const readerPolicy = Object.values(t.findResources('AWS::IAM::Policy')).find((p) =>
    JSON.stringify(p.Properties.Roles).includes('Reader'),
  );
  expect(JSON.stringify(readerPolicy)).toContain('/batches/*');
  t.hasResourceProperties('AWS::Lambda::Function', {
    Description: Match.stringLikeRegexp('batch results to S3'),
    Timeout: 600,
  });
  expect(results.metricBatchTokens('acme/llama').dimensions).toEqual({ Model: 'acme/llama' });
});

test('the minimum timeout leaves a minute to work after the reserve for finishing', () => {
  expect(DEFAULT_LIMITS.finishReserveMs + DEFAULT_LIMITS.minWorkMs + 60_000).toBeLessThan(
    Duration.minutes(5).toMilliseconds(),
  );
});

test('props are checked early, with the value received', () => {
  expect(() => synth({}, false)).toThrow('TogetherBatchResults: no API key to download files with');
  expect(() => synth({ keyPrefix: '/abs/' })).toThrow('keyPrefix must be up to 512');
  expect(() => synth({ keyPrefix: 'a*' })).toThrow('got "a*"');
  expect(() => synth({ timeout: Duration.minutes(2) })).toThrow(
    'TogetherBatchResults: timeout must be from 5 minutes to 15 minutes, got 2 minutes',
  );
  expect(() => synth({ memorySize: 256 })).toThrow(
    'memorySize must be an integer from 512 to 10240, got 256',
  );
  expect(() => synth({ apiBaseUrl: 'http://api.together.xyz/v1' })).toThrow(
    'apiBaseUrl must be an https URL, got "http://api.together.xyz/v1"',
  );
});

test("the environment is the handler's: a JSON field only when given, an empty keyPrefix kept (the bucket's root)", () => {
  const variables = (t: Template) => {
    const [fn] = Object.values(t.findResources('AWS::Lambda::Function')).filter((f) =>
      JSON.stringify(f).includes('BUCKET_NAME'),
    );
    return fn.Properties.Environment.Variables;
  };
  expect(variables(synth().t)).not.toHaveProperty('API_KEY_JSON_FIELD');
  expect(variables(synth({ apiKeyJsonField: 'apiKey' }).t)).toMatchObject({ API_KEY_JSON_FIELD: 'apiKey' });
  const root = synth({ keyPrefix: '' });
  expect(root.results.keyPrefix).toBe('');
  expect(variables(root.t)).toMatchObject({ KEY_PREFIX: '' });
  const [objects] = resourcesFor(functionStatements(root.t, 'ResultsFunction'), 's3:');
  expect(objects).toMatch(/"\/\*"\]\]\}$/);
});
