import { sendHttp } from './http';
import { isObject } from './guards';

/**
 * A small client for Together's REST API: Bearer auth, JSON, Together's error shapes, explicit connect and
 * request timeouts, and retries with exponential backoff and full jitter on 429 and 5xx, honouring
 * `retry-after-ms` / `Retry-After`, never past a deadline. Shared by the registration handler and the poller.
 */

export { checkApiBaseUrl } from './api-base-url';

export interface ApiClock {
  /** Epoch ms now. */
  now(): number;
  sleep(ms: number): Promise<void>;
  /** In [0, 1): jitter. */
  random(): number;
}

export const realClock: ApiClock = {
  now: Date.now,
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  random: Math.random,
};

export interface RequestOptions {
  readonly baseUrl: string;
  readonly apiKey: string;
  readonly method: 'GET' | 'POST' | 'DELETE';
  /** Path below the base URL, e.g. `/fine-tunes`. */
  readonly path: string;
  readonly body?: unknown;
  /** Epoch ms by which the last attempt must have finished. */
  readonly deadlineMs: number;
  /** 1 = no retry (the poller stops early and resumes next tick). */
  readonly maxAttempts?: number;
  readonly clock?: ApiClock;
  readonly baseDelayMs?: number;
  readonly maxDelayMs?: number;
  /** Per attempt, until connected. @default 5000 */
  readonly connectTimeoutMs?: number;
  /** Per attempt, until the whole answer is in (never past the deadline). @default 30000 */
  readonly timeoutMs?: number;
  /** @default 64 MiB */
  readonly maxResponseBytes?: number;
  /** Other secrets the request carries (the API key is always one): kept out of what an error answer reflects. */
  readonly secrets?: readonly Secret[];
}

/** A secret a request carries, and what stands for it in any text made from an answer. */
export interface Secret {
  readonly value: string;
  readonly label: string;
}

/**
 * The forms a secret takes in an answer that reflects a request: as is; JSON-escaped (once, or twice for a body
 * quoted inside a message; `/` as `\/`; non-ASCII as `\uXXXX`); URL- and form-encoded (either hex case).
 */
export function secretForms(secret: string): string[] {
  if (secret === '') return [];
  const json = JSON.stringify(secret).slice(1, -1);
  const unicode = (text: string, hex: (h: string) => string) =>
    // eslint-disable-next-line no-control-regex
    text.replace(/[^\x00-\x7f]/g, (c) => `\\u${hex(c.charCodeAt(0).toString(16).padStart(4, '0'))}`);
  const jsonForms = [
    json,
    json.replace(/\//g, '\\/'),
    unicode(json, (h) => h),
    unicode(json, (h) => h.toUpperCase()),
  ];
  const url = [
    encodeURIComponent(secret),
    encodeURI(secret),
    new URLSearchParams({ s: secret }).toString().slice(2),
  ];
  const lower = (text: string) => text.replace(/%[0-9A-F]{2}/g, (h) => h.toLowerCase());
  const forms = [
    secret,
    ...jsonForms,
    ...jsonForms.map((f) => JSON.stringify(f).slice(1, -1)),
    ...url,
    ...url.map(lower),
  ];
  // Longest first, so a form that contains another is replaced whole.
  return [...new Set(forms)].sort((a, b) => b.length - a.length);
}

/** `text` with every form of every secret replaced by its label. */
export function redact(text: string, secrets: readonly Secret[]): string {
  let out = text;
  for (const { value, label } of secrets)
    for (const form of secretForms(value)) if (out.includes(form)) out = out.split(form).join(label);
  return out;
}

/** True when `text` holds a secret in any of its forms. */
export const carriesSecret = (text: string, secrets: readonly Secret[]): boolean =>
  redact(text, secrets) !== text;

/** Every string in a parsed answer redacted: catches escapes the text forms do not list (`\u0061` for `a`). */
function redactDeep(value: unknown, secrets: readonly Secret[]): unknown {
  if (typeof value === 'string') return redact(value, secrets);
  if (Array.isArray(value)) return value.map((v) => redactDeep(v, secrets));
  if (isObject(value))
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [redact(k, secrets), redactDeep(v, secrets)]),
    );
  return value;
}

export interface ApiResponse {
  readonly status: number;
  readonly headers: Headers;
  /** Parsed JSON, or undefined when the body is empty or not JSON. */
  readonly json: unknown;
  /** How many attempts it took. */
  readonly attempts: number;
}

/** What Together said went wrong: `{"error": {"message", "type", "code"}}` or, from batches, `{"error": "..."}`. */
export interface ApiErrorDetail {
  readonly message: string;
  readonly type?: string;
  readonly code?: string;
}

/** A network failure or timeout: no HTTP answer at all. */
export class TogetherUnreachableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TogetherUnreachableError';
  }
}

export function errorDetail(json: unknown, status: number): ApiErrorDetail {
  const error = (json as { error?: unknown } | undefined)?.error;
  if (typeof error === 'string') return { message: error };
  if (error && typeof error === 'object') {
    const e = error as Record<string, unknown>;
    return {
      message: typeof e.message === 'string' ? e.message : `HTTP ${status}`,
      type: typeof e.type === 'string' ? e.type : undefined,
      code:
        typeof e.code === 'string'
          ? e.code
          : e.code === undefined || e.code === null
            ? undefined
            : String(e.code),
    };
  }
  return { message: `HTTP ${status}` };
}

export function isRetryable(status: number): boolean {
  return status === 429 || status >= 500;
}

/** The server's wait, in ms, if it named one: `retry-after-ms`, else `Retry-After` as seconds or an HTTP date. */
export function retryAfterMs(headers: Headers, nowMs: number): number | undefined {
  const ms = Number(headers.get('retry-after-ms'));
  if (headers.has('retry-after-ms') && Number.isFinite(ms) && ms >= 0) return ms;
  const after = headers.get('retry-after');
  if (after === null || after.trim() === '') return undefined;
  const seconds = Number(after);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(after);
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs);
}

/** Exponential backoff with full jitter: uniform in [0, min(max, base * 2^attempt)). */
export function backoffMs(attempt: number, random: number, baseMs = 500, maxMs = 20_000): number {
  return Math.floor(random * Math.min(maxMs, baseMs * 2 ** attempt));
}

/**
 * Sends one request, retrying 429, 5xx and network failures while the deadline allows. Returns the last answer
 * (the caller decides what a status means); throws TogetherUnreachableError when no answer ever came.
 */
export async function togetherRequest(opts: RequestOptions): Promise<ApiResponse> {
  const clock = opts.clock ?? realClock;
  const maxAttempts = opts.maxAttempts ?? 8;
  const url = opts.baseUrl.replace(/\/+$/, '') + opts.path;
  let lastError: unknown;
  let response: ApiResponse | undefined;
  for (let attempt = 0; attempt < maxAttempts; attempt++) {
    const remaining = opts.deadlineMs - clock.now();
    if (remaining <= 0) break;
    let answered = false;
    try {
      const timeoutMs = Math.min(remaining, opts.timeoutMs ?? 30_000);
      const res = await sendHttp({
        url,
        method: opts.method,
        headers: {
          authorization: `Bearer ${opts.apiKey}`,
          accept: 'application/json',
          ...(opts.body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
        connectTimeoutMs: Math.min(timeoutMs, opts.connectTimeoutMs ?? 5_000),
        timeoutMs,
        maxResponseBytes: opts.maxResponseBytes ?? 64 * 1024 * 1024,
      });
      // An error answer that echoes the request must not carry its secrets into our errors, logs or alerts.
      const secrets = res.status >= 300 ? requestSecrets(opts) : [];
      const text = secrets.length > 0 ? redact(res.text, secrets) : res.text;
      let json: unknown;
      try {
        json = text ? JSON.parse(text) : undefined;
      } catch {
        json = undefined;
      }
      if (secrets.length > 0) json = redactDeep(json, secrets);
      response = { status: res.status, headers: res.headers, json, attempts: attempt + 1 };
      answered = true;
      if (!isRetryable(res.status)) return response;
    } catch (err) {
      lastError = err;
    }
    if (attempt + 1 >= maxAttempts) return response ?? unreachable(lastError, opts);
    const wait =
      // Only this attempt's answer may name the wait: an older Retry-After says nothing about a dropped connection.
      (answered && response ? retryAfterMs(response.headers, clock.now()) : undefined) ??
      backoffMs(attempt, clock.random(), opts.baseDelayMs, opts.maxDelayMs);
    // Not enough time left to wait and try again: answer with what we have.
    if (clock.now() + wait >= opts.deadlineMs) return response ?? unreachable(lastError, opts);
    await clock.sleep(wait);
  }
  return response ?? unreachable(lastError, opts);
}

function requestSecrets(opts: RequestOptions): Secret[] {
  return [{ value: opts.apiKey, label: '[API key]' }, ...(opts.secrets ?? [])].filter((x) => x.value !== '');
}

function unreachable(err: unknown, opts: RequestOptions): never {
  // Duck-typed: errors from Node's own modules may come from another realm (test runners), failing instanceof.
  const e = err as { name?: unknown; message?: unknown; code?: unknown } | undefined;
  const why =
    e && typeof e.message === 'string'
      ? `${String(e.name ?? 'Error')}: ${e.message || String(e.code ?? '')}`
      : 'no time left';
  throw new TogetherUnreachableError(`${opts.method} ${opts.path} got no answer from Together (${why})`);
}
