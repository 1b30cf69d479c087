import { createHash } from 'node:crypto';
import {
  EVENT_SOURCE,
  eventSpec,
  isCatalogueType,
  outcomeKey,
  outcomeKeyBytes,
  TogetherEnvelope,
  validateEnvelope,
  withOutcomeKey,
} from '../../lib/events';
import type { VerifierMetric } from '../../lib/contract';
import { deliverOnce, DeliveryOutcome, IdempotencyStore } from '../shared/idempotency';
import { errorName, Logger, LogLine, MetricsContext, withMetrics } from '../shared/log';
import { MAX_ENTRY_BYTES, publishOutcomeUnknown } from '../shared/publisher';
import { LoadedKeys } from './secrets';
import { SecretFormatError } from '../shared/secret-value';
import {
  Headers,
  RawBody,
  SchemeName,
  SIGNATURE_MISMATCH,
  TOGETHER_SIGNATURE_HEADER,
  verifySignature,
} from './signature';

/** What the verifier needs of an API Gateway event (HTTP API 2.0 or REST 1.0). */
export interface WebhookRequest {
  readonly headers?: Readonly<Record<string, string | undefined>> | null;
  readonly body?: string | null;
  readonly isBase64Encoded?: boolean;
}

export interface WebhookResponse {
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

export interface VerifierConfig {
  readonly scheme: SchemeName;
  /** How long a delivered id is remembered, in seconds. */
  readonly retentionSeconds: number;
  readonly metrics: MetricsContext;
  /**
   * Take the types this library produces too (never deployed: `dev` on your machine, so `send` can try a handler
   * of any type).
   * @default false
   */
  readonly acceptProducedTypes?: boolean;
}

export interface VerifierDeps {
  readonly config: VerifierConfig;
  readonly secrets: {
    get(nowMs: number): Promise<LoadedKeys>;
    refresh(nowMs: number): Promise<LoadedKeys | undefined>;
  };
  readonly store: IdempotencyStore;
  /** Answers with the bus's event id, when it has one (recorded on the claim). */
  readonly publish: (detailType: string, detail: string) => Promise<string | void>;
  readonly log: Logger;
  readonly clock: () => number;
  readonly newToken: () => string;
}

/** A request the verifier refuses, with the status to answer. */
export interface Rejection {
  readonly ok: false;
  readonly status: number;
  readonly reason: string;
}

export interface DecodedRequest {
  readonly ok: true;
  readonly headers: Headers;
  /** Text bodies stay strings: HMAC hashes their UTF-8 bytes and JSON.parse reads them without a round trip. */
  readonly body: RawBody;
  readonly byteLength: number;
}

export interface VerifiedEvent {
  readonly ok: true;
  readonly envelope: TogetherEnvelope;
  /** The signed body as text: published unchanged as the EventBridge detail. */
  readonly detail: string;
  readonly known: boolean;
  readonly problems: readonly string[];
}

const reject = (status: number, reason: string): Rejection => ({ ok: false, status, reason });
const utf8 = new TextDecoder('utf-8', { fatal: true });

export function normalizeHeaders(headers: WebhookRequest['headers']): Headers {
  const out: Record<string, string> = {};
  if (!headers || typeof headers !== 'object') return out;
  for (const [name, value] of Object.entries(headers)) {
    if (typeof value === 'string') out[name.toLowerCase()] = value;
  }
  return out;
}

/** Step 1: the raw bytes, refused before any crypto when they could never fit one EventBridge entry. */
export function decodeRequest(req: WebhookRequest): DecodedRequest | Rejection {
  const text = typeof req.body === 'string' ? req.body : '';
  const body = req.isBase64Encoded === true ? Buffer.from(text, 'base64') : text;
  const byteLength = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
  if (byteLength + EVENT_SOURCE.length > MAX_ENTRY_BYTES) {
    return reject(413, `body is ${byteLength} bytes; an EventBridge entry holds at most ${MAX_ENTRY_BYTES}`);
  }
  return { ok: true, headers: normalizeHeaders(req.headers), body, byteLength };
}

/** Step 4: the signed body as an envelope. Only called once the signature is good. */
export function parseEnvelope(body: RawBody, byteLength: number): VerifiedEvent | Rejection {
  let text: string;
  try {
    text = (typeof body === 'string' ? body : utf8.decode(body)).trim();
  } catch {
    return reject(400, 'body is not valid UTF-8');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return reject(400, 'body is not valid JSON');
  }
  const checked = validateEnvelope(value);
  if (!checked.ok) return reject(400, checked.reason);
  // The body's size bounds the trimmed detail's: no second pass over a large body.
  const size = EVENT_SOURCE.length + Buffer.byteLength(checked.envelope.type) + byteLength;
  if (size > MAX_ENTRY_BYTES) {
    return reject(
      413,
      `event is ${size} bytes with its type; an EventBridge entry holds at most ${MAX_ENTRY_BYTES}`,
    );
  }
  return {
    ok: true,
    envelope: checked.envelope,
    detail: text,
    known: checked.known,
    problems: checked.problems,
  };
}

/**
 * Step 5b: what a signed envelope may not be. A type this library publishes itself (the poller's, a recipe's) is
 * never Together's to send: taking it from a webhook would let a sender invent an outcome only we can know, and
 * claim its key before the real one. An envelope created before the dedupe retention began may be a captured
 * request replayed after its claim was forgotten (together-hmac signs no timestamp): its outcome is no longer
 * remembered, so it is refused rather than published again.
 */
export function refusal(
  envelope: TogetherEnvelope,
  nowMs: number,
  config: Pick<VerifierConfig, 'retentionSeconds' | 'acceptProducedTypes'>,
): (Rejection & { readonly counter: VerifierMetric & ('ReservedType' | 'TooOld') }) | undefined {
  const { retentionSeconds } = config;
  if (isCatalogueType(envelope.type) && !config.acceptProducedTypes) {
    const producer = eventSpec(envelope.type).producer;
    if (producer) {
      const why = `type ${envelope.type} is published by this library (${producer}), never sent by Together: refused`;
      return { ...reject(400, why), counter: 'ReservedType' };
    }
  }
  const createdMs = envelopeTime(envelope.created_at);
  if (createdMs !== undefined && createdMs < nowMs - retentionSeconds * 1000) {
    const why =
      `created_at ${new Date(createdMs).toISOString()} is older than the dedupe retention ` +
      `(${+(retentionSeconds / 86400).toFixed(3)} days): refused as a possible replay`;
    return { ...reject(400, why), counter: 'TooOld' };
  }
  return undefined;
}

/** `created_at` as epoch ms: an ISO string, or a number of seconds (ms from 1e11 on); undefined if unreadable. */
export function envelopeTime(value: unknown): number | undefined {
  const ms =
    typeof value === 'string'
      ? Date.parse(value)
      : typeof value === 'number'
        ? value < 1e11
          ? value * 1000
          : value
        : NaN;
  // Past ±8.64e15 ms a Date is invalid (and toISOString throws).
  return Number.isFinite(ms) && Math.abs(ms) <= 8.64e15 ? ms : undefined;
}

/** Steps 2 and 4 together, synchronously: what the benchmark measures against bare HMAC + JSON.parse. */
export function verifyAndParse(
  decoded: DecodedRequest,
  scheme: SchemeName,
  keys: readonly Buffer[],
  nowMs: number,
): VerifiedEvent | Rejection {
  const signature = verifySignature(scheme, decoded.headers, decoded.body, keys, nowMs);
  if (!signature.ok) return reject(401, signature.reason);
  return parseEnvelope(decoded.body, decoded.byteLength);
}

/**
 * What tells two bodies of one delivery id apart (PayloadMismatch). Under together-hmac the verified signature is a
 * keyed hash of exactly these bytes, so the body is not hashed a second time; Standard Webhooks signs the id and
 * timestamp too (a retry's timestamp differs), so its bodies are hashed.
 */
function payloadHash(scheme: SchemeName, decoded: DecodedRequest): string {
  const signature = decoded.headers[TOGETHER_SIGNATURE_HEADER];
  if (scheme === 'together-hmac' && signature) return `hmac:${signature.trim().toLowerCase()}`;
  return createHash('sha256').update(decoded.body).digest('hex');
}

function respond(statusCode: number, body: Record<string, unknown>, headers: Record<string, string> = {}) {
  return {
    statusCode,
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  };
}

/** What one request did: its log line and counters, written once when it is answered. */
class RequestRecord {
  readonly counters: Partial<Record<VerifierMetric, number>> = { Received: 1 };
  readonly line: LogLine = { level: 'INFO', message: 'webhook' };
  readonly startMs: number;

  constructor(private readonly deps: VerifierDeps) {
    this.startMs = deps.clock();
  }

  finish(outcome: string, response: WebhookResponse): WebhookResponse {
    const line = this.line;
    line.outcome = outcome;
    line.status = response.statusCode;
    line.latencyMs = this.deps.clock() - this.startMs;
    if (response.statusCode >= 500) line.level = 'ERROR';
    else if (response.statusCode >= 400) line.level = 'WARN';
    try {
      this.deps.log(withMetrics(line, this.deps.config.metrics, this.counters, this.startMs));
    } catch {
      // A logging failure must not turn a delivered event into an error the sender retries.
    }
    return response;
  }

  refuse(rejection: Rejection): WebhookResponse {
    this.counters[rejection.status === 401 ? 'Rejected' : 'Invalid'] = 1;
    this.line.reason = rejection.reason;
    const outcome =
      rejection.status === 401 ? 'bad_signature' : rejection.status === 413 ? 'too_large' : 'invalid';
    return this.finish(outcome, respond(rejection.status, { error: rejection.reason }));
  }

  /** Our dependency failed: 5xx so the sender retries (500 when an operator must fix the secret first). */
  unavailable(outcome: string, err: unknown, message: string): WebhookResponse {
    this.counters.Failed = 1;
    this.line.error = errorName(err);
    const status = err instanceof SecretFormatError ? 500 : 503;
    return this.finish(outcome, respond(status, { error: message }));
  }
}

/** The whole request: never throws, and answers 5xx only where the sender's retry is the right answer. */
export async function handleWebhook(
  req: WebhookRequest,
  deps: VerifierDeps,
  remainingTimeMs: number,
): Promise<WebhookResponse> {
  const record = new RequestRecord(deps);
  try {
    return await handle(req, deps, remainingTimeMs, record);
  } catch (err) {
    record.counters.Failed = 1;
    record.line.error = errorName(err);
    return record.finish('internal_error', respond(500, { error: 'internal error; retry later' }));
  }
}

/**
 * The steps in order, each refusal or failure answering at once: the size (1), the signature (2-3) and the envelope
 * (4); who it is (5a), whether it may be taken (5b) and its outcome key (5c); claim, publish, complete (6); the
 * answer (7).
 */
async function handle(
  req: WebhookRequest,
  deps: VerifierDeps,
  remainingTimeMs: number,
  record: RequestRecord,
): Promise<WebhookResponse> {
  const decoded = decodeRequest(req);
  if (!decoded.ok) return record.refuse(decoded);
  const verified = await verifyRequest(decoded, deps, record);
  if (isResponse(verified)) return verified;
  if (!verified.ok) return record.refuse(verified);
  // Step 5a.
  const { envelope } = verified;
  record.line.id = envelope.id;
  record.line.type = envelope.type;
  const refused = refusal(envelope, record.startMs, deps.config);
  if (refused) {
    record.counters[refused.counter] = 1;
    return record.refuse(refused);
  }
  const outcome = keyedOutcome(verified, decoded.byteLength, record);
  if (!outcome.ok) return record.refuse(outcome);
  // Step 6.
  const result = await deliverOnce(
    deps.store,
    {
      id: outcome.key,
      deliveryId: envelope.id,
      payloadHash: payloadHash(deps.config.scheme, decoded),
      token: deps.newToken(),
      nowMs: record.startMs,
      inProgressMs: Math.max(1000, remainingTimeMs),
      retentionSeconds: deps.config.retentionSeconds,
    },
    () => deps.publish(envelope.type, outcome.detail),
    { outcomeUnknown: publishOutcomeUnknown },
  );
  return answer(result, envelope.id, record);
}

function isResponse(value: object): value is WebhookResponse {
  return 'statusCode' in value;
}

/**
 * Steps 2 to 4: headers that could never verify are refused first, then the signature is checked with the signing
 * keys (looked up once more on a mismatch: perhaps rotated since cached), then the signed body is read. Answers
 * at once (5xx) when the keys cannot be had.
 */
async function verifyRequest(
  decoded: DecodedRequest,
  deps: VerifierDeps,
  record: RequestRecord,
): Promise<VerifiedEvent | Rejection | WebhookResponse> {
  const { scheme } = deps.config;
  const nowMs = record.startMs;
  // Headers that could never verify (missing, malformed, stale) are refused before the secret is read: a Secrets
  // Manager outage must not turn unsigned junk into 503s (which invite retries).
  const shape = verifySignature(scheme, decoded.headers, decoded.body, [], nowMs);
  if (!shape.ok && shape.reason !== SIGNATURE_MISMATCH) return reject(401, shape.reason);

  let loaded: LoadedKeys;
  try {
    loaded = await deps.secrets.get(nowMs);
  } catch (err) {
    return record.unavailable('secret_error', err, SECRET_UNAVAILABLE);
  }
  if (loaded.stale) {
    // Secrets Manager is failing: verified with the last good keys, within their grace period.
    record.counters.StaleSecret = 1;
    record.line.secretError = errorName(loaded.error);
  }
  let verified = verifyAndParse(decoded, scheme, loaded.keys, nowMs);
  if (!verified.ok && verified.reason === SIGNATURE_MISMATCH) {
    // Perhaps rotated since we cached it: look once more before refusing.
    let fresh: LoadedKeys | undefined;
    try {
      fresh = await deps.secrets.refresh(nowMs);
    } catch (err) {
      return record.unavailable('secret_error', err, SECRET_UNAVAILABLE);
    }
    if (fresh) verified = verifyAndParse(decoded, scheme, fresh.keys, nowMs);
  }
  return verified;
}

const SECRET_UNAVAILABLE = 'signing secret unavailable; retry later';

/** Step 5c: the outcome's key, and the detail that carries it, if the entry still fits; counted when unusual. */
function keyedOutcome(
  verified: VerifiedEvent,
  byteLength: number,
  record: RequestRecord,
): { readonly ok: true; readonly key: string; readonly detail: string } | Rejection {
  const { envelope } = verified;
  const key = outcomeKey(envelope);
  record.line.key = key;
  const size = EVENT_SOURCE.length + Buffer.byteLength(envelope.type) + byteLength + outcomeKeyBytes(key);
  if (size > MAX_ENTRY_BYTES) {
    return reject(
      413,
      `event is ${size} bytes with its type and key; an EventBridge entry holds at most ${MAX_ENTRY_BYTES}`,
    );
  }
  const detail = withOutcomeKey(verified.detail, envelope, key);
  if (!verified.known) record.counters.UnknownType = 1;
  if (verified.problems.length > 0) {
    record.counters.IncompleteData = 1;
    record.line.problems = verified.problems;
  }
  return { ok: true, key, detail };
}

/** Step 7: what the claim, the publish and the completion came to, as the sender should hear it. */
function answer(result: DeliveryOutcome, id: string, record: RequestRecord): WebhookResponse {
  const { counters, line } = record;
  switch (result.outcome) {
    case 'published':
      counters.Published = 1;
      if (result.completeError) line.completeError = errorName(result.completeError);
      return record.finish('published', respond(200, { received: true, id }));
    case 'duplicate':
      counters.Duplicate = 1;
      if (result.payloadMismatch) counters.PayloadMismatch = 1;
      line.payloadMismatch = result.payloadMismatch || undefined;
      return record.finish('duplicate', respond(200, { received: true, id, duplicate: true }));
    case 'in_flight':
      counters.InFlight = 1;
      if (result.payloadMismatch) counters.PayloadMismatch = 1;
      line.payloadMismatch = result.payloadMismatch || undefined;
      return record.finish(
        'in_flight',
        respond(
          409,
          { error: 'this event id is being processed; retry later', id },
          { 'retry-after': String(result.retryAfterSeconds) },
        ),
      );
    case 'store_error':
      return record.unavailable('store_error', result.error, 'event store unavailable; retry later');
    case 'publish_error':
      if (result.releaseError) line.releaseError = errorName(result.releaseError);
      return record.unavailable(
        'publish_error',
        result.error,
        'event bus did not accept the event; retry later',
      );
    case 'publish_unknown':
      // The claim stays until it expires: a retry before then is told to wait, not published again.
      counters.Failed = 1;
      counters.PublishUnknown = 1;
      line.error = errorName(result.error);
      return record.finish(
        'publish_unknown',
        respond(
          503,
          { error: 'the event bus did not answer; retry later', id },
          { 'retry-after': String(result.retryAfterSeconds) },
        ),
      );
  }
}
