import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { ExampleStack } from '../../bin/example-stack';

/** README's Teardown says what `cdk destroy` leaves: the example app's template keeps exactly those. */

const root = join(__dirname, '..', '..');
const cdkJsonContext = JSON.parse(readFileSync(join(root, 'cdk.json'), 'utf8')).context as Record<
  string,
  unknown
>;
const app = new App({
  builtinCloudFormationValidation: false,
  context: { ...cdkJsonContext, 'aws:cdk:bundling-stacks': [] },
});
const stack = new ExampleStack(app, 'TogetherWebhooksExample', {
  env: { account: '111111111111', region: 'us-east-1' },
  apiKeySecretName: 'together/api-key',
  alertEmail: 'ml-oncall@example.com',
  watchModels: ['meta-llama/Llama-3.3-70B-Instruct-Turbo'],
});
const resources = Object.values(
  Template.fromStack(stack).toJSON().Resources as Record<string, { Type: string; DeletionPolicy?: string }>,
);
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const teardown = readme.slice(
  readme.indexOf('## Teardown'),
  readme.indexOf('\n## ', readme.indexOf('## Teardown') + 1),
);

test('what the example app retains is what the README lists', () => {
  const retained = resources.filter((r) => r.DeletionPolicy === 'Retain').map((r) => r.Type);
  expect(retained.sort()).toEqual(['AWS::DynamoDB::Table', 'AWS::KMS::Key', 'AWS::S3::Bucket']);
  expect(teardown).toContain('**the dedupe table**');
  expect(teardown).toContain('**the batch results bucket**');
  expect(teardown).toContain("**the alert topic's KMS key**");
});

test('what the README says is deleted is deleted', () => {
  const policy = (type: string) => [
    ...new Set(resources.filter((r) => r.Type === type).map((r) => r.DeletionPolicy)),
  ];
  expect(policy('AWS::Logs::LogGroup')).toEqual(['Delete']);
  expect(policy('AWS::SecretsManager::Secret')).toEqual(['Delete']);
  expect(policy('AWS::SQS::Queue')).toEqual(['Delete']);
  for (const type of [
    'AWS::Events::EventBus',
    'AWS::Events::Archive',
    'AWS::SSM::Parameter',
    'AWS::CloudWatch::Alarm',
  ])
    expect(policy(type)).toEqual([undefined]); // CloudFormation's default: deleted with the stack
  expect(teardown).toMatch(/Deleted with the stack: the generated signing secret, every log group/);
});
