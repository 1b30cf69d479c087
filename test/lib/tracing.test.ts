import { App, aws_secretsmanager as secretsmanager, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { TogetherWebhooks, TogetherWebhooksProps } from '../../lib';
import { actionsOf, functionStatements } from '../support/iam';

/** `tracing: true` (issue 20): X-Ray active tracing of the verifier and the poller; nothing else changes. */

function synth(props: Partial<TogetherWebhooksProps>) {
  const app = new App({ builtinCloudFormationValidation: false });
  const stack = new Stack(app, 'Traced', { env: { account: '111111111111', region: 'us-east-1' } });
  const apiKey = secretsmanager.Secret.fromSecretCompleteArn(
    stack,
    'ApiKey',
    'arn:aws:secretsmanager:us-east-1:111111111111:secret:together/api-key-AbCdEf',
  );
  new TogetherWebhooks(stack, 'Hooks', { poller: { apiKey }, ...props });
  return Template.fromStack(stack);
}

const tracingOf = (t: Template, prefix: string) => {
  const [fn] = Object.entries(t.findResources('AWS::Lambda::Function')).filter(([id]) =>
    id.startsWith(prefix),
  );
  return (fn[1].Properties as { TracingConfig?: unknown }).TracingConfig;
};

test('off by default: no tracing config, no X-Ray permission', () => {
  const t = synth({});
  for (const fn of ['HooksVerifier', 'HooksPollerFunction']) {
    expect(tracingOf(t, fn)).toBeUndefined();
    expect(actionsOf(functionStatements(t, fn)).filter((a) => a.startsWith('xray:'))).toEqual([]);
  }
});

test('tracing: true traces the verifier and the poller actively, with only the X-Ray write actions', () => {
  const t = synth({ tracing: true });
  for (const fn of ['HooksVerifier', 'HooksPollerFunction']) {
    expect(tracingOf(t, fn)).toEqual({ Mode: 'Active' });
    // X-Ray's write actions take no resource ARN: "*" is the only resource they accept.
    expect(actionsOf(functionStatements(t, fn)).filter((a) => a.startsWith('xray:'))).toEqual([
      'xray:PutTelemetryRecords',
      'xray:PutTraceSegments',
    ]);
  }
});

test('a plain-JS caller passing tracing: "on" is told what it gave', () => {
  expect(() => synth({ tracing: 'on' as unknown as boolean })).toThrow(/tracing.*on/);
});
