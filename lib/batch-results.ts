import {
  aws_cloudwatch as cloudwatch,
  aws_iam as iam,
  aws_lambda as lambda,
  aws_logs as logs,
  aws_s3 as s3,
  aws_secretsmanager as secretsmanager,
  Duration,
  RemovalPolicy,
  Token,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { grantClaimPath } from './assets';
import { legacyOutcomeClaimPrefixes, outcomeClaimPrefix } from './claim-keys';
import {
  BatchResultsEnvironment,
  BatchResultsMetric,
  DEFAULT_METRICS_NAMESPACE,
  DEFAULT_TOGETHER_API_BASE_URL,
  DEFAULTS,
  environmentOf,
} from './contract';
import { TogetherEventType } from './events';
import { libraryMetric } from './metrics';
import { recipeFunction } from './recipe-function';
import { TogetherWebhooks } from './together-webhooks';
import { checkDuration, checkHttpsUrl, checkNumber, checkProps, KIND, required, Shape } from './validation';

/** The one outcome this recipe publishes. */
const COLLECTED = 'batch.collected' satisfies TogetherEventType;

/** Props of `TogetherBatchResults`. */
export interface TogetherBatchResultsProps {
  /** The receiver whose `batch.done` events are collected, and whose bus gets `batch.collected`. */
  readonly webhooks: TogetherWebhooks;
  /**
   * Where the files go. A bucket of your own should have a lifecycle rule that aborts incomplete multipart
   * uploads (an upload the handler could not abort would otherwise keep its parts). Its `encryptionKey` is
   * granted; a default KMS key the bucket object does not name needs `kms:GenerateDataKey` and `kms:Decrypt` for
   * `function`'s role from you.
   * @default - a new bucket: S3-managed encryption, public access blocked, TLS only, incomplete uploads aborted
   * after a day, retained when the stack is deleted
   */
  readonly bucket?: s3.IBucket;
  /**
   * Prefix of the object keys: each batch's files are `<keyPrefix><batch id>/output.jsonl` and `errors.jsonl`.
   * @default 'together-batches/'
   */
  readonly keyPrefix?: string;
  /**
   * The Together API key the files are downloaded with.
   * @default - the poller's
   */
  readonly apiKey?: secretsmanager.ISecret;
  /**
   * Field of the key's JSON SecretString that holds it (with `apiKey`).
   * @default - the whole SecretString, or the poller's field when the key is the poller's
   */
  readonly apiKeyJsonField?: string;
  /**
   * Together's API base URL. Only `<apiBaseUrl>/files/<id>/content` is downloaded from, so the key never goes to
   * another host whatever an event's `output_url` says.
   * @default - the poller's, else https://api.together.xyz/v1
   */
  readonly apiBaseUrl?: string;
  /**
   * The handler's timeout: downloads stop 230 s before it, leaving time to finish the upload, publish and settle
   * the claim whatever S3 and DynamoDB do.
   * @default Duration.minutes(15)
   */
  readonly timeout?: Duration;
  /**
   * The handler's memory in MB. The copy holds about two 8 MiB parts, but the process's peak grew by 113 MiB copying
   * 256 MiB (bench:batch); more memory is also more network throughput.
   * @default 512
   */
  readonly memorySize?: number;
  /**
   * Retention of the handler's logs.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
}

/** The kind of every prop. */
const PROPS: Shape<TogetherBatchResultsProps> = {
  webhooks: required(KIND.webhooks),
  bucket: KIND.bucket,
  keyPrefix: KIND.string,
  apiKey: KIND.secret,
  apiKeyJsonField: KIND.string,
  apiBaseUrl: KIND.string,
  timeout: KIND.duration,
  memorySize: KIND.number,
  logRetention: KIND.logRetention,
};

/**
 * Recipe: each finished batch's output (and error) file is streamed from Together to S3 without being held in
 * memory, its lines and tokens counted on the way, and one `batch.collected` published per batch with the S3
 * URIs and `total_tokens`; tokens per model go to the `BatchTokens` metric.
 */
export class TogetherBatchResults extends Construct {
  /** The handler that copies the files. */
  public readonly function: lambda.Function;
  /** The bucket the files go to. */
  public readonly bucket: s3.IBucket;
  /** Prefix of the object keys. */
  public readonly keyPrefix: string;

  constructor(scope: Construct, id: string, props: TogetherBatchResultsProps) {
    super(scope, id);
    const owner = 'TogetherBatchResults';
    checkProps(owner, props, 'TogetherBatchResultsProps', PROPS);
    const poller = props.webhooks.poller;
    const apiKey = props.apiKey ?? poller?.apiKey;
    if (!apiKey) {
      throw new Error(
        `${owner}: no API key to download files with: set apiKey, or give the webhooks a poller (its key is used)`,
      );
    }
    this.keyPrefix = props.keyPrefix ?? DEFAULTS.batchKeyPrefix;
    if (!Token.isUnresolved(this.keyPrefix) && !/^(?!\/)[A-Za-z0-9!\-_.'()/]{0,512}$/.test(this.keyPrefix)) {
      throw new Error(
        `${owner}: keyPrefix must be up to 512 of A-Z a-z 0-9 ! - _ . ' ( ) / and not start with /, got "${this.keyPrefix}"`,
      );
    }
    checkHttpsUrl(owner, 'apiBaseUrl', props.apiBaseUrl);
    const timeout = props.timeout ?? Duration.minutes(15);
    checkDuration(owner, 'timeout', timeout, Duration.minutes(5), Duration.minutes(15));
    checkNumber(owner, 'memorySize', props.memorySize, 512, 10_240, true);

    this.bucket =
      props.bucket ??
      new s3.Bucket(this, 'Bucket', {
        encryption: s3.BucketEncryption.S3_MANAGED,
        blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
        enforceSSL: true,
        lifecycleRules: [{ abortIncompleteMultipartUploadAfter: Duration.days(1) }],
        removalPolicy: RemovalPolicy.RETAIN,
      });

    const jsonField = props.apiKey
      ? props.apiKeyJsonField
      : (props.apiKeyJsonField ?? poller?.apiKeyJsonField);
    this.function = recipeFunction(this, {
      webhooks: props.webhooks,
      handler: 'batch-results',
      description:
        'Streams finished Together AI batch results to S3, counts their tokens, publishes batch.collected',
      eventTypes: ['batch.done'],
      timeout,
      memorySize: props.memorySize ?? 512,
      logRetention: props.logRetention,
      environment: environmentOf<BatchResultsEnvironment>({
        TABLE_NAME: props.webhooks.table.tableName,
        CLAIM_SCOPE: props.webhooks.claimScope,
        EVENT_BUS_NAME: props.webhooks.eventBus.eventBusName,
        BUCKET_NAME: this.bucket.bucketName,
        KEY_PREFIX: this.keyPrefix,
        API_KEY_SECRET_ARN: apiKey.secretArn,
        API_KEY_JSON_FIELD: jsonField || undefined,
        API_BASE_URL: props.apiBaseUrl ?? poller?.apiBaseUrl ?? DEFAULT_TOGETHER_API_BASE_URL,
        RETENTION_DAYS: String(props.webhooks.dedupeRetention.toDays({ integral: false })),
        METRICS_NAMESPACE: DEFAULT_METRICS_NAMESPACE,
      }),
    });
    apiKey.grantRead(this.function);
    // The claim on batch.collected:<batch id> among the receiver's outcomes, and the publish it covers (read only,
    // the unscoped claims of the release before).
    grantClaimPath(this.function, props.webhooks.table, props.webhooks.eventBus, {
      prefixes: [`${outcomeClaimPrefix(props.webhooks.claimScope)}${COLLECTED}:`],
      readOnlyPrefixes: legacyOutcomeClaimPrefixes([COLLECTED]),
    });
    // Multipart calls (create, upload part, complete) are all s3:PutObject; nothing outside the prefix.
    this.function.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['s3:PutObject', 's3:AbortMultipartUpload'],
        resources: [this.bucket.arnForObjects(`${this.keyPrefix}*`)],
      }),
    );
    // SSE-KMS multipart uploads need Decrypt as well as GenerateDataKey.
    this.bucket.encryptionKey?.grant(this.function, 'kms:GenerateDataKey', 'kms:Decrypt');
  }

  /** Lets `grantee` read the collected files: objects under the prefix, and listing the bucket. */
  public grantRead(grantee: iam.IGrantable): iam.Grant {
    return this.bucket.grantRead(grantee, `${this.keyPrefix}*`);
  }

  /** Tokens of collected batches for one model (sum over 5 minutes unless told otherwise). */
  public metricBatchTokens(model: string, options: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return libraryMetric(
      { metricName: 'BatchTokens' satisfies BatchResultsMetric, dimensionsMap: { Model: model } },
      options,
    );
  }

  /** Batches collected by this handler (sum over 5 minutes unless told otherwise). */
  public metricBatchesCollected(options: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return libraryMetric(
      {
        metricName: 'BatchesCollected' satisfies BatchResultsMetric,
        dimensionsMap: { Service: this.function.functionName },
      },
      options,
    );
  }
}
