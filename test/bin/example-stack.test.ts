import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { IConstruct } from 'constructs';
import { ExampleStack, examplePropsFromContext } from '../../bin/example-stack';
import { EVENT_TYPES } from '../../lib/events';

/** The feature flags `npm run synth` runs with (cdk.json: the ones CDK recommends, as `cdk init` sets them). */
const cdkJsonContext = JSON.parse(readFileSync(join(__dirname, '..', '..', 'cdk.json'), 'utf8'))
  .context as Record<string, unknown>;

function exampleApp(): { app: App; stack: ExampleStack } {
  // No handler bundling and no template checker: this tests the tree, not esbuild (README's synth does both).
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
  return { app, stack };
}

const { app, stack } = exampleApp();
const template = Template.fromStack(stack);

test('cdk-nag AwsSolutions: no unacknowledged finding in the example stack', () => {
  const report = new AwsSolutionsChecks(app).validateScope(stack);
  const findings = report.violations.map(
    (v) =>
      `${v.ruleName} at ${v.violatingResources.map((r) => r.resourceLogicalId ?? r.locations?.join()).join(', ')}`,
  );
  expect(findings).toEqual([]);
});

test('every acknowledgement names a full finding id and carries a specific reason', () => {
  const acks: Array<{ id: string; reason: string }> = [];
  const visit = (c: IConstruct) => {
    for (const entry of c.node.metadata.filter(
      (m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY,
    )) {
      // Recorded as { "<kind>::<rule id>": reason }.
      for (const [key, reason] of Object.entries(entry.data as Record<string, string>)) {
        acks.push({ id: key.replace(/^[A-Za-z]+::/, ''), reason });
      }
    }
    c.node.children.forEach(visit);
  };
  visit(stack);
  expect(acks.length).toBeGreaterThan(0);
  for (const ack of acks) {
    expect(ack.id).toMatch(/^AwsSolutions-[A-Z]+\d+/);
    expect(ack.reason.length).toBeGreaterThan(60);
  }
});

test('a handler Lambda for each of the five designed event types, and the alert topic mailed', () => {
  const designed = [
    'fine_tune.completed',
    'fine_tune.failed',
    'fine_tune.checkpoint',
    'model.deprecated',
    'batch.done',
  ];
  expect(EVENT_TYPES).toEqual(expect.arrayContaining(designed));
  for (const type of designed) {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { source: ['together.ai'], 'detail-type': [type] },
      Targets: Match.arrayWith([
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [Match.anyValue(), 'Arn'] },
          DeadLetterConfig: Match.anyValue(),
        }),
      ]),
    });
  }
  template.hasResourceProperties('AWS::SNS::Subscription', {
    Protocol: 'email',
    Endpoint: 'ml-oncall@example.com',
  });
  template.hasOutput('WebhookUrl', {
    Value: { 'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp('/webhooks/together')])] },
  });
});

test('the five recipes are wired: each routed from its events, with its resources', () => {
  const routedTo = (type: string) =>
    Object.values(template.findResources('AWS::Events::Rule'))
      .filter((r) => JSON.stringify(r.Properties.EventPattern?.['detail-type']) === JSON.stringify([type]))
      .flatMap((r) =>
        r.Properties.Targets.map((t: { Arn: { 'Fn::GetAtt': string[] } }) => t.Arn['Fn::GetAtt']?.[0]),
      )
      .filter((id) => id !== undefined);
  expect(routedTo('fine_tune.completed')).toEqual(
    expect.arrayContaining([expect.stringMatching(/^AutoDeployFunction/)]),
  );
  expect(routedTo('model.deprecated')).toEqual(
    expect.arrayContaining([expect.stringMatching(/^ModelAliasesFunction/)]),
  );
  expect(routedTo('endpoint.ready')).toEqual(
    expect.arrayContaining([expect.stringMatching(/^ModelAliasesFunction/)]),
  );
  expect(routedTo('batch.done')).toEqual([expect.stringMatching(/^BatchResultsFunction/)]);
  expect(routedTo('fine_tune.checkpoint')).toEqual(
    expect.arrayContaining([expect.stringMatching(/^TrainingFunction/)]),
  );
  expect(routedTo('fine_tune.failed')).toEqual(
    expect.arrayContaining([expect.stringMatching(/^FineTuneRetryFunction/)]),
  );
  template.hasResourceProperties('AWS::Lambda::Function', {
    Description: Match.stringLikeRegexp('Polls Together AI jobs'),
    Environment: { Variables: Match.objectLike({ ENDPOINTS: 'true' }) },
  });
  template.hasResourceProperties('AWS::SSM::Parameter', {
    Name: '/together/models/chat',
    Value: 'meta-llama/Llama-3.3-70B-Instruct-Turbo',
  });
  template.hasResourceProperties('AWS::SSM::Parameter', { Name: '/together/models/fine-tuned' });
  template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
  template.hasOutput('BatchResultsBucket', { Value: { Ref: Match.stringLikeRegexp('^BatchResultsBucket') } });
});

test('-c autoDeploy=false leaves out auto-deploy (and the alias that follows its deployments)', () => {
  const app = new App({
    builtinCloudFormationValidation: false,
    context: { ...cdkJsonContext, 'aws:cdk:bundling-stacks': [] },
  });
  const quiet = new ExampleStack(app, 'NoAutoDeploy', {
    env: { account: '111111111111', region: 'us-east-1' },
    apiKeySecretName: 'together/api-key',
    watchModels: ['meta-llama/Llama-3.3-70B-Instruct-Turbo'],
    autoDeploy: false,
  });
  const t = Template.fromStack(quiet);
  expect(quiet.autoDeploy).toBeUndefined();
  expect(JSON.stringify(t.toJSON())).not.toContain('AutoDeployFunction');
  expect(JSON.stringify(t.toJSON())).not.toContain('/together/models/fine-tuned');
});

test('-c context becomes the example props; fineTunePrefix filters auto-deploy and what the alias follows', () => {
  const withContext = (context: Record<string, unknown>) =>
    examplePropsFromContext(new App({ context }).node);
  expect(withContext({})).toEqual({
    apiKeySecretName: 'together/api-key',
    watchModels: ['meta-llama/Llama-3.3-70B-Instruct-Turbo', 'Qwen/Qwen3.5-9B'],
    autoDeploy: true,
  });
  const props = withContext({
    alertEmail: 'ml@example.com',
    apiKeySecretName: 'prod/together',
    watchModels: 'a/x, b/y',
    autoDeploy: 'false',
    fineTunePrefix: 'acme/',
  });
  expect(props).toEqual({
    alertEmail: 'ml@example.com',
    apiKeySecretName: 'prod/together',
    watchModels: ['a/x', 'b/y'],
    autoDeploy: false,
    fineTunePrefix: 'acme/',
  });
  const app2 = new App({
    builtinCloudFormationValidation: false,
    context: { 'aws:cdk:bundling-stacks': [] },
  });
  const prefixed = new ExampleStack(app2, 'Prefixed', {
    ...props,
    autoDeploy: true,
    env: { account: '111111111111', region: 'us-east-1' },
  });
  const t = Template.fromStack(prefixed);
  t.hasResourceProperties('AWS::Lambda::Function', {
    Description: Match.stringLikeRegexp('Deploys completed Together AI fine-tunes'),
    Environment: {
      Variables: Match.objectLike({
        HARDWARE: '1x_nvidia_h100_80gb_sxm',
        MAX_EVAL_LOSS: '1',
        MODEL_NAME_PREFIX: 'acme/',
        INACTIVE_TIMEOUT_MINUTES: '60',
      }),
    },
  });
  expect(JSON.stringify(t.toJSON())).toContain('"follow\\":\\"acme/\\"');
  for (const output of ['BatchResultsBucket', 'ModelAliasParameters', 'DashboardName'])
    expect(Object.keys(t.findOutputs(output))).toEqual([output]);
});

test('no secret value in the synthesized template', () => {
  const text = JSON.stringify(template.toJSON());
  expect(text).not.toMatch(/"SecretString"/);
  expect(text).not.toMatch(/SecretStringValue|unsafePlainText/);
  const env = Object.values(template.findResources('AWS::Lambda::Function')).map(
    (f) => f.Properties.Environment?.Variables ?? {},
  );
  for (const vars of env) {
    for (const [name, value] of Object.entries(vars)) {
      if (/(_SECRET|SECRET_ARN)$/.test(name))
        expect(JSON.stringify(value)).toMatch(/Ref|arn:|Fn::Join|secretsmanager/);
    }
  }
});

test('snapshot (asset hashes scrubbed)', () => {
  const json = JSON.stringify(template.toJSON(), null, 1)
    .replace(/[0-9a-f]{64}(\.zip)?/g, '[asset]')
    .replace(/"cdk-hnb659fds-assets-[^"]+"/g, '"[asset-bucket]"');
  expect(JSON.parse(json)).toMatchSnapshot();
});

test("README's construct example synthesizes as written", () => {
  const readme = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');
  const code = /```ts\n(import \{ App[\s\S]*?)```/.exec(readme)?.[1];
  expect(code).toContain("from 'together-webhooks'");
  // Inside the repository, so aws-cdk-lib resolves from node_modules as it would in a user's app.
  const dir = join(__dirname, '..', '..', 'build', 'readme-example');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'app.ts');
  writeFileSync(
    file,
    code!.replace("'together-webhooks'", JSON.stringify(join(__dirname, '..', '..', 'lib'))) +
      '\napp.synth();\n',
  );
  execFileSync(process.execPath, ['--import', 'tsx', file], {
    cwd: join(__dirname, '..', '..'),
    env: { ...process.env, CDK_OUTDIR: join(dir, 'out'), CDK_VALIDATION: 'false' },
  });
  const synthesized = JSON.parse(readFileSync(join(dir, 'out', 'MlPlatform.template.json'), 'utf8'));
  const rules = Object.values(
    synthesized.Resources as Record<
      string,
      { Type: string; Properties: { EventPattern?: { 'detail-type'?: string[] } } }
    >,
  )
    .filter((r) => r.Type === 'AWS::Events::Rule')
    .map((r) => r.Properties.EventPattern?.['detail-type']?.[0]);
  expect(rules).toEqual(expect.arrayContaining(['fine_tune.completed', 'batch.done']));
});

test('the example turns on registration and the poller with a watched model list', () => {
  template.resourceCountIs('Custom::TogetherWebhook', 1);
  template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(1 minute)' });
  template.hasResourceProperties('AWS::Lambda::Function', {
    Environment: {
      Variables: Match.objectLike({ WATCH_MODELS: '["meta-llama/Llama-3.3-70B-Instruct-Turbo"]' }),
    },
  });
  template.hasOutput('RegistrationStatus', { Value: { 'Fn::GetAtt': [Match.anyValue(), 'Status'] } });
});
