import {
  DEFAULT_TOGETHER_API_BASE_URL,
  WEBHOOK_RESOURCE_TYPE,
  WebhookRegistrationProperties,
} from '../../lib/contract';
import { checkApiBaseUrl } from '../shared/api-base-url';

/**
 * What the registration handler is configured by: not its environment (it reads none) but the custom resource's
 * properties (lib/contract.ts `WebhookRegistrationProperties`), parsed and checked here.
 */

export interface RegistrationSettings {
  readonly url: string;
  readonly events: readonly string[];
  readonly apiBaseUrl: string;
  readonly required: boolean;
  readonly apiKeySecretArn: string;
  readonly apiKeySecretName: string;
  readonly apiKeyJsonField?: string;
  readonly signingSecretArn: string;
  readonly signingSecretJsonField?: string;
  /** Bumped by the user after rotating the signing secret, so Together gets the new value. */
  readonly secretVersion: string;
}

/** The properties as they arrive: the contract's names, values not trusted yet. */
type ArrivingProperties = { readonly [name in keyof WebhookRegistrationProperties]?: unknown };

function text(
  props: ArrivingProperties,
  name: keyof WebhookRegistrationProperties,
  required = true,
): string | undefined {
  const value = props[name];
  if (value === undefined || value === '') {
    if (required) throw new Error(`${WEBHOOK_RESOURCE_TYPE}: property ${name} is required`);
    return undefined;
  }
  if (typeof value !== 'string')
    throw new Error(`${WEBHOOK_RESOURCE_TYPE}: property ${name} must be a string`);
  return value;
}

/** CloudFormation hands every property over as strings; this turns them back into settings, or says what is off. */
export function parseSettings(resourceProperties: Record<string, unknown>): RegistrationSettings {
  const props: ArrivingProperties = resourceProperties;
  const events = props.Events;
  if (
    !Array.isArray(events) ||
    events.length === 0 ||
    events.some((e) => typeof e !== 'string' || e === '')
  ) {
    throw new Error(`${WEBHOOK_RESOURCE_TYPE}: property Events must be a non-empty list of event types`);
  }
  const url = text(props, 'Url')!;
  if (!/^https:\/\//.test(url))
    throw new Error(`${WEBHOOK_RESOURCE_TYPE}: Url must be an https URL, got "${url}"`);
  const apiBaseUrl = checkApiBaseUrl(
    `${WEBHOOK_RESOURCE_TYPE}: ApiBaseUrl`,
    text(props, 'ApiBaseUrl', false) ?? DEFAULT_TOGETHER_API_BASE_URL,
  );
  const required = String(props.Required ?? 'false');
  if (required !== 'true' && required !== 'false') {
    throw new Error(`${WEBHOOK_RESOURCE_TYPE}: Required must be true or false, got "${required}"`);
  }
  const apiKeySecretArn = text(props, 'ApiKeySecretArn')!;
  return {
    url,
    events: [...events].sort() as string[],
    apiBaseUrl,
    required: required === 'true',
    apiKeySecretArn,
    apiKeySecretName: text(props, 'ApiKeySecretName', false) ?? apiKeySecretArn,
    apiKeyJsonField: text(props, 'ApiKeyJsonField', false),
    signingSecretArn: text(props, 'SigningSecretArn')!,
    signingSecretJsonField: text(props, 'SigningSecretJsonField', false),
    secretVersion: text(props, 'SecretVersion', false) ?? '1',
  };
}
