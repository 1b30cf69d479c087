import {
  aws_iam as iam,
  aws_lambda as lambda,
  aws_logs as logs,
  aws_secretsmanager as secretsmanager,
  Duration,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { grantClaimItems } from './assets';
import { fineTuneRetryPrefix } from './claim-keys';
import { environmentOf, FineTuneRetryEnvironment } from './contract';
import { recipeClaimsEnvironment, recipeFunction } from './recipe-function';
import { RetryRule } from './retry-rule';
import { TogetherWebhooks } from './together-webhooks';
import { checkNumber, checkProps, KIND, listOf, required, Shape } from './validation';

const RULE = {
  expected: 'a RetryRule (e.g. RetryRule.halveBatchSize({ whenErrorMatches: "out of memory" }))',
  test: (v: unknown) => v instanceof RetryRule,
};

/** The most RETRY_RULES may hold. */
const MAX_RULES_CHARS = 2_500;

/** The kind of every prop. */
const PROPS: Shape<TogetherFineTuneRetryProps> = {
  webhooks: required(KIND.webhooks),
  rules: listOf('a list of RetryRule', RULE),
  maxAttempts: KIND.number,
  apiKey: KIND.secret,
  apiKeyJsonField: KIND.string,
  logRetention: KIND.logRetention,
};

/** Props of `TogetherFineTuneRetry`. */
export interface TogetherFineTuneRetryProps {
  /**
   * The receiver whose `fine_tune.failed` events are retried, whose bus gets `fine_tune.retried`, and whose alert
   * topic hears of the failures not retried. Its poller follows the new jobs.
   */
  readonly webhooks: TogetherWebhooks;
  /**
   * The rules, tried in order; the first whose text the job's last error contains decides. An error no rule
   * matches is not retried (an alert says so).
   * @default RetryRule.defaults()
   */
  readonly rules?: RetryRule[];
  /**
   * Retries per lineage: the original job is retried at most this many times, however often its retries fail.
   * @default 2
   */
  readonly maxAttempts?: number;
  /**
   * The Together API key.
   * @default - the poller's
   */
  readonly apiKey?: secretsmanager.ISecret;
  /**
   * Field of the key's JSON SecretString that holds it (with `apiKey`).
   * @default - the whole SecretString, or the poller's field when the key is the poller's
   */
  readonly apiKeyJsonField?: string;
  /**
   * Retention of the handler's logs.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * Recipe: each `fine_tune.failed` is matched against your retry rules and, if one says so, submitted again
 * (`POST /fine-tunes`, the failed job's model, files and hyperparameters, adjusted by the rule), one new job per
 * failed job whatever the redeliveries, at most `maxAttempts` retries per lineage. Publishes `fine_tune.retried`;
 * a failure not retried is an alert that says why. The poller follows the new job like any other, so its
 * `fine_tune.completed` reaches `TogetherAutoDeploy` too.
 */
export class TogetherFineTuneRetry extends Construct {
  /** The handler that submits the retries. */
  public readonly function: lambda.Function;

  constructor(scope: Construct, id: string, props: TogetherFineTuneRetryProps) {
    super(scope, id);
    const owner = 'TogetherFineTuneRetry';
    checkProps(owner, props, 'TogetherFineTuneRetryProps', PROPS);
    const poller = props.webhooks.poller;
    if (!poller) {
      throw new Error(
        `${owner}: the webhooks have no poller; set TogetherWebhooks' poller, which follows the new jobs and holds the API key`,
      );
    }
    const maxAttempts = props.maxAttempts ?? 2;
    checkNumber(owner, 'maxAttempts', maxAttempts, 1, 10, true);
    const rules = props.rules ?? RetryRule.defaults();
    if (rules.length === 0)
      throw new Error(`${owner}: rules must hold at least one RetryRule (or leave it out for the defaults)`);

    const rulesJson = JSON.stringify(rules.map((r) => r._spec()));
    // Lambda holds 4 KB of environment in all: leave room for the rest.
    if (rulesJson.length > MAX_RULES_CHARS)
      throw new Error(
        `${owner}: the rules take ${rulesJson.length} characters as RETRY_RULES, at most ${MAX_RULES_CHARS}; use fewer or shorter rules`,
      );
    const apiKey = props.apiKey ?? poller.apiKey;
    const jsonField = props.apiKey
      ? props.apiKeyJsonField
      : (props.apiKeyJsonField ?? poller.apiKeyJsonField);
    const alertTopic = props.webhooks.alertTopic;
    this.function = recipeFunction(this, {
      webhooks: props.webhooks,
      handler: 'fine-tune-retry',
      description: 'Retries failed Together AI fine-tunes by your rules, one new job per failure',
      eventTypes: ['fine_tune.failed'],
      timeout: Duration.seconds(30),
      // GET /fine-tunes is read whole (a large account's listing runs to megabytes); failures are rare.
      memorySize: 512,
      logRetention: props.logRetention,
      environment: environmentOf<FineTuneRetryEnvironment>({
        ...recipeClaimsEnvironment(this, props.webhooks),
        API_KEY_SECRET_ARN: apiKey.secretArn,
        API_KEY_JSON_FIELD: jsonField || undefined,
        API_BASE_URL: poller.apiBaseUrl,
        RETRY_RULES: rulesJson,
        MAX_ATTEMPTS: String(maxAttempts),
        EVENT_BUS_NAME: props.webhooks.eventBus.eventBusName,
        ALERT_TOPIC_ARN: alertTopic?.topicArn,
      }),
    });
    apiKey.grantRead(this.function);
    // Its claims (one per failed job) and lineage records: item operations on its own keys, nothing else.
    const own = fineTuneRetryPrefix(this.node.addr);
    grantClaimItems(this.function, props.webhooks.table, { prefixes: [`${own}:`, `${own}#`] });
    props.webhooks.eventBus.grantPutEventsTo(this.function);
    if (alertTopic) {
      this.function.addToRolePolicy(
        new iam.PolicyStatement({ actions: ['sns:Publish'], resources: [alertTopic.topicArn] }),
      );
      alertTopic.masterKey?.grant(this.function, 'kms:Decrypt', 'kms:GenerateDataKey');
    }
  }
}
