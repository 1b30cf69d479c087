import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SQSClient } from '@aws-sdk/client-sqs';
import { sdkClientConfig, SdkLimits } from '../../lambda/shared/sdk-config';
import { flag, ParsedArgs } from './args';

/**
 * The AWS clients of the operating commands (replay, trace, status). Each has explicit limits: the SDK's defaults
 * have no request timeout, and a person at a terminal should get an error, not a hang. `Io.aws` swaps the factory
 * in tests; credentials and region come from `--profile`/`--region` or the SDK's default chain.
 */

export interface AwsClients {
  readonly cloudFormation: CloudFormationClient;
  readonly dynamodb: DynamoDBClient;
  readonly eventBridge: EventBridgeClient;
  readonly cloudWatch: CloudWatchClient;
  readonly logs: CloudWatchLogsClient;
  readonly sqs: SQSClient;
}

export interface AwsOptions {
  readonly region?: string;
  readonly profile?: string;
}

export type AwsFactory = (options: AwsOptions) => AwsClients;

/** Control-plane reads and one StartReplay: a few seconds each, retried by the SDK's standard strategy. */
export const CLI_AWS_LIMITS: SdkLimits = {
  connectionTimeoutMs: 3_000,
  requestTimeoutMs: 10_000,
  maxAttempts: 3,
};

export const realAws: AwsFactory = (options) => {
  const config = {
    ...sdkClientConfig(CLI_AWS_LIMITS),
    ...(options.region ? { region: options.region } : {}),
    ...(options.profile ? { profile: options.profile } : {}),
  };
  return {
    cloudFormation: new CloudFormationClient(config),
    dynamodb: new DynamoDBClient(config),
    eventBridge: new EventBridgeClient(config),
    cloudWatch: new CloudWatchClient(config),
    logs: new CloudWatchLogsClient(config),
    sqs: new SQSClient(config),
  };
};

export function awsOptions(args: ParsedArgs): AwsOptions {
  return { region: flag(args, 'region'), profile: flag(args, 'profile') };
}

/** What an AWS error says, on one line: its name and message (the SDK's are short). */
export function awsError(err: unknown): string {
  const e = err as { name?: unknown; message?: unknown };
  const name = typeof e?.name === 'string' ? e.name : 'Error';
  const message = typeof e?.message === 'string' ? e.message.split('\n')[0] : String(err);
  return message.startsWith(name) ? message : `${name}: ${message}`;
}
