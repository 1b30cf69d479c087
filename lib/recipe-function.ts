import {
  aws_events_targets as targets,
  aws_lambda as lambda,
  aws_lambda_destinations as destinations,
  aws_logs as logs,
  Duration,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { bundledFunction } from './assets';
import type { ClaimsEnvironment } from './contract';
import type { TogetherWebhooks } from './together-webhooks';

export interface RecipeFunctionProps {
  readonly webhooks: TogetherWebhooks;
  /** Its bundle under `assets/`. */
  readonly handler: string;
  readonly description: string;
  /** Catalogue types routed to it. */
  readonly eventTypes: readonly string[];
  readonly timeout: Duration;
  readonly memorySize?: number;
  readonly environment?: Record<string, string>;
  readonly logRetention?: logs.RetentionDays;
}

/**
 * A recipe's handler: routed from the bus like any user target (the construct's dead-letter queue if EventBridge
 * cannot invoke it), and an invocation that still fails after Lambda's own two retries goes to the same queue, so a
 * recipe loses no event either. Construct ids `Function` and `Logs` beside it.
 */
export function recipeFunction(scope: Construct, props: RecipeFunctionProps): lambda.Function {
  const fn = bundledFunction(scope, 'Function', {
    handler: props.handler,
    description: props.description,
    timeout: props.timeout,
    memorySize: props.memorySize ?? 256,
    logRetention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
    logGroupId: 'Logs',
    environment: props.environment,
  });
  fn.configureAsyncInvoke({
    retryAttempts: 2,
    maxEventAge: Duration.hours(6),
    onFailure: new destinations.SqsDestination(props.webhooks.deadLetterQueue),
  });
  for (const type of props.eventTypes) props.webhooks.onEvent(type, new targets.LambdaFunction(fn));
  return fn;
}

/**
 * The claims part of a recipe's environment: the receiver's dedupe table, the recipe construct's own claim scope
 * (its node address, as the prefixes it is granted), and the receiver's `dedupeRetention` in days.
 */
export function recipeClaimsEnvironment(recipe: Construct, webhooks: TogetherWebhooks): ClaimsEnvironment {
  return {
    TABLE_NAME: webhooks.table.tableName,
    CLAIM_SCOPE: recipe.node.addr,
    RETENTION_DAYS: String(webhooks.dedupeRetention.toDays({ integral: false })),
  };
}
