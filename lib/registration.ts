import {
  aws_lambda as lambda,
  aws_logs as logs,
  aws_secretsmanager as secretsmanager,
  CustomResource,
  custom_resources as cr,
  Duration,
  RemovalPolicy,
  Stack,
  Validations,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { bundledFunction } from './assets';
import {
  DEFAULT_TOGETHER_API_BASE_URL as CONTRACT_API_BASE_URL,
  WEBHOOK_RESOURCE_TYPE,
  WebhookRegistrationAttributes,
  WebhookRegistrationProperties,
} from './contract';
import { WEBHOOK_EVENT_TYPES } from './events';
import {
  checkProps,
  checkRegistrationOptions,
  KIND,
  REGISTRATION_OPTIONS,
  required,
  Shape,
} from './validation';

/** Together's public API base URL. */
export const DEFAULT_TOGETHER_API_BASE_URL = CONTRACT_API_BASE_URL;

/** How `TogetherWebhooks` registers its endpoint with Together. */
export interface RegistrationOptions {
  /** The Together API key, read at run time. A plain SecretString, or JSON with `apiKeyJsonField`. */
  readonly apiKey: secretsmanager.ISecret;
  /**
   * Field of a JSON SecretString that holds the API key.
   * @default - the whole SecretString is the key
   */
  readonly apiKeyJsonField?: string;
  /**
   * The event types to subscribe to: `EventType` constants (or their strings), checked at synth.
   * @default - every catalogue type Together sends (not the poller's own `fine_tune.stalled`)
   */
  readonly events?: string[];
  /**
   * Together's API base URL.
   * @default 'https://api.together.xyz/v1'
   */
  readonly apiBaseUrl?: string;
  /**
   * Fail the deploy when Together has no webhooks endpoint. When false, the deploy succeeds and the registration
   * reports status `unsupported` (use the poller then).
   * @default false
   */
  readonly required?: boolean;
  /**
   * Change this (e.g. to the new version id) after rotating the signing secret: the deploy then registers the
   * webhook again with the current secret value.
   * @default '1'
   */
  readonly secretVersion?: string;
}

/**
 * Props of `TogetherWebhookRegistration` when used on its own (`TogetherWebhooks` fills in all but
 * `RegistrationOptions`).
 */
export interface TogetherWebhookRegistrationProps extends RegistrationOptions {
  /** The URL Together should post to. */
  readonly webhookUrl: string;
  /** The signing secret Together should sign with. */
  readonly signingSecret: secretsmanager.ISecret;
  /**
   * Field of the signing secret's JSON SecretString.
   * @default - the whole SecretString
   */
  readonly signingSecretJsonField?: string;
  /**
   * Retention of the registration handler's logs.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * Registers a webhook with Together on deploy (`Custom::TogetherWebhook`), registers it again when the URL, the
 * events or the secret change, and deletes it with the stack. Both secrets are passed by ARN and read at run time.
 */
export class TogetherWebhookRegistration extends Construct {
  /** The custom resource; its physical id is Together's webhook id. */
  public readonly resource: CustomResource;
  /** The onEvent handler. Its role may read the two secrets, nothing else. */
  public readonly handler: lambda.Function;
  public readonly provider: cr.Provider;
  /** `registered`, or `unsupported` when Together has no webhooks endpoint (deploy-time value). */
  public readonly status: string;
  /** Together's webhook id, empty when unsupported (deploy-time value). */
  public readonly webhookId: string;

  constructor(scope: Construct, id: string, props: TogetherWebhookRegistrationProps) {
    super(scope, id);
    validateRegistration(props);
    const events = props.events ?? WEBHOOK_EVENT_TYPES;
    const retention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;

    this.handler = bundledFunction(this, 'Handler', {
      handler: 'registration',
      description: 'Registers the webhook endpoint with Together AI',
      timeout: Duration.minutes(2),
      memorySize: 256,
      logRetention: retention,
      logGroupId: 'HandlerLogs',
    });
    props.apiKey.grantRead(this.handler);
    props.signingSecret.grantRead(this.handler);

    this.provider = new cr.Provider(this, 'Provider', {
      onEventHandler: this.handler,
      logGroup: new logs.LogGroup(this, 'ProviderLogs', { retention, removalPolicy: RemovalPolicy.DESTROY }),
    });

    this.resource = new CustomResource(this, 'Resource', {
      serviceToken: this.provider.serviceToken,
      resourceType: WEBHOOK_RESOURCE_TYPE,
      // A stuck registration must not hold the stack for an hour.
      serviceTimeout: Duration.minutes(5),
      properties: {
        Url: props.webhookUrl,
        Events: [...events].sort(),
        ApiBaseUrl: props.apiBaseUrl ?? DEFAULT_TOGETHER_API_BASE_URL,
        Required: String(props.required ?? false),
        ApiKeySecretArn: props.apiKey.secretArn,
        ApiKeySecretName: props.apiKey.secretName,
        ApiKeyJsonField: props.apiKeyJsonField,
        SigningSecretArn: props.signingSecret.secretArn,
        SigningSecretJsonField: props.signingSecretJsonField,
        SecretVersion: props.secretVersion ?? '1',
      } satisfies WebhookRegistrationProperties,
    });
    // The Provider framework may invoke any version of the handler (`<arn>:*`): cdk-nag flags it, and why is ours to say.
    const stack = Stack.of(this);
    const handlerId = stack.resolve(stack.getLogicalId(this.handler.node.defaultChild as lambda.CfnFunction));
    Validations.of(this.provider).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${handlerId}.Arn>:*]`,
      reason:
        'The custom resource Provider framework invokes the registration handler by qualified ARN; the wildcard covers versions of that one function only.',
    });
    this.status = this.resource.getAttString(attribute('Status'));
    this.webhookId = this.resource.getAttString(attribute('WebhookId'));
  }
}

/** The name of one of the registration's answer attributes (lib/contract.ts), checked as it is written. */
function attribute(name: keyof WebhookRegistrationAttributes): string {
  return name;
}

const OWNER = 'TogetherWebhookRegistration';

/** Every prop's kind, those of `RegistrationOptions` and the ones `TogetherWebhooks` fills in. */
const PROPS: Shape<TogetherWebhookRegistrationProps> = {
  ...REGISTRATION_OPTIONS,
  webhookUrl: required(KIND.string),
  signingSecret: required(KIND.secret),
  signingSecretJsonField: KIND.string,
  logRetention: KIND.logRetention,
};

function validateRegistration(props: TogetherWebhookRegistrationProps): void {
  checkProps(OWNER, props, 'TogetherWebhookRegistrationProps', PROPS);
  checkRegistrationOptions(OWNER, '', props);
}
