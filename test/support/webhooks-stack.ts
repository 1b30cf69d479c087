import { App, aws_lambda as lambda, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { TogetherWebhooks, TogetherWebhooksProps } from '../../lib';
import { functionStatements, Statement } from './iam';

// The stacks the TogetherWebhooks template tests (test/lib/together-webhooks*.test.ts) synthesize.

export const ENV = { account: '111111111111', region: 'us-east-1' };

/** A stack holding one TogetherWebhooks, `Hooks`. */
export function stackWith(props?: TogetherWebhooksProps): { stack: Stack; hooks: TogetherWebhooks } {
  const app = new App({ builtinCloudFormationValidation: false });
  const stack = new Stack(app, 'Test', { env: ENV });
  const hooks = new TogetherWebhooks(stack, 'Hooks', props);
  return { stack, hooks };
}

export function template(props?: TogetherWebhooksProps): Template {
  return Template.fromStack(stackWith(props).stack);
}

/** A function to route events to. */
export function handlerFn(stack: Stack, id: string): lambda.Function {
  return new lambda.Function(stack, id, {
    runtime: lambda.Runtime.NODEJS_24_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('exports.handler = async () => {}'),
  });
}

/** The IAM statements of the verifier of `Hooks`. */
export const verifierStatements = (t: Template): Statement[] => functionStatements(t, 'HooksVerifier');
