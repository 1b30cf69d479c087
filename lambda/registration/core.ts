import { createHash } from 'node:crypto';
import { WEBHOOK_RESOURCE_TYPE, WebhookRegistrationAttributes } from '../../lib/contract';
import { Logger } from '../shared/log';
import {
  ApiClock,
  ApiResponse,
  backoffMs,
  carriesSecret,
  errorDetail,
  isRetryable,
  retryAfterMs,
  Secret,
  togetherRequest,
  TogetherUnreachableError,
} from '../shared/together-api';
import { parseSettings, RegistrationSettings } from './config';
import { isObject } from '../shared/guards';

/**
 * Registers the webhook with Together on Create, registers anew on a material Update (CloudFormation then deletes
 * the old id), and deletes it on Delete. Returns what the Provider framework expects; throws to fail the operation.
 * Properties carry only ARNs and plain settings: both secrets are read here, at run time.
 */

/** Physical id of a registration Together could not take because it has no webhooks endpoint. */
export const UNSUPPORTED_PREFIX = 'unsupported:';

export type RegistrationStatus = WebhookRegistrationAttributes['Status'];

export interface CustomResourceEvent {
  readonly RequestType: 'Create' | 'Update' | 'Delete';
  readonly ResourceProperties: Record<string, unknown>;
  readonly OldResourceProperties?: Record<string, unknown>;
  readonly PhysicalResourceId?: string;
  readonly ResponseURL?: string;
  readonly [key: string]: unknown;
}

export interface RegistrationResult {
  readonly PhysicalResourceId: string;
  readonly Data: WebhookRegistrationAttributes;
}

export interface RegistrationDeps {
  readSecret(
    arn: string,
    jsonField: string | undefined,
    label: string,
  ): Promise<{ value: string; versionId?: string }>;
  readonly clock: ApiClock;
  /** Epoch ms by which we must answer CloudFormation. */
  readonly deadlineMs: number;
  readonly log: Logger;
}

/** What Together's registration depends on: a change to any of these needs a new registration. */
function material(s: RegistrationSettings): string {
  return JSON.stringify([
    s.url,
    s.events,
    s.apiBaseUrl,
    s.signingSecretArn,
    s.signingSecretJsonField,
    s.secretVersion,
  ]);
}

function unsupportedId(s: RegistrationSettings): string {
  return UNSUPPORTED_PREFIX + createHash('sha256').update(material(s)).digest('hex').slice(0, 16);
}

/** The failure message a person can act on, from Together's answer. */
export function failureMessage(action: string, res: ApiResponse, s: RegistrationSettings): string {
  const { message, type, code } = errorDetail(res.json, res.status);
  const said = `HTTP ${res.status}${type ? ` ${type}` : ''}${code ? ` (${code})` : ''}: ${message}`;
  if (res.status === 401 || res.status === 403) {
    return `Together rejected the API key while trying to ${action} (${said}). Check or rotate the secret ${s.apiKeySecretName}.`;
  }
  if (res.status === 402) {
    return `Together refused to ${action}: the account is out of credits (${said}). Add credits, then deploy again.`;
  }
  if (isRetryable(res.status)) {
    return `Together kept answering ${said} after ${res.attempts} attempts while trying to ${action}. Deploy again later.`;
  }
  return `Together refused to ${action} (${said}).`;
}

export async function onEvent(
  event: CustomResourceEvent,
  deps: RegistrationDeps,
): Promise<RegistrationResult> {
  const settings = parseSettings(event.ResourceProperties);
  deps.log({
    level: 'INFO',
    message: 'registration request',
    requestType: event.RequestType,
    physicalResourceId: event.PhysicalResourceId,
    // The pre-signed response URL is a credential for this operation: never logged.
    responseUrl: event.ResponseURL ? '***' : undefined,
    url: settings.url,
    events: settings.events,
  });

  switch (event.RequestType) {
    case 'Create':
      return register(settings, deps);
    case 'Update': {
      const previous = event.PhysicalResourceId ?? '';
      const old = event.OldResourceProperties ? parseSettings(event.OldResourceProperties) : undefined;
      const unchanged = old !== undefined && material(old) === material(settings);
      if (unchanged && previous && !previous.startsWith(UNSUPPORTED_PREFIX)) {
        return {
          PhysicalResourceId: previous,
          Data: { Status: 'registered', WebhookId: previous, SecretVersionId: '' },
        };
      }
      return register(settings, deps);
    }
    case 'Delete':
      await unregister(event.PhysicalResourceId, settings, deps);
      return {
        PhysicalResourceId: event.PhysicalResourceId ?? '',
        Data: { Status: 'registered', WebhookId: '', SecretVersionId: '' },
      };
    default:
      throw new Error(
        `${WEBHOOK_RESOURCE_TYPE}: unknown RequestType ${String((event as { RequestType: unknown }).RequestType)}`,
      );
  }
}

/**
 * The URL registered with Together: the endpoint, tagged with this registration's settings. Orphans of a lost answer
 * share it, a replacement (other events, a new secret version) does not: so Delete can remove every webhook of this
 * registration and none of the one replacing it. The verifier ignores the query string.
 */
export function registeredUrl(s: RegistrationSettings): string {
  const tag = createHash('sha256').update(material(s)).digest('hex').slice(0, 12);
  return `${s.url}${s.url.includes('?') ? '&' : '?'}registration=${tag}`;
}

const MAX_POST_ATTEMPTS = 8;

interface ListedWebhook {
  readonly id: string;
  readonly url: string;
}

/** What one registration works with: its settings, both secrets' values, and the URL it registers. */
interface Registration {
  readonly s: RegistrationSettings;
  readonly deps: RegistrationDeps;
  readonly apiKey: string;
  readonly signing: { readonly value: string; readonly versionId?: string };
  readonly url: string;
  /** The POST carries both: what Together answers (even a refusal that echoes the body) must carry neither. */
  readonly secrets: readonly Secret[];
}

async function register(s: RegistrationSettings, deps: RegistrationDeps): Promise<RegistrationResult> {
  const r = await prepare(s, deps);
  // One POST at a time: before trying again after an answer that never came (or a 5xx, which may follow a create),
  // look for what that POST may have created, so a retry never leaves a second webhook holding the secret.
  for (let attempt = 1; ; attempt++) {
    const posted = await postWebhook(r);
    const { res } = posted;
    let { lost } = posted;
    if (res && res.status !== 429 && res.status < 500) return answered(r, res, attempt);
    if (res && res.status >= 500) lost = `HTTP ${res.status}: ${errorDetail(res.json, res.status).message}`;
    if (lost !== undefined) {
      const mine = await findRegistration(r.url, lost, s, r.apiKey, deps, r.secrets);
      if (mine) return registered(r, mine.id, attempt, true);
    }
    const wait =
      (res ? retryAfterMs(res.headers, deps.clock.now()) : undefined) ??
      backoffMs(attempt - 1, deps.clock.random());
    if (attempt >= MAX_POST_ATTEMPTS || deps.clock.now() + wait >= deps.deadlineMs) {
      if (res) throw new Error(failureMessage('register the webhook', { ...res, attempts: attempt }, s));
      throw new Error(`${lost}; nothing was registered (the list of webhooks shows none for this stack).`);
    }
    await deps.clock.sleep(wait);
  }
}

/** Both secrets read, and the URL this registration is tagged with. */
async function prepare(s: RegistrationSettings, deps: RegistrationDeps): Promise<Registration> {
  const [apiKey, signing] = await Promise.all([
    deps.readSecret(
      s.apiKeySecretArn,
      s.apiKeyJsonField,
      `the Together API key secret ${s.apiKeySecretName}`,
    ),
    deps.readSecret(s.signingSecretArn, s.signingSecretJsonField, 'the webhook signing secret'),
  ]);
  const secrets: Secret[] = [
    { value: signing.value, label: '[signing secret]' },
    { value: apiKey.value, label: '[API key]' },
  ];
  return { s, deps, apiKey: apiKey.value, signing, url: registeredUrl(s), secrets };
}

/** One POST, not retried: Together's answer, or why none came. */
async function postWebhook(r: Registration): Promise<{ res?: ApiResponse; lost?: string }> {
  try {
    const res = await togetherRequest({
      baseUrl: r.s.apiBaseUrl,
      apiKey: r.apiKey,
      method: 'POST',
      path: '/webhooks',
      body: { url: r.url, events: r.s.events, secret: r.signing.value },
      deadlineMs: r.deps.deadlineMs,
      clock: r.deps.clock,
      maxAttempts: 1,
      secrets: r.secrets,
    });
    return { res };
  } catch (err) {
    if (!(err instanceof TogetherUnreachableError)) throw err;
    return { lost: err.message };
  }
}

/** What a final answer (not 429, not 5xx) to the POST means. */
function answered(r: Registration, res: ApiResponse, attempts: number): RegistrationResult {
  const { s, deps } = r;
  if (res.status === 404 || res.status === 405) {
    deps.log({
      level: 'WARN',
      message: 'Together has no webhooks endpoint',
      status: res.status,
      required: s.required,
    });
    if (s.required) {
      throw new Error(
        `Together answered HTTP ${res.status} to POST ${s.apiBaseUrl}/webhooks: its API has no webhooks endpoint for ` +
          'this account, and registration is required (required: true), so the deploy stops here. ' +
          'Turn on the poller (TogetherWebhooks poller props) to receive the same events by polling Together, ' +
          'or set required: false to deploy with registration reported as "unsupported".',
      );
    }
    return {
      PhysicalResourceId: unsupportedId(s),
      Data: { Status: 'unsupported', WebhookId: '', SecretVersionId: '' },
    };
  }
  if (res.status < 200 || res.status >= 300)
    throw new Error(failureMessage('register the webhook', { ...res, attempts }, s));
  const id = (res.json as { id?: unknown } | undefined)?.id;
  if (typeof id !== 'string' || id === '') {
    throw new Error(
      `Together answered HTTP ${res.status} to the registration without a webhook id; nothing to track.`,
    );
  }
  return registered(r, id, attempts);
}

/** The webhook Together created (or that a lost answer's POST did): recorded unless it would leak a secret. */
function registered(r: Registration, id: string, attempts: number, adopted = false): RegistrationResult {
  if (carriesSecret(id, r.secrets)) {
    throw new Error(
      `Together answered the registration with a webhook id that carries the signing secret or the API key, so it is ` +
        `not recorded. Delete the webhook for ${r.url} in Together's dashboard, rotate the signing secret, then ` +
        'deploy again.',
    );
  }
  r.deps.log({
    level: 'INFO',
    message: adopted ? 'webhook adopted' : 'webhook registered',
    webhookId: id,
    attempts,
  });
  return {
    PhysicalResourceId: id,
    Data: { Status: 'registered', WebhookId: id, SecretVersionId: r.signing.versionId ?? '' },
  };
}

/** Every webhook Together lists, or undefined when it cannot list them (404/405). */
async function listWebhooks(
  s: RegistrationSettings,
  apiKey: string,
  deps: RegistrationDeps,
  secrets?: readonly Secret[],
): Promise<ListedWebhook[] | undefined> {
  const res = await togetherRequest({
    baseUrl: s.apiBaseUrl,
    apiKey,
    method: 'GET',
    path: '/webhooks',
    deadlineMs: deps.deadlineMs,
    clock: deps.clock,
    secrets,
  });
  if (res.status === 404 || res.status === 405) return undefined;
  if (res.status < 200 || res.status >= 300) throw new Error(failureMessage('list the webhooks', res, s));
  const data = (res.json as { data?: unknown } | undefined)?.data;
  if (!Array.isArray(data)) throw new Error('Together listed the webhooks without a data array');
  return data.filter(
    (w): w is ListedWebhook => isObject(w) && typeof w.id === 'string' && typeof w.url === 'string',
  );
}

/** After a POST whose answer was lost: the webhook it may have created, or undefined if it created none. */
async function findRegistration(
  url: string,
  lost: string,
  s: RegistrationSettings,
  apiKey: string,
  deps: RegistrationDeps,
  secrets: readonly Secret[],
): Promise<ListedWebhook | undefined> {
  let listed: ListedWebhook[] | undefined;
  try {
    listed = await listWebhooks(s, apiKey, deps, secrets);
  } catch (err) {
    throw new Error(
      `POST ${s.apiBaseUrl}/webhooks got no usable answer (${lost}), and the webhooks could not be listed to see ` +
        `whether it created one (${(err as Error).message}). Deploy again later; if Together shows a webhook for ` +
        `${url}, it is this one.`,
      { cause: err },
    );
  }
  if (listed === undefined) {
    throw new Error(
      `POST ${s.apiBaseUrl}/webhooks got no usable answer (${lost}), so Together may have created a webhook for ` +
        `${url}. Its API cannot list webhooks to check, so this deploy does not try again: a second one would be ` +
        "left behind holding the signing secret. Look for that URL in Together's dashboard, delete the webhook if it " +
        'is there, then deploy again.',
    );
  }
  return listed.find((w) => w.url === url);
}

async function unregister(
  id: string | undefined,
  s: RegistrationSettings,
  deps: RegistrationDeps,
): Promise<void> {
  // Together had no endpoint: nothing can have been created.
  if (id?.startsWith(UNSUPPORTED_PREFIX)) {
    deps.log({ level: 'INFO', message: 'nothing to delete', physicalResourceId: id });
    return;
  }
  const apiKey = await deps.readSecret(
    s.apiKeySecretArn,
    s.apiKeyJsonField,
    `the Together API key secret ${s.apiKeySecretName}`,
  );
  const ids = new Set<string>();
  // A failed Create leaves the request id as physical id: no webhook id, but maybe an orphan to find below.
  if (id && /^[A-Za-z0-9_.:-]{1,200}$/.test(id) && !id.includes('/')) ids.add(id);
  // Every webhook of this registration, orphans of a lost answer included (a replacement's URL differs).
  const url = registeredUrl(s);
  try {
    const listed = await listWebhooks(s, apiKey.value, deps);
    for (const w of listed ?? []) if (w.url === url) ids.add(w.id);
  } catch (err) {
    // Listing is a tidy-up: the webhook by id is still deleted.
    deps.log({
      level: 'WARN',
      message: 'could not list webhooks to find orphans',
      error: (err as Error).message,
    });
  }
  if (ids.size === 0) {
    deps.log({ level: 'INFO', message: 'nothing to delete', physicalResourceId: id });
    return;
  }
  for (const webhookId of ids) await deleteWebhook(webhookId, s, apiKey.value, deps);
}

async function deleteWebhook(
  id: string,
  s: RegistrationSettings,
  apiKey: string,
  deps: RegistrationDeps,
): Promise<void> {
  let res: ApiResponse;
  try {
    res = await togetherRequest({
      baseUrl: s.apiBaseUrl,
      apiKey,
      method: 'DELETE',
      path: `/webhooks/${encodeURIComponent(id)}`,
      deadlineMs: deps.deadlineMs,
      clock: deps.clock,
    });
  } catch (err) {
    if (err instanceof TogetherUnreachableError) {
      throw new Error(`${err.message}; the webhook ${id} may still be registered.`, { cause: err });
    }
    throw err;
  }
  // Already gone (or never existed: a webhooks API that went away) is what Delete wants.
  if (
    res.status === 404 ||
    res.status === 405 ||
    res.status === 410 ||
    (res.status >= 200 && res.status < 300)
  ) {
    deps.log({ level: 'INFO', message: 'webhook deleted', webhookId: id, status: res.status });
    return;
  }
  throw new Error(failureMessage(`delete webhook ${id}`, res, s));
}
