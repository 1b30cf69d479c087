import { createHmac } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import {
  secretToKey,
  SIGNATURE_MISMATCH,
  signatureHeaders,
  verifySignature,
  verifyStandardWebhooks,
  verifyTogetherHmac,
} from '../../../lambda/verifier/signature';
import { SECRET, togetherSignature } from '../../support/signing';

const body = Buffer.from('{"id":"evt-1","type":"batch.done","data":{}}');
const key = secretToKey('together-hmac', SECRET);

describe('Together HMAC (x-together-signature)', () => {
  const good = togetherSignature(body);

  test('accepts the hex HMAC-SHA256 of the raw body', () => {
    expect(verifyTogetherHmac({ 'x-together-signature': good }, body, [key])).toEqual({ ok: true });
  });

  test('accepts upper-case hex and surrounding spaces', () => {
    expect(verifyTogetherHmac({ 'x-together-signature': ` ${good.toUpperCase()} ` }, body, [key]).ok).toBe(
      true,
    );
  });

  test.each([
    ['missing', undefined, 'missing x-together-signature header'],
    ['empty', '', 'missing x-together-signature header'],
    ['short', good.slice(0, 63), 'x-together-signature must be 64 hex characters'],
    ['long', good + '0', 'x-together-signature must be 64 hex characters'],
    ['non-hex', 'z'.repeat(64), 'x-together-signature must be 64 hex characters'],
    ['sha256= prefix', `sha256=${good}`, 'x-together-signature must be 64 hex characters'],
    ['wrong', togetherSignature(body, 'another-secret'), SIGNATURE_MISMATCH],
  ])('%s signature is refused with a reason', (_name, header, reason) => {
    const result = verifyTogetherHmac({ 'x-together-signature': header }, body, [key]);
    expect(result).toEqual({ ok: false, reason });
  });

  test('one changed byte in the body breaks the signature', () => {
    const tampered = Buffer.from(body);
    tampered[10] ^= 1;
    expect(verifyTogetherHmac({ 'x-together-signature': good }, tampered, [key]).ok).toBe(false);
  });

  test('during rotation either the current or the previous key is accepted', () => {
    const previous = secretToKey('together-hmac', 'old-secret');
    const signedWithOld = togetherSignature(body, 'old-secret');
    expect(verifyTogetherHmac({ 'x-together-signature': signedWithOld }, body, [key, previous]).ok).toBe(
      true,
    );
    expect(verifyTogetherHmac({ 'x-together-signature': good }, body, [key, previous]).ok).toBe(true);
    expect(verifyTogetherHmac({ 'x-together-signature': signedWithOld }, body, [key]).ok).toBe(false);
  });

  test('the reason never contains the expected signature', () => {
    const result = verifyTogetherHmac({ 'x-together-signature': '0'.repeat(64) }, body, [key]);
    expect(JSON.stringify(result)).not.toContain(good);
  });
});

describe('Standard Webhooks', () => {
  // Signed by the reference library, verified by ours: two independent implementations must agree.
  const whsec = 'whsec_' + Buffer.from('a-32-byte-standard-webhooks-key!').toString('base64');
  const keys = [secretToKey('standard-webhooks', whsec)];
  const payload = body.toString();
  const nowMs = Date.UTC(2026, 10, 23, 12, 0, 0);
  const timestamp = new Date(nowMs);
  const signature = new Webhook(whsec).sign('msg_1', timestamp, payload);
  const headers = {
    'webhook-id': 'msg_1',
    'webhook-timestamp': String(Math.floor(nowMs / 1000)),
    'webhook-signature': signature,
  };

  test('accepts what the standardwebhooks library signs', () => {
    expect(signature).toMatch(/^v1,/);
    expect(verifyStandardWebhooks(headers, body, keys, nowMs)).toEqual({ ok: true });
  });

  test('agrees with the reference library on what is valid', () => {
    jest.useFakeTimers({ now: nowMs });
    try {
      expect(() => new Webhook(whsec).verify(payload, headers)).not.toThrow();
      const forged = { ...headers, 'webhook-id': 'msg_2' };
      expect(() => new Webhook(whsec).verify(payload, forged)).toThrow();
      expect(verifyStandardWebhooks(forged, body, keys, nowMs).ok).toBe(false);
    } finally {
      jest.useRealTimers();
    }
  });

  test('accepts any matching entry of a space-separated list, ignoring other versions', () => {
    const list = `v1a,xyz v1,${'A'.repeat(43)}= ${signature}`;
    expect(verifyStandardWebhooks({ ...headers, 'webhook-signature': list }, body, keys, nowMs).ok).toBe(
      true,
    );
  });

  test.each([
    ['4 min old', -240, true],
    ['4 min ahead', 240, true],
    ['6 min old', -360, false],
    ['6 min ahead', 360, false],
  ])('timestamp %s -> accepted: %s', (_name, offsetSeconds, accepted) => {
    const ts = new Date(nowMs + offsetSeconds * 1000);
    const sig = new Webhook(whsec).sign('msg_1', ts, payload);
    const h = {
      'webhook-id': 'msg_1',
      'webhook-timestamp': String(Math.floor(ts.getTime() / 1000)),
      'webhook-signature': sig,
    };
    expect(verifyStandardWebhooks(h, body, keys, nowMs).ok).toBe(accepted);
  });

  test.each([
    ['no id', { ...headers, 'webhook-id': undefined }],
    ['no timestamp', { ...headers, 'webhook-timestamp': undefined }],
    ['no signature', { ...headers, 'webhook-signature': undefined }],
    ['timestamp not a number', { ...headers, 'webhook-timestamp': 'yesterday' }],
    ['only an unknown version', { ...headers, 'webhook-signature': signature.replace('v1,', 'v2,') }],
    ['truncated base64', { ...headers, 'webhook-signature': signature.slice(0, -4) }],
    ['id changed', { ...headers, 'webhook-id': 'msg_2' }],
  ])('%s is refused', (_name, h) => {
    const result = verifyStandardWebhooks(h, body, keys, nowMs);
    expect(result.ok).toBe(false);
  });

  test('a secret without the whsec_ prefix is read as base64 too', () => {
    const bare = secretToKey('standard-webhooks', whsec.slice('whsec_'.length));
    expect(bare.equals(keys[0])).toBe(true);
  });

  test('the signed content is id.timestamp.body', () => {
    const sig = createHmac('sha256', keys[0])
      .update(`msg_9.${headers['webhook-timestamp']}.${payload}`)
      .digest('base64');
    const h = { ...headers, 'webhook-id': 'msg_9', 'webhook-signature': `v1,${sig}` };
    expect(verifyStandardWebhooks(h, body, keys, nowMs).ok).toBe(true);
  });
});

test('an empty secret is a configuration error, not a key that matches everything', () => {
  expect(() => secretToKey('together-hmac', '')).toThrow(/empty/);
  expect(() => secretToKey('standard-webhooks', 'whsec_')).toThrow(/empty/);
});

describe('signatureHeaders: what a sender attaches, checked by the verifier itself', () => {
  const body = '{"id":"evt_1","type":"batch.done","data":{}}';
  test('together-hmac: the hex HMAC header verifies; another body does not', () => {
    const headers = signatureHeaders('together-hmac', 'sekret', body);
    expect(headers).toEqual({
      'x-together-signature': createHmac('sha256', 'sekret').update(body).digest('hex'),
    });
    const keys = [secretToKey('together-hmac', 'sekret')];
    expect(verifySignature('together-hmac', headers, body, keys, Date.now())).toEqual({ ok: true });
    expect(verifySignature('together-hmac', headers, body + ' ', keys, Date.now()).ok).toBe(false);
  });

  test('standard-webhooks: id, timestamp and v1 signature verify within the tolerance', () => {
    const secret = 'whsec_' + Buffer.from('0123456789abcdef0123456789abcdef').toString('base64');
    const now = Date.UTC(2026, 10, 26, 12, 0, 0);
    const headers = signatureHeaders('standard-webhooks', secret, body, {
      id: 'msg_1',
      timestampSeconds: now / 1000,
    });
    expect(headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
    const keys = [secretToKey('standard-webhooks', secret)];
    expect(verifySignature('standard-webhooks', headers, body, keys, now)).toEqual({ ok: true });
    expect(verifySignature('standard-webhooks', headers, body, keys, now + 10 * 60_000).ok).toBe(false);
    expect(() => signatureHeaders('standard-webhooks', secret, body)).toThrow('need a message id');
  });
});
