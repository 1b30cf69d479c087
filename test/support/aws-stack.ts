import {
  CloudFormationClient,
  GetTemplateCommand,
  ListStackResourcesCommand,
  StackResourceSummary,
} from '@aws-sdk/client-cloudformation';
import { Rule } from '@aws-sdk/client-eventbridge';
import { App, aws_events_targets as targets, aws_secretsmanager as sm, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { mockClient } from 'aws-sdk-client-mock';
import { Construct } from 'constructs';
import { AwsClients, AwsFactory, AwsOptions, realAws } from '../../bin/cli/aws';
import { ApiClock } from '../../lambda/shared/together-api';
import { TogetherWebhooks } from '../../lib';
import { ENV, handlerFn } from './webhooks-stack';

/**
 * A deployed stack as CloudFormation describes it, for the operating commands (replay, trace, status): the real
 * template of a TogetherWebhooks with a poller, one level down in a user's construct (`Platform/Hooks`), and the
 * physical ids CloudFormation would give each resource, in ListStackResources' shape (two pages).
 */

export const STACK = 'MlPlatform';
const ACCOUNT = ENV.account;
const REGION = ENV.region;

export interface DeployedStack {
  readonly template: Record<string, unknown>;
  readonly resources: StackResourceSummary[];
  readonly claimScope: string;
  readonly stateScope: string;
  /** The physical id of the resource whose logical id starts with `logicalPrefix`. */
  physical(logicalPrefix: string): string;
}

let cached: DeployedStack | undefined;

export function deployedStack(): DeployedStack {
  if (cached) return cached;
  const app = new App({ builtinCloudFormationValidation: false });
  const stack = new Stack(app, STACK, { env: ENV });
  const platform = new Construct(stack, 'Platform');
  const apiKey = sm.Secret.fromSecretNameV2(stack, 'ApiKey', 'together/api-key');
  const hooks = new TogetherWebhooks(platform, 'Hooks', { poller: { apiKey } });
  hooks.onEvent('fine_tune.completed', new targets.LambdaFunction(handlerFn(stack, 'OnCompleted')));
  const template = Template.fromStack(stack).toJSON() as { Resources: Record<string, { Type: string }> };
  const resources = Object.entries(template.Resources).map(([id, r]) => ({
    LogicalResourceId: id,
    ResourceType: r.Type,
    PhysicalResourceId: physicalId(id, r.Type),
    ResourceStatus: 'CREATE_COMPLETE' as const,
    LastUpdatedTimestamp: new Date('2026-11-20T09:00:00Z'),
  }));
  const physical = (prefix: string) => {
    const found = resources.find((r) => r.LogicalResourceId.startsWith(prefix));
    if (!found) throw new Error(`no resource ${prefix}* in the test stack`);
    return found.PhysicalResourceId;
  };
  cached = {
    template,
    resources,
    claimScope: hooks.claimScope,
    stateScope: hooks.poller!.stateScope,
    physical,
  };
  return cached;
}

/** What CloudFormation names each kind of resource (a queue by its URL, most others by a generated name). */
function physicalId(logicalId: string, type: string): string {
  const name = `${STACK}-${logicalId.slice(0, 40)}-1ABCDEF`;
  if (type === 'AWS::SQS::Queue') return `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/${name}`;
  if (type === 'AWS::Logs::LogGroup') return `/aws/lambda/${name}`;
  return name;
}

/** CloudFormation answering for the deployed stack, and "does not exist" for any other. */
export function stubCloudFormation(deployed: DeployedStack = deployedStack()) {
  const cfn = mockClient(CloudFormationClient);
  const half = Math.ceil(deployed.resources.length / 2);
  const missing = Object.assign(new Error(`Stack with id Other does not exist`), { name: 'ValidationError' });
  cfn.on(ListStackResourcesCommand).rejects(missing);
  cfn.on(GetTemplateCommand).rejects(missing);
  cfn
    .on(ListStackResourcesCommand, { StackName: STACK, NextToken: undefined })
    .resolves({ StackResourceSummaries: deployed.resources.slice(0, half), NextToken: 'page-2' })
    .on(ListStackResourcesCommand, { StackName: STACK, NextToken: 'page-2' })
    .resolves({ StackResourceSummaries: deployed.resources.slice(half) })
    .on(GetTemplateCommand, { StackName: STACK })
    .resolves({
      TemplateBody: JSON.stringify(deployed.template),
      StagesAvailable: ['Original', 'Processed'],
    });
  return cfn;
}

/** The real factory, remembering the options it was given (the clients are the mocked classes). */
export function recordingAws(): { factory: AwsFactory; calls: AwsOptions[] } {
  const calls: AwsOptions[] = [];
  return {
    calls,
    factory: (options): AwsClients => {
      calls.push(options);
      return realAws(options);
    },
  };
}

/** A clock that starts at `startMs` and moves only when slept on: nothing really waits. */
export function fakeClock(startMs: number): ApiClock & { slept: number[] } {
  let now = startMs;
  const slept: number[] = [];
  return {
    slept,
    now: () => now,
    sleep: async (ms) => {
      slept.push(ms);
      now += ms;
    },
    random: () => 0.5,
  };
}

/** ListRules' answer for the construct's bus: its rules as the template makes them, with their names and ARNs. */
export function busRulesAnswer(deployed: DeployedStack = deployedStack()): Rule[] {
  const bus = deployed.physical('PlatformHooksBus');
  const busRef = Object.keys(deployed.template.Resources as object).find((id) =>
    id.startsWith('PlatformHooksBus'),
  );
  return Object.entries(deployed.template.Resources as Record<string, TemplateRule>)
    .filter(([, r]) => r.Type === 'AWS::Events::Rule' && r.Properties.EventBusName?.Ref === busRef)
    .map(([id, r]) => {
      const name = deployed.physical(id);
      return {
        Name: name,
        Arn: `arn:aws:events:${REGION}:${ACCOUNT}:rule/${bus}/${name}`,
        EventPattern: JSON.stringify(r.Properties.EventPattern),
        State: 'ENABLED' as const,
        Description: r.Properties.Description,
        EventBusName: bus,
      };
    });
}

interface TemplateRule {
  readonly Type: string;
  readonly Properties: { EventBusName?: { Ref?: string }; EventPattern?: unknown; Description?: string };
}

/** The rule an archive makes on its bus (ManagedBy EventBridge): never a replay's target. */
export function archiveRule(deployed: DeployedStack = deployedStack()): Rule {
  const bus = deployed.physical('PlatformHooksBus');
  return {
    Name: `Events-Archive-${deployed.physical('PlatformHooksArchive')}`,
    Arn: `arn:aws:events:${REGION}:${ACCOUNT}:rule/${bus}/Events-Archive-x`,
    EventPattern: '{"source":["together.ai"],"replay-name":[{"exists":false}]}',
    State: 'ENABLED',
    ManagedBy: 'prod.vhs.events.aws.internal',
    EventBusName: bus,
  };
}

export const busArn = (deployed: DeployedStack = deployedStack()) =>
  `arn:aws:events:${REGION}:${ACCOUNT}:event-bus/${deployed.physical('PlatformHooksBus')}`;
export const archiveArn = (deployed: DeployedStack = deployedStack()) =>
  `arn:aws:events:${REGION}:${ACCOUNT}:archive/${deployed.physical('PlatformHooksArchive')}`;
