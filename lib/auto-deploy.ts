import {
  aws_lambda as lambda,
  aws_logs as logs,
  aws_secretsmanager as secretsmanager,
  Duration,
  Token,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { grantClaimItems } from './assets';
import { autoDeployClaimPrefix } from './claim-keys';
import { AutoDeployEnvironment, environmentOf } from './contract';
import { recipeClaimsEnvironment, recipeFunction } from './recipe-function';
import { TogetherWebhooks } from './together-webhooks';
import { checkDuration, checkNumber, checkProps, KIND, required, Shape } from './validation';

/** The kind of every prop. */
const PROPS: Shape<TogetherAutoDeployProps> = {
  webhooks: required(KIND.webhooks),
  hardware: required(KIND.string),
  minReplicas: KIND.number,
  maxReplicas: KIND.number,
  inactiveTimeout: KIND.duration,
  maxEvalLoss: KIND.number,
  modelNamePrefix: KIND.string,
  apiKey: KIND.secret,
  apiKeyJsonField: KIND.string,
  logRetention: KIND.logRetention,
};

/** Props of `TogetherAutoDeploy`. */
export interface TogetherAutoDeployProps {
  /** The receiver whose `fine_tune.completed` events are deployed. Its poller follows the endpoints. */
  readonly webhooks: TogetherWebhooks;
  /** Together hardware to run on, e.g. `1x_nvidia_h100_80gb_sxm` (GET /hardware lists what a model can use). */
  readonly hardware: string;
  /**
   * Replicas kept running, even with no traffic.
   * @default 1
   */
  readonly minReplicas?: number;
  /**
   * Replicas it may scale up to.
   * @default 1
   */
  readonly maxReplicas?: number;
  /**
   * Together stops the endpoint after this long without traffic (so a forgotten deployment stops costing).
   * `Duration.minutes(0)` never stops it.
   * @default Duration.hours(1)
   */
  readonly inactiveTimeout?: Duration;
  /**
   * Deploy only fine-tunes whose `eval_loss` is known and at most this.
   * @default - any eval_loss, known or not
   */
  readonly maxEvalLoss?: number;
  /**
   * Deploy only models whose name starts with this (e.g. `acme/prod-`).
   * @default - every model
   */
  readonly modelNamePrefix?: string;
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
 * Recipe: each `fine_tune.completed` that passes your filter is deployed on a Together dedicated endpoint, one
 * endpoint per fine-tune whatever the redeliveries; the poller then follows the endpoint and publishes
 * `endpoint.ready` or `endpoint.failed`.
 */
export class TogetherAutoDeploy extends Construct {
  /** The handler that creates the endpoints. */
  public readonly function: lambda.Function;

  constructor(scope: Construct, id: string, props: TogetherAutoDeployProps) {
    super(scope, id);
    const owner = 'TogetherAutoDeploy';
    checkProps(owner, props, 'TogetherAutoDeployProps', PROPS);
    const poller = props.webhooks.poller;
    if (!poller) {
      throw new Error(
        `${owner}: the webhooks have no poller; set TogetherWebhooks' poller, which follows the new endpoints to endpoint.ready`,
      );
    }
    if (!Token.isUnresolved(props.hardware) && props.hardware.trim() === '')
      throw new Error(
        `${owner}: hardware must name Together hardware (e.g. 1x_nvidia_h100_80gb_sxm), got ""`,
      );
    const minReplicas = props.minReplicas ?? 1;
    const maxReplicas = props.maxReplicas ?? 1;
    checkNumber(owner, 'minReplicas', minReplicas, 0, 64, true);
    checkNumber(owner, 'maxReplicas', maxReplicas, 1, 64, true);
    if (!Token.isUnresolved(minReplicas) && !Token.isUnresolved(maxReplicas) && minReplicas > maxReplicas)
      throw new Error(`${owner}: minReplicas (${minReplicas}) must be at most maxReplicas (${maxReplicas})`);
    checkNumber(owner, 'maxEvalLoss', props.maxEvalLoss, 0, Number.MAX_SAFE_INTEGER);
    const inactive = props.inactiveTimeout ?? Duration.hours(1);
    checkDuration(owner, 'inactiveTimeout', inactive, Duration.minutes(0), Duration.days(30));
    if (!inactive.isUnresolved() && !Number.isInteger(inactive.toMinutes({ integral: false })))
      throw new Error(`${owner}: inactiveTimeout must be whole minutes, got ${inactive.toHumanString()}`);

    const apiKey = props.apiKey ?? poller.apiKey;
    const jsonField = props.apiKey
      ? props.apiKeyJsonField
      : (props.apiKeyJsonField ?? poller.apiKeyJsonField);
    this.function = recipeFunction(this, {
      webhooks: props.webhooks,
      handler: 'auto-deploy',
      description: 'Deploys completed Together AI fine-tunes on dedicated endpoints, one per fine-tune',
      eventTypes: ['fine_tune.completed'],
      timeout: Duration.seconds(30),
      logRetention: props.logRetention,
      environment: environmentOf<AutoDeployEnvironment>({
        ...recipeClaimsEnvironment(this, props.webhooks),
        API_KEY_SECRET_ARN: apiKey.secretArn,
        API_KEY_JSON_FIELD: jsonField || undefined,
        API_BASE_URL: poller.apiBaseUrl,
        HARDWARE: props.hardware,
        MIN_REPLICAS: String(minReplicas),
        MAX_REPLICAS: String(maxReplicas),
        INACTIVE_TIMEOUT_MINUTES: inactive.toMinutes() > 0 ? String(inactive.toMinutes()) : undefined,
        MAX_EVAL_LOSS: props.maxEvalLoss !== undefined ? String(props.maxEvalLoss) : undefined,
        MODEL_NAME_PREFIX: props.modelNamePrefix || undefined,
      }),
    });
    apiKey.grantRead(this.function);
    // The claim that keeps it to one endpoint per fine-tune: item operations on its own claims, nothing else.
    grantClaimItems(this.function, props.webhooks.table, {
      prefixes: [autoDeployClaimPrefix(this.node.addr)],
    });
    poller.followEndpoints();
  }
}
