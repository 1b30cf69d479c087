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
  /** X-Ray active tracing; its trace header rides on each event it publishes, to the targets. */
  readonly tracing?: boolean;
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
    tracing: props.tracing ? lambda.Tracing.ACTIVE : undefined,
  });
}

/** Which items of the dedupe table a role may touch, by key prefix (`dynamodb:LeadingKeys`): nothing else. */
export interface TableItemsGrant {
  /** Prefixes of the items it claims, reads, updates and deletes. */
  readonly prefixes: readonly string[];
  /** Prefixes of items it may only read: claims an earlier release made, honoured on upgrade. */
  readonly readOnlyPrefixes?: readonly string[];
}

const ITEM_ACTIONS = ['dynamodb:PutItem', 'dynamodb:GetItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'];

/** What the claim -> publish -> complete path calls: item operations on its own keys, PutEvents on the bus. */
export function grantClaimPath(
  grantee: iam.IGrantable,
  table: dynamodb.ITable,
  bus: events.IEventBus,
  items: TableItemsGrant,
): void {
  grantClaimItems(grantee, table, items);
  bus.grantPutEventsTo(grantee);
}

/** Item operations on the dedupe table, on the keys `items` names only, with the table's key. */
export function grantClaimItems(
  grantee: iam.IGrantable,
  table: dynamodb.ITable,
  items: TableItemsGrant,
): void {
  const onKeys = (actions: string[], prefixes: readonly string[]) =>
    iam.Grant.addToPrincipal({
      grantee,
      actions,
      resourceArns: [table.tableArn],
      // Every item operation names its key: a request for another key matches no pattern and is denied.
      conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': prefixes.map((p) => `${p}*`) } },
    });
  onKeys(ITEM_ACTIONS, items.prefixes);
  if (items.readOnlyPrefixes?.length) onKeys(['dynamodb:GetItem'], items.readOnlyPrefixes);
  table.encryptionKey?.grantEncryptDecrypt(grantee);
}
