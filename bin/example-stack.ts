import {
  aws_events_targets as targets,
  aws_iam as iam,
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
import { Construct } from 'constructs';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { TogetherWebhooks } from '../lib';

export interface ExampleStackProps extends StackProps {
  /** Where alerts are emailed; none when unset. */
  readonly alertEmail?: string;
  /** Name of the Secrets Manager secret holding the Together API key. */
  readonly apiKeySecretName: string;
  /** Models whose removal from Together's list is published as model.deprecated. */
  readonly watchModels: string[];
}

/** The README's example: every event type handled by a small Lambda, alerts by email, the URL as an output. */
export class ExampleStack extends Stack {
  public readonly hooks: TogetherWebhooks;

  constructor(scope: Construct, id: string, props: ExampleStackProps) {
    super(scope, id, props);

    const apiKey = secretsmanager.Secret.fromSecretNameV2(this, 'TogetherApiKey', props.apiKeySecretName);
    const outputs = new s3.Bucket(this, 'BatchOutputs', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      versioned: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    const fn = (name: string, environment: Record<string, string> = {}) =>
      new lambda.Function(this, name, {
        code: lambda.Code.fromAsset(exampleHandler(kebab(name))),
        handler: 'index.handler',
        runtime: lambda.Runtime.NODEJS_24_X,
        architecture: lambda.Architecture.ARM_64,
        loggingFormat: lambda.LoggingFormat.JSON,
        logGroup: new logs.LogGroup(this, `${name}Logs`, {
          retention: logs.RetentionDays.ONE_MONTH,
          removalPolicy: RemovalPolicy.DESTROY,
        }),
        timeout: Duration.seconds(name === 'BatchDone' ? 120 : 10),
        memorySize: name === 'BatchDone' ? 1024 : 128,
        environment,
      });

    const batchDone = fn('BatchDone', {
      OUTPUT_BUCKET: outputs.bucketName,
      TOGETHER_API_KEY_SECRET: apiKey.secretArn,
    });
    // PutObject under batches/ only (grantPut would add s3:Abort*).
    batchDone.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [outputs.arnForObjects('batches/*')] }),
    );
    apiKey.grantRead(batchDone);

    this.hooks = new TogetherWebhooks(this, 'Hooks', {
      handlers: {
        fineTuneCompleted: [new targets.LambdaFunction(fn('FineTuneCompleted'))],
        fineTuneFailed: [new targets.LambdaFunction(fn('FineTuneFailed'))],
        fineTuneCheckpoint: [new targets.LambdaFunction(fn('FineTuneCheckpoint'))],
        modelDeprecated: [new targets.LambdaFunction(fn('ModelDeprecated'))],
        batchDone: [new targets.LambdaFunction(batchDone)],
      },
      // Together's API has no webhooks endpoint today: the deploy then reports "unsupported" (see README)
      // and the poller delivers the same events; with both on, each outcome still arrives once.
      registration: { apiKey },
      poller: {
        apiKey,
        watchModels: props.watchModels,
      },
    });
    if (props.alertEmail) {
      this.hooks.alertTopic?.addSubscription(new subscriptions.EmailSubscription(props.alertEmail));
    }

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

    acknowledgeNagFindings(this, outputs);
  }
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
function acknowledgeNagFindings(stack: Stack, outputs: s3.Bucket): void {
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
  ack(
    outputs,
    'AwsSolutions-S1',
    'Batch outputs are written only by the batch.done handler; CloudTrail data events, not server access logs, are the audit trail for this example bucket.',
  );
  const bucketId = stack.resolve(stack.getLogicalId(outputs.node.defaultChild as s3.CfnBucket));
  ack(
    stack,
    `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/batches/*]`,
    'The batch.done handler writes one object per batch under the batches/ prefix; object keys are not known at deploy time.',
  );
}
