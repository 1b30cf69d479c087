import { App, aws_secretsmanager as secretsmanager, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import {
  TogetherAutoDeploy,
  TogetherBatchResults,
  TogetherFineTuneRetry,
  TogetherModelAliases,
  TogetherTrainingMonitor,
  TogetherWebhooks,
} from '../../lib';
import { readAutoDeployConfig } from '../../lambda/auto-deploy/config';
import { readBatchResultsConfig } from '../../lambda/batch-results/config';
import { readFineTuneRetryConfig } from '../../lambda/fine-tune-retry/config';
import { readModelAliasesConfig } from '../../lambda/model-aliases/config';
import { readPollerEnv } from '../../lambda/poller/config';
import { readTrainingMonitorConfig } from '../../lambda/training-monitor/config';
import { readVerifierConfig } from '../../lambda/verifier/config';

// lib/contract.ts makes a misspelt name fail to compile on either side; what it cannot see is a variable a
// construct writes and its handler never reads. This reads every function's environment, as synthesized with every
// optional variable on, through its handler's own config reader, and checks each name written was read.

const ARN = 'arn:aws:secretsmanager:us-east-1:111111111111:secret:together/api-key-AbCdEf';

function synthesizedEnvironments(): Map<string, Record<string, unknown>> {
  const app = new App({ builtinCloudFormationValidation: false });
  const stack = new Stack(app, 'Env', { env: { account: '111111111111', region: 'us-east-1' } });
  const apiKey = secretsmanager.Secret.fromSecretCompleteArn(stack, 'ApiKey', ARN);
  const webhooks = new TogetherWebhooks(stack, 'Hooks', {
    secretJsonField: 'signing',
    poller: {
      apiKey,
      apiKeyJsonField: 'key',
      watchModels: ['m'],
      evaluations: true,
      endpoints: true,
      fastFollow: Duration.seconds(10),
    },
  });
  new TogetherAutoDeploy(stack, 'AutoDeploy', {
    webhooks,
    hardware: '1x_nvidia_h100_80gb_sxm',
    maxEvalLoss: 1,
    modelNamePrefix: 'p',
    inactiveTimeout: Duration.hours(1),
    apiKeyJsonField: 'key',
  });
  new TogetherModelAliases(stack, 'ModelAliases', {
    webhooks,
    aliases: [{ name: 'chat', model: 'm', followDeploymentsOf: 'p' }],
    switchOnDeprecation: true,
  });
  new TogetherBatchResults(stack, 'BatchResults', { webhooks, apiKeyJsonField: 'key' });
  new TogetherTrainingMonitor(stack, 'Training', { webhooks });
  new TogetherFineTuneRetry(stack, 'FineTuneRetry', { webhooks, apiKeyJsonField: 'key' });
  const found = new Map<string, Record<string, unknown>>();
  for (const [id, r] of Object.entries(Template.fromStack(stack).findResources('AWS::Lambda::Function'))) {
    const variables = r.Properties?.Environment?.Variables as Record<string, unknown> | undefined;
    if (variables) found.set(id, variables);
  }
  return found;
}

/** What the handler would see: the literal values, a plausible stand-in for each CloudFormation reference. */
function deployed(variables: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(variables).map(([name, value]) => [
      name,
      typeof value === 'string' ? value : name.endsWith('_ARN') ? ARN : `resolved-${name.toLowerCase()}`,
    ]),
  );
}

function namesRead(
  reader: (env: Readonly<Record<string, string | undefined>>) => unknown,
  env: Record<string, string>,
) {
  const seen = new Set<string>();
  reader(new Proxy(env, { get: (t, name) => (seen.add(String(name)), Reflect.get(t, name)) }));
  return seen;
}

const READERS: [RegExp, (env: Readonly<Record<string, string | undefined>>) => unknown][] = [
  [/^HooksVerifier/, readVerifierConfig],
  [/^HooksPollerFunction/, readPollerEnv],
  [/^AutoDeployFunction/, readAutoDeployConfig],
  [/^ModelAliasesFunction/, readModelAliasesConfig],
  [/^BatchResultsFunction/, readBatchResultsConfig],
  [/^TrainingFunction/, readTrainingMonitorConfig],
  [/^FineTuneRetryFunction/, readFineTuneRetryConfig],
];

const environments = synthesizedEnvironments();

test.each(READERS.map(([pattern, reader]) => [pattern.source.slice(1), pattern, reader] as const))(
  '%s reads every variable its construct writes',
  (_name, pattern, reader) => {
    const ids = [...environments.keys()].filter((id) => pattern.test(id));
    expect(ids).toHaveLength(1);
    const env = deployed(environments.get(ids[0])!);
    const read = namesRead(reader, env);
    expect(Object.keys(env).filter((name) => !read.has(name))).toEqual([]);
  },
);

test('every function that has an environment is one of the handlers above', () => {
  const known = [...environments.keys()].filter((id) => READERS.some(([p]) => p.test(id)));
  // The custom resource framework's own function is CDK's, not ours.
  const others = [...environments.keys()].filter(
    (id) => !known.includes(id) && !/Providerframework/.test(id),
  );
  expect(others).toEqual([]);
});
