import {
  aws_dynamodb as dynamodb,
  aws_events as events,
  aws_iam as iam,
  aws_lambda as lambda,
  aws_logs as logs,
  Duration,
  RemovalPolicy,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Where a pre-built handler bundle lives: `assets/<name>` at the package root, one level above `lib/` in this
 * repository and two above `dist/lib/` in the published package.
 */
export function handlerAsset(name: string): string {
  const candidates = [join(__dirname, '..', 'assets', name), join(__dirname, '..', '..', 'assets', name)];
  const found = candidates.find((dir) => existsSync(join(dir, 'index.js')));
  if (!found) {
    throw new Error(
      `together-webhooks: the bundled ${name} handler is missing (looked in ${candidates.join(', ')}). ` +
        'In a checkout of this repository run `npm run build:handlers`.',
    );
  }
  return found;
}

export interface BundledFunctionProps {
  /** The handler's name under `assets/`. */
  readonly handler: string;
  readonly description: string;
  readonly timeout: Duration;
  readonly memorySize: number;
  readonly reservedConcurrentExecutions?: number;
  readonly environment?: Record<string, string>;
  readonly logRetention: logs.RetentionDays;
  /** Construct id of its log group, beside the function (ids are public API: kept as first released). */
  readonly logGroupId: string;
}

/** One of the library's pre-bundled handlers: latest Node.js runtime, arm64, JSON logs with retention. */
export function bundledFunction(scope: Construct, id: string, props: BundledFunctionProps): lambda.Function {
  return new lambda.Function(scope, id, {
    description: props.description,
    runtime: lambda.Runtime.NODEJS_24_X,
    architecture: lambda.Architecture.ARM_64,
    handler: 'index.handler',
    code: lambda.Code.fromAsset(handlerAsset(props.handler)),
    timeout: props.timeout,
    memorySize: props.memorySize,
    reservedConcurrentExecutions: props.reservedConcurrentExecutions,
    loggingFormat: lambda.LoggingFormat.JSON,
    logGroup: new logs.LogGroup(scope, props.logGroupId, {
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    }),
    environment: props.environment,
  });
}

/** What the claim -> publish -> complete path calls: four item operations on the table, PutEvents on the bus. */
export function grantClaimPath(grantee: iam.IGrantable, table: dynamodb.ITable, bus: events.IEventBus): void {
  grantClaimItems(grantee, table);
  bus.grantPutEventsTo(grantee);
}

/** Item operations on the dedupe table (claims, and a recipe's own items), with its key: nothing else. */
export function grantClaimItems(grantee: iam.IGrantable, table: dynamodb.ITable): void {
  table.grant(grantee, 'dynamodb:PutItem', 'dynamodb:GetItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem');
  table.encryptionKey?.grantEncryptDecrypt(grantee);
}
