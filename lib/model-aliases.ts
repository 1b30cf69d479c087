import {
  aws_iam as iam,
  aws_lambda as lambda,
  aws_logs as logs,
  aws_ssm as ssm,
  Duration,
  Stack,
  Token,
} from 'aws-cdk-lib';
import { RegionInfo } from 'aws-cdk-lib/region-info';
import { Construct } from 'constructs';
import { grantClaimItems } from './assets';
import { modelAliasesPrefix } from './claim-keys';
import { environmentOf, ModelAliasesEnvironment } from './contract';
import { recipeClaimsEnvironment, recipeFunction } from './recipe-function';
import { TogetherWebhooks } from './together-webhooks';
import { checkProps, KIND, listOf, required, Shape, struct } from './validation';

/** Named in every error of the construct. */
const OWNER = 'TogetherModelAliases';

/** One alias: an SSM parameter holding the model (or endpoint name) an inference pipeline should call. */
export interface ModelAlias {
  /** The alias; its parameter is `<parameterPrefix><name>`. Letters, digits, `.`, `_` and `-`. */
  readonly name: string;
  /** The model it points at when first deployed (later changes are the handler's). */
  readonly model: string;
  /**
   * Follow new deployments: on `endpoint.ready` for a model whose name starts with this, the alias moves to that
   * endpoint's name (what inference requests pass as `model`).
   * @default - the alias moves only on a deprecation
   */
  readonly followDeploymentsOf?: string;
}

/** Props of `TogetherModelAliases`. */
export interface TogetherModelAliasesProps {
  /** The receiver whose `model.deprecated` (and `endpoint.ready`) events move the aliases. */
  readonly webhooks: TogetherWebhooks;
  /** The aliases. */
  readonly aliases: ModelAlias[];
  /**
   * Prefix of the parameter names.
   * @default '/together/models/'
   */
  readonly parameterPrefix?: string;
  /**
   * On `model.deprecated` with a `replacement_model`, move every alias on the deprecated model to it. Off, or
   * with no replacement named, an alert says which alias needs you.
   * @default false
   */
  readonly switchOnDeprecation?: boolean;
  /**
   * Retention of the handler's logs.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
}

/** The kind of every prop. */
const PROPS: Shape<TogetherModelAliasesProps> = {
  webhooks: required(KIND.webhooks),
  aliases: required(
    listOf(
      'a list of ModelAlias objects',
      struct<ModelAlias>('ModelAlias', {
        name: required(KIND.string),
        model: required(KIND.string),
        followDeploymentsOf: KIND.string,
      }),
    ),
  ),
  parameterPrefix: KIND.string,
  switchOnDeprecation: KIND.boolean,
  logRetention: KIND.logRetention,
};

/**
 * Recipe: model aliases in SSM Parameter Store that inference pipelines read, kept on a model that serves: moved
 * to the replacement when a model is deprecated (if you opt in; otherwise an alert), and to a new endpoint when
 * one of the models it follows is deployed. Each change is logged and announced on the alert topic.
 */
export class TogetherModelAliases extends Construct {
  /** The handler that moves the aliases. */
  public readonly function: lambda.Function;
  /** The alias parameters, in the order given. */
  public readonly parameters: ssm.StringParameter[];
  private readonly byAlias = new Map<string, ssm.StringParameter>();

  constructor(scope: Construct, id: string, props: TogetherModelAliasesProps) {
    super(scope, id);
    checkProps(OWNER, props, 'TogetherModelAliasesProps', PROPS);
    const prefix = props.parameterPrefix ?? '/together/models/';
    if (!Token.isUnresolved(prefix) && !/^\/([A-Za-z0-9_.-]+\/)*$/.test(prefix))
      throw new Error(
        `${OWNER}: parameterPrefix must start and end with "/" (e.g. /together/models/), got "${prefix}"`,
      );
    if (props.aliases.length === 0)
      throw new Error(`${OWNER}: aliases must name at least one alias, got none`);
    this.parameters = this.createParameters(prefix, props.aliases);

    const follows = props.aliases.some((a) => a.followDeploymentsOf !== undefined);
    const poller = props.webhooks.poller;
    if (follows && !poller) {
      throw new Error(
        `${OWNER}: followDeploymentsOf needs TogetherWebhooks' poller, which publishes endpoint.ready`,
      );
    }
    const alertTopic = props.webhooks.alertTopic;
    this.function = recipeFunction(this, {
      webhooks: props.webhooks,
      handler: 'model-aliases',
      description: 'Keeps Together model aliases in SSM on a model that serves',
      eventTypes: follows ? ['model.deprecated', 'endpoint.ready'] : ['model.deprecated'],
      timeout: Duration.seconds(30),
      memorySize: 128,
      logRetention: props.logRetention,
      environment: environmentOf<ModelAliasesEnvironment>({
        ALIASES: JSON.stringify(
          props.aliases.map((a) => ({
            alias: a.name,
            parameter: `${prefix}${a.name}`,
            ...(a.followDeploymentsOf !== undefined ? { follow: a.followDeploymentsOf } : {}),
          })),
        ),
        SWITCH_ON_DEPRECATION: String(props.switchOnDeprecation ?? false),
        ...recipeClaimsEnvironment(this, props.webhooks),
        ALERT_TOPIC_ARN: alertTopic?.topicArn,
      }),
    });
    this.grantHandler(props.webhooks);
    if (follows) poller!.followEndpoints();
  }

  /** One parameter per alias, holding its first model; each name checked as SSM would. */
  private createParameters(prefix: string, aliases: readonly ModelAlias[]): ssm.StringParameter[] {
    const byId = new Map<string, string>();
    for (const a of aliases) {
      if (!/^[A-Za-z0-9_.-]{1,200}$/.test(a.name))
        throw new Error(`${OWNER}: alias names are letters, digits, ".", "_" and "-", got "${a.name}"`);
      if (this.byAlias.has(a.name)) throw new Error(`${OWNER}: alias "${a.name}" is given twice`);
      if (!Token.isUnresolved(a.model) && a.model.trim() === '')
        throw new Error(`${OWNER}: alias "${a.name}" needs a model, got ""`);
      // The construct id keeps letters and digits only (ids are public: unchanged for names that don't collide).
      const constructId = `Alias${a.name.replace(/[^A-Za-z0-9]/g, '')}`;
      const other = byId.get(constructId);
      if (other !== undefined)
        throw new Error(
          `${OWNER}: aliases "${other}" and "${a.name}" would share the construct id "${constructId}"; rename one of them`,
        );
      byId.set(constructId, a.name);
      if (!Token.isUnresolved(prefix)) checkParameterName(this, `${prefix}${a.name}`);
      const parameter = new ssm.StringParameter(this, constructId, {
        parameterName: `${prefix}${a.name}`,
        stringValue: a.model,
        description: `Together model alias ${a.name}: the model or endpoint inference should call`,
      });
      this.byAlias.set(a.name, parameter);
    }
    return [...this.byAlias.values()];
  }

  /** The handler's role: its own parameters, its own items of the dedupe table, the alert topic. */
  private grantHandler(webhooks: TogetherWebhooks): void {
    // Its own parameters, read and written; nothing else in Parameter Store.
    this.function.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['ssm:GetParameters', 'ssm:PutParameter'],
        resources: this.parameters.map((p) => p.parameterArn),
      }),
    );
    // Item operations on its own items: the claims, and each alias's last followed deployment and pending change.
    const own = modelAliasesPrefix(this.node.addr);
    grantClaimItems(this.function, webhooks.table, { prefixes: [`${own}:`, `${own}#`] });
    const alertTopic = webhooks.alertTopic;
    if (alertTopic) {
      this.function.addToRolePolicy(
        new iam.PolicyStatement({ actions: ['sns:Publish'], resources: [alertTopic.topicArn] }),
      );
      alertTopic.masterKey?.grant(this.function, 'kms:Decrypt', 'kms:GenerateDataKey');
    }
  }

  /** The parameter of `alias`. */
  public parameter(alias: string): ssm.IStringParameter {
    const found = this.byAlias.get(alias);
    if (!found)
      throw new Error(`${OWNER}: no alias "${alias}"; aliases: ${[...this.byAlias.keys()].join(', ')}`);
    return found;
  }

  /** Lets `grantee` (an inference service) read every alias. */
  public grantRead(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['ssm:GetParameter', 'ssm:GetParameters', 'ssm:DescribeParameters'],
      resourceArns: this.parameters.map((p) => p.parameterArn),
    });
  }
}

/** SSM's longest partition (`aws-us-gov`) and region name (`us-isof-south-1`), when the stack's are not known. */
const LONGEST_PARTITION = 10;
const LONGEST_REGION = 15;

/**
 * SSM's rules for a parameter name beyond the characters the prefix and alias checks already ensure: at most 15
 * levels, not beginning with "aws" or "ssm" (any case), and at most 1011 characters counting the ARN before it
 * (`arn:<partition>:ssm:<region>:<account>:parameter`).
 */
function checkParameterName(scope: Construct, name: string): void {
  const shown = name.length > 60 ? `${name.slice(0, 60)}...` : name;
  const levels = name.split('/').filter((part) => part !== '').length;
  if (levels > 15)
    throw new Error(
      `${OWNER}: parameter "${shown}" has ${levels} levels; SSM allows at most 15 (parameterPrefix and alias name together)`,
    );
  const reserved = /^\/?(aws|ssm)/i.exec(name);
  if (reserved)
    throw new Error(
      `${OWNER}: parameter "${shown}" begins with "${reserved[1]}"; SSM reserves names beginning with "aws" or "ssm"`,
    );
  const stackRegion = Stack.of(scope).region;
  const knownRegion = Token.isUnresolved(stackRegion) ? undefined : stackRegion;
  const knownPartition = knownRegion && RegionInfo.get(knownRegion).partition;
  const known = knownRegion !== undefined && knownPartition !== undefined;
  const partition = knownPartition?.length ?? LONGEST_PARTITION;
  const region = knownRegion?.length ?? LONGEST_REGION;
  // arn: + partition + :ssm: + region + : + 12-digit account + :parameter, then the name with its leading slash.
  const arnLength = 4 + partition + 5 + region + 1 + 12 + 10 + name.length;
  if (arnLength > 1011)
    throw new Error(
      `${OWNER}: parameter "${shown}" is ${name.length} characters, ${known ? '' : 'up to '}${arnLength} in its ARN; SSM allows 1011 with the ARN`,
    );
}
