import { createHmac, timingSafeEqual } from 'node:crypto';
import { SIGNATURE_SCHEMES, SignatureSchemeName } from '../../lib/contract';
import { SecretFormatError } from '../shared/secret-value';

/** How the sender signs: the seed's Together HMAC, or Standard Webhooks (standardwebhooks.com). */
export type SchemeName = SignatureSchemeName;
export const SCHEMES: readonly SchemeName[] = SIGNATURE_SCHEMES;

export const TOGETHER_SIGNATURE_HEADER = 'x-together-signature';
/** Standard Webhooks rejects timestamps further than this from now, either way, to stop replays. */
export const TIMESTAMP_TOLERANCE_SECONDS = 5 * 60;
const MAX_SIGNATURES = 16;
const SHA256_BYTES = 32;
const HEX_SHA256 = /^[0-9a-fA-F]{64}$/;
const BASE64_SHA256 = /^[A-Za-z0-9+/]{43}=$/;

/** Lower-cased header names; REST (1.0) payloads keep the sender's casing. */
export type Headers = Readonly<Record<string, string | undefined>>;

/** The body as received: bytes (base64 bodies), or text whose UTF-8 encoding is the bytes that were signed. */
export type RawBody = Buffer | string;

export type SignatureCheck = { readonly ok: true } | { readonly ok: false; readonly reason: string };

const OK: SignatureCheck = { ok: true };

export const SIGNATURE_MISMATCH = 'signature does not match';

/** The HMAC key for a secret as stored: Together uses the string's bytes, Standard Webhooks base64 after `whsec_`. */
export function secretToKey(scheme: SchemeName, secret: string): Buffer {
  const key =
    scheme === 'standard-webhooks'
      ? Buffer.from(secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret, 'base64')
      : Buffer.from(secret, 'utf8');
  if (key.length === 0) throw new SecretFormatError(`the ${scheme} signing secret is empty`);
  return key;
}

function matchesAny(expected: readonly Buffer[], given: Buffer): boolean {
  let match = false;
  // Check every key, so the time taken does not tell which (if any) matched.
  for (const candidate of expected) {
    if (timingSafeEqual(candidate, given)) match = true;
  }
  return match;
}

/** `x-together-signature` = hex HMAC-SHA256(secret, raw body). Any key in `keys` may match (rotation). */
export function verifyTogetherHmac(headers: Headers, body: RawBody, keys: readonly Buffer[]): SignatureCheck {
  const header = headers[TOGETHER_SIGNATURE_HEADER];
  if (header === undefined || header === '') {
    return { ok: false, reason: `missing ${TOGETHER_SIGNATURE_HEADER} header` };
  }
  const given = header.trim();
  if (!HEX_SHA256.test(given)) {
    return { ok: false, reason: `${TOGETHER_SIGNATURE_HEADER} must be 64 hex characters` };
  }
  const expected = keys.map((key) => createHmac('sha256', key).update(body).digest());
  return matchesAny(expected, Buffer.from(given, 'hex')) ? OK : { ok: false, reason: SIGNATURE_MISMATCH };
}

/**
 * Standard Webhooks: `webhook-signature` is a space-separated list of `v1,<base64>` over
 * `${webhook-id}.${webhook-timestamp}.${body}`; the timestamp must be within 5 minutes of `nowMs`.
 */
export function verifyStandardWebhooks(
  headers: Headers,
  body: RawBody,
  keys: readonly Buffer[],
  nowMs: number,
): SignatureCheck {
  const id = headers['webhook-id'];
  const timestamp = headers['webhook-timestamp'];
  const signatures = headers['webhook-signature'];
  if (!id || !timestamp || !signatures) {
    return { ok: false, reason: 'missing webhook-id, webhook-timestamp or webhook-signature header' };
  }
  if (!/^\d{1,12}$/.test(timestamp.trim()))
    return { ok: false, reason: 'webhook-timestamp must be epoch seconds' };
  const skew = Math.abs(nowMs / 1000 - Number(timestamp.trim()));
  if (skew > TIMESTAMP_TOLERANCE_SECONDS) {
    return { ok: false, reason: 'webhook-timestamp is outside the 5 minute tolerance' };
  }

  const given: Buffer[] = [];
  for (const entry of signatures.trim().split(/\s+/).slice(0, MAX_SIGNATURES)) {
    const comma = entry.indexOf(',');
    const value = entry.slice(comma + 1);
    if (comma > 0 && entry.slice(0, comma) === 'v1' && BASE64_SHA256.test(value)) {
      given.push(Buffer.from(value, 'base64'));
    }
  }
  if (given.length === 0) return { ok: false, reason: 'webhook-signature has no v1 signature' };

  const prefix = Buffer.from(`${id}.${timestamp.trim()}.`, 'utf8');
  const expected = keys.map((key) => createHmac('sha256', key).update(prefix).update(body).digest());
  let match = false;
  for (const signature of given) {
    if (signature.length === SHA256_BYTES && matchesAny(expected, signature)) match = true;
  }
  return match ? OK : { ok: false, reason: SIGNATURE_MISMATCH };
}

export function verifySignature(
  scheme: SchemeName,
  headers: Headers,
  body: RawBody,
  keys: readonly Buffer[],
  nowMs: number,
): SignatureCheck {
  return scheme === 'standard-webhooks'
    ? verifyStandardWebhooks(headers, body, keys, nowMs)
    : verifyTogetherHmac(headers, body, keys);
}

/**
 * The headers a sender puts on `body`: what the verifier checks, made the same way (the CLI's `sign`, `send` and
 * `listen` use it). Standard Webhooks needs a message id and the send time.
 */
export function signatureHeaders(
  scheme: SchemeName,
  secret: string,
  body: RawBody,
  message: { id: string; timestampSeconds: number } = { id: '', timestampSeconds: 0 },
): Record<string, string> {
  const key = secretToKey(scheme, secret);
  if (scheme === 'together-hmac') {
    return { [TOGETHER_SIGNATURE_HEADER]: createHmac('sha256', key).update(body).digest('hex') };
  }
  if (!message.id) throw new Error('standard-webhooks signatures need a message id');
  const timestamp = String(Math.floor(message.timestampSeconds));
  const signature = createHmac('sha256', key)
    .update(`${message.id}.${timestamp}.`)
    .update(body)
    .digest('base64');
  return { 'webhook-id': message.id, 'webhook-timestamp': timestamp, 'webhook-signature': `v1,${signature}` };
}
