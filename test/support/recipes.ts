import { Match, Template } from 'aws-cdk-lib/assertions';
import { actionsOf, functionStatements, resourcesFor, Statement } from './iam';

/** What the recipes' construct tests assert of every recipe: how events reach its function, and its role. */

/** Handing an invocation that still fails to the dead-letter queue: in every recipe's role. */
export const DEAD_LETTER_ACTIONS = ['sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage'];

/** Item operations on the recipe's own items of the dedupe table (lib/assets.ts grantClaimItems). */
export const CLAIM_ITEM_ACTIONS = [
  'dynamodb:DeleteItem',
  'dynamodb:GetItem',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
];

/**
 * `type` is routed to the recipe's function (the one whose logical id starts with `fn`) as every recipe's is
 * (lib/recipe-function.ts): a rule on `together.ai` events of that type targets it, with the dead-letter queue if
 * EventBridge cannot invoke it, and an invocation that fails after Lambda's two retries goes to the same queue.
 */
export function expectRoutedTo(
  t: Template,
  type: string,
  fn: string,
  deadLetterQueue = 'HooksDeadLetterQueue',
): void {
  const queue = { 'Fn::GetAtt': [Match.stringLikeRegexp(deadLetterQueue), 'Arn'] };
  t.hasResourceProperties('AWS::Events::Rule', {
    EventPattern: { source: ['together.ai'], 'detail-type': [type] },
    Targets: [
      Match.objectLike({
        Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp(fn), 'Arn'] },
        DeadLetterConfig: { Arn: queue },
      }),
    ],
  });
  t.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
    FunctionName: { Ref: Match.stringLikeRegexp(fn) },
    MaximumRetryAttempts: 2,
    DestinationConfig: { OnFailure: { Destination: queue } },
  });
}

/** The detail-types of every rule that targets the function whose logical id starts with `fn`, a list per rule. */
export function routedTypes(t: Template, fn: string): string[][] {
  return Object.values(t.findResources('AWS::Events::Rule'))
    .filter((r) => JSON.stringify(r.Properties.Targets ?? []).includes(fn))
    .map((r) => r.Properties.EventPattern['detail-type']);
}

/** The poller was asked to follow dedicated endpoints (a recipe that needs `endpoint.ready`). */
export function expectPollerFollowsEndpoints(t: Template): void {
  t.hasResourceProperties('AWS::Lambda::Function', {
    Description: Match.stringLikeRegexp('Polls Together AI jobs'),
    Environment: { Variables: Match.objectLike({ ENDPOINTS: 'true' }) },
  });
}

/** A recipe function's role, as its least-privilege tests read it. */
export interface RoleStatements {
  readonly statements: Statement[];
  /** Every action allowed, sorted. */
  readonly actions: string[];
  /** The resources of the statements whose actions start with `prefix`, as JSON. */
  resourcesFor(prefix: string): string[];
}

/** The IAM statements of the function whose logical id starts with `fn`. */
export function roleStatementsOf(t: Template, fn: string): RoleStatements {
  const statements = functionStatements(t, fn);
  return {
    statements,
    actions: actionsOf(statements),
    resourcesFor: (prefix) => resourcesFor(statements, prefix),
  };
}

/** `actions` sorted, as `RoleStatements.actions` lists them. */
export function sortedActions(...actions: Array<string | readonly string[]>): string[] {
  return actions.flat().sort();
}
