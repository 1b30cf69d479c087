import { createHmac } from 'node:crypto';
import { WebhookRequest } from '../../lambda/verifier/core';

export const SECRET = 'test-signing-secret-0123456789';

export function togetherSignature(body: string | Buffer, secret = SECRET): string {
  return createHmac('sha256', secret).update(body).digest('hex');
}

/** An HTTP API (payload 2.0) request as API Gateway hands it to the verifier. */
export function signedRequest(
  body: string,
  secret = SECRET,
  extra: Record<string, string> = {},
): WebhookRequest {
  return {
    headers: {
      'content-type': 'application/json',
      'x-together-signature': togetherSignature(body, secret),
      ...extra,
    },
    body,
    isBase64Encoded: false,
  };
}

/** When `envelope()`s are created by default: two hours before the verifier harness's clock starts. */
export const ENVELOPE_CREATED_AT = '2026-11-23T10:00:00Z';

export function envelope(
  id: string,
  type = 'fine_tune.completed',
  data?: Record<string, unknown>,
  createdAt = ENVELOPE_CREATED_AT,
): string {
  return JSON.stringify({
    id,
    type,
    created_at: createdAt,
    data: data ?? { fine_tune_id: 'ft-123', model_name: 'acme/llama-ft', eval_loss: 0.42 },
  });
}
