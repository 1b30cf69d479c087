import {
  aws_events_targets as targets,
  aws_lambda as lambda,
  aws_logs as logs,
  aws_s3 as s3,
  aws_secretsmanager as secretsmanager,
  aws_sns_subscriptions as subscriptions,
  CfnOutput,
  Duration,
  RemovalPolicy,
  Stack,
  StackProps,
  Validations,
} from 'aws-cdk-lib';
import { Construct, Node } from 'constructs';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  TogetherAutoDeploy,
  RetryRule,
  TogetherBatchResults,
  TogetherFineTuneRetry,
  TogetherModelAliases,
  TogetherTrainingMonitor,
  TogetherWebhooks,
} from '../lib';

export interface ExampleStackProps extends StackProps {
  /** Where alerts are emailed; none when unset. */
  readonly alertEmail?: string;
  /** Name of the Secrets Manager secret holding the Together API key. */
  readonly apiKeySecretName: string;
  /** Models whose removal from Together's list is published as model.deprecated. */
  readonly watchModels: string[];
  /**
   * Deploy completed fine-tunes on a dedicated endpoint (GPUs cost money until Together stops an idle one).
   * @default true
   */
  readonly autoDeploy?: boolean;
  /**
   * Only fine-tuned models whose name starts with this are deployed, and the `fine-tuned` alias follows them.
   * @default - every model
   */
  readonly fineTunePrefix?: string;
}

/**
 * The README's example: a small Lambda for each designed event type, the five recipes (auto-deploy, model aliases,
 * batch results, training monitor, fine-tune retry), alerts by email, the URL as an output.
 */
export class ExampleStack extends Stack {
  public readonly hooks: TogetherWebhooks;
  public readonly autoDeploy?: TogetherAutoDeploy;
  public readonly aliases: TogetherModelAliases;
  public readonly batchResults: TogetherBatchResults;
  public readonly training: TogetherTrainingMonitor;
  public readonly retry: TogetherFineTuneRetry;

  constructor(scope: Construct, id: string, props: ExampleStackProps) {
    super(scope, id, props);
    const apiKey = secretsmanager.Secret.fromSecretNameV2(this, 'TogetherApiKey', props.apiKeySecretName);
    this.hooks = this.createWebhooks(props, apiKey);
    this.autoDeploy = (props.autoDeploy ?? true) ? this.createAutoDeploy(props) : undefined;
    this.aliases = this.createModelAliases(props);
    // Recipe 3: batch outputs into S3, tokens counted, batch.collected published.
    this.batchResults = new TogetherBatchResults(this, 'BatchResults', { webhooks: this.hooks });
    // Recipe 4: training loss per fine-tune, and a dashboard of the whole pipeline.
    this.training = new TogetherTrainingMonitor(this, 'Training', { webhooks: this.hooks });
    this.retry = this.createFineTuneRetry();
    this.addPipelineOutputs();
    this.addRecipeOutputs();
    acknowledgeNagFindings(this, this.batchResults);
  }

  private createWebhooks(props: ExampleStackProps, apiKey: secretsmanager.ISecret): TogetherWebhooks {
    const hooks = new TogetherWebhooks(this, 'Hooks', {
      handlers: {
        fineTuneCompleted: [new targets.LambdaFunction(this.exampleFunction('FineTuneCompleted'))],
        fineTuneFailed: [new targets.LambdaFunction(this.exampleFunction('FineTuneFailed'))],
        fineTuneCheckpoint: [new targets.LambdaFunction(this.exampleFunction('FineTuneCheckpoint'))],
        modelDeprecated: [new targets.LambdaFunction(this.exampleFunction('ModelDeprecated'))],
      },
      // Together's API has no webhooks endpoint today: the deploy then reports "unsupported" (see README)
      // and the poller delivers the same events; with both on, each outcome still arrives once.
      registration: { apiKey },
      poller: {
        apiKey,
        watchModels: props.watchModels,
        // Model uploads and RL training sessions as events too (one more request a poll each).
        jobs: true,
        rlSessions: true,
      },
      // One schema per event type in an EventBridge schema registry: the console shows them, with code bindings.
      schemas: true,
      // X-Ray through the verifier and the poller, on to the handlers below (traced too).
      tracing: true,
    });
    if (props.alertEmail) {
      hooks.alertTopic?.addSubscription(new subscriptions.EmailSubscription(props.alertEmail));
    }
    return hooks;
  }

  /** One of the example's small handlers (build/example-handlers/<name>). */
  private exampleFunction(name: string): lambda.Function {
    return new lambda.Function(this, name, {
      code: lambda.Code.fromAsset(exampleHandler(kebab(name))),
      handler: 'index.handler',
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      loggingFormat: lambda.LoggingFormat.JSON,
      logGroup: new logs.LogGroup(this, `${name}Logs`, {
        retention: logs.RetentionDays.ONE_MONTH,
        removalPolicy: RemovalPolicy.DESTROY,
      }),
      timeout: Duration.seconds(10),
      memorySize: 128,
      environment: {},
      // Joins the trace of the webhook or poll that published its event.
      tracing: lambda.Tracing.ACTIVE,
    });
  }

  /** Recipe 1: each completed fine-tune on one dedicated endpoint; the poller follows it to endpoint.ready. */
  private createAutoDeploy(props: ExampleStackProps): TogetherAutoDeploy {
    return new TogetherAutoDeploy(this, 'AutoDeploy', {
      webhooks: this.hooks,
      hardware: '1x_nvidia_h100_80gb_sxm',
      maxEvalLoss: 1.0,
      modelNamePrefix: props.fineTunePrefix,
      inactiveTimeout: Duration.hours(1),
    });
  }

  /**
   * Recipe 5: a failed fine-tune resubmitted by rule (out of memory: half the batch size), twice at most per
   * lineage; the poller follows the retry, so its completion is auto-deployed like any other.
   */
  private createFineTuneRetry(): TogetherFineTuneRetry {
    return new TogetherFineTuneRetry(this, 'FineTuneRetry', {
      webhooks: this.hooks,
      // A rule of your own first, then the defaults (out of memory, internal errors, data errors).
      rules: [RetryRule.sameParameters({ whenErrorMatches: 'NCCL timeout' }), ...RetryRule.defaults()],
      maxAttempts: 2,
    });
  }

  /** Recipe 2: what inference pipelines read; moved on deprecations and to new deployments. */
  private createModelAliases(props: ExampleStackProps): TogetherModelAliases {
    const model = props.watchModels[0] ?? 'meta-llama/Llama-3.3-70B-Instruct-Turbo';
    return new TogetherModelAliases(this, 'ModelAliases', {
      webhooks: this.hooks,
      aliases: [
        { name: 'chat', model },
        ...(this.autoDeploy
          ? [{ name: 'fine-tuned', model, followDeploymentsOf: props.fineTunePrefix ?? '' }]
          : []),
      ],
      switchOnDeprecation: true,
    });
  }

  /** Where to point Together, where alerts and dead letters go, what to replay. */
  private addPipelineOutputs(): void {
    new CfnOutput(this, 'WebhookUrl', {
      value: this.hooks.webhookUrl,
      description: 'Give this URL to Together',
    });
    new CfnOutput(this, 'RegistrationStatus', {
      value: this.hooks.registration!.status,
      description: '"registered", or "unsupported" when Together has no webhooks endpoint (use the poller)',
    });
    if (this.hooks.alertTopic) {
      new CfnOutput(this, 'AlertTopicArn', {
        value: this.hooks.alertTopic.topicArn,
        description: 'Alerts and alarms',
      });
    }
    new CfnOutput(this, 'DeadLetterQueueUrl', {
      value: this.hooks.deadLetterQueue.queueUrl,
      description: 'Events a target could not take after its retries (see README: Operating it)',
    });
    new CfnOutput(this, 'EventBusArn', {
      value: this.hooks.eventBus.eventBusArn,
      description: 'Replay destination',
    });
    if (this.hooks.archive) {
      new CfnOutput(this, 'ArchiveArn', {
        value: this.hooks.archive.archiveArn,
        description: 'Replay source',
      });
    }
    new CfnOutput(this, 'PollerLogGroup', {
      value: this.hooks.poller!.function.logGroup.logGroupName,
      description: 'One line per poll: aws logs tail <this> --follow',
    });
    new CfnOutput(this, 'SigningSecretArn', {
      value: this.hooks.secret.secretArn,
      description: 'The signing secret Together must use (its value stays in Secrets Manager)',
    });
  }

  private addRecipeOutputs(): void {
    new CfnOutput(this, 'BatchResultsBucket', {
      value: this.batchResults.bucket.bucketName,
      description: `Batch outputs, under ${this.batchResults.keyPrefix}<batch id>/`,
    });
    new CfnOutput(this, 'ModelAliasParameters', {
      value: this.aliases.parameters.map((p) => p.parameterName).join(','),
      description: 'SSM parameters your inference code reads as the model name',
    });
    if (this.training.dashboard) {
      new CfnOutput(this, 'DashboardName', {
        value: this.training.dashboard.dashboardName,
        description: 'Received, published, poller health, dead letters, training loss',
      });
    }
  }
}

/**
 * The example app's settings from `-c` context: alertEmail, apiKeySecretName (default together/api-key),
 * watchModels (comma-separated), autoDeploy (false leaves the GPU-spending recipe out), fineTunePrefix.
 */
export function examplePropsFromContext(node: Node): ExampleStackProps {
  const text = (key: string): string | undefined => {
    const value: unknown = node.tryGetContext(key);
    return value === undefined || value === null || String(value).trim() === ''
      ? undefined
      : String(value).trim();
  };
  return {
    alertEmail: text('alertEmail'),
    apiKeySecretName: text('apiKeySecretName') ?? 'together/api-key',
    watchModels: text('watchModels')
      ?.split(',')
      .map((m) => m.trim())
      .filter((m) => m !== '') ?? ['meta-llama/Llama-3.3-70B-Instruct-Turbo', 'Qwen/Qwen3.5-9B'],
    autoDeploy: text('autoDeploy') !== 'false',
    fineTunePrefix: text('fineTunePrefix'),
  };
}

/** The example handlers are bundled by `npm run build:handlers`, like the library's own. */
function exampleHandler(name: string): string {
  const dir = join(__dirname, '..', 'build', 'example-handlers', name);
  if (!existsSync(join(dir, 'index.js'))) {
    throw new Error(
      `example handler ${name} is not built: run \`npm run build:handlers\` (npm run synth does)`,
    );
  }
  return dir;
}

function kebab(name: string): string {
  return name.replace(/([a-z])([A-Z])/g, '$1-$2').toLowerCase();
}

/** Each cdk-nag finding this design accepts, with why. */
function acknowledgeNagFindings(stack: Stack, batchResults: TogetherBatchResults): void {
  const ack = (scope: Construct, id: string, reason: string) =>
    Validations.of(scope).acknowledge({ id, reason });
  ack(
    stack,
    'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
    'The AWS managed basic execution role only lets each function write its own CloudWatch logs.',
  );
  ack(
    stack,
    'AwsSolutions-APIG4',
    'Together posts webhooks without AWS credentials; every request is authenticated by its HMAC signature in the verifier, which refuses unsigned or forged ones with 401 before touching any data.',
  );
  ack(
    stack,
    'AwsSolutions-SMG4',
    'The webhook signing secret is shared with Together; it is rotated by hand together with the registration, and the verifier accepts AWSCURRENT and AWSPREVIOUS during the switch.',
  );
  ack(
    stack,
    'AwsSolutions-SQS3',
    'This queue is itself the dead-letter queue for the event rules; a dead-letter queue of a dead-letter queue adds nothing.',
  );
  const bucket = batchResults.bucket.node.defaultChild as s3.CfnBucket;
  ack(
    bucket,
    'AwsSolutions-S1',
    'Batch outputs are written only by the batch results handler; CloudTrail data events, not server access logs, are the audit trail for this example bucket.',
  );
  // Only on the traced functions, so a "*" anywhere else is still a finding.
  for (const fn of stack.node
    .findAll()
    .filter((c): c is lambda.CfnFunction => c instanceof lambda.CfnFunction)) {
    const tracing = stack.resolve(fn.tracingConfig) as { mode?: string } | undefined;
    if (tracing?.mode !== 'Active') continue;
    ack(
      fn.node.scope!,
      'AwsSolutions-IAM5[Resource::*]',
      "X-Ray active tracing: xray:PutTraceSegments and xray:PutTelemetryRecords take no resource ARN, only '*'.",
    );
  }
  const bucketId = stack.resolve(stack.getLogicalId(bucket));
  ack(
    stack,
    `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/${batchResults.keyPrefix}*]`,
    'The batch results handler writes two objects per batch under its prefix (output.jsonl, errors.jsonl); batch ids are not known at deploy time.',
  );
}
