/**
 * Explicit limits for every AWS SDK client the handlers create: the SDK's defaults have no request timeout at
 * all, so one hung socket could hold a claim or a lease until the Lambda itself times out.
 */

export interface SdkLimits {
  /** Until the TCP (and TLS) connection is up. */
  readonly connectionTimeoutMs: number;
  /** Until the whole answer is in (and the most the socket may stay idle). */
  readonly requestTimeoutMs: number;
  /** Attempts in all, the first included. */
  readonly maxAttempts: number;
}

/**
 * Constructor options for any SDK v3 client. Recent SDK releases only log a warning when `requestTimeout` passes
 * unless `throwOnRequestTimeout` is set; older ones (a Lambda runtime may ship one) read it as the socket idle
 * timeout, as `socketTimeout` is in both: with all three, every release ends the call.
 */
export function sdkClientConfig(limits: SdkLimits): {
  maxAttempts: number;
  requestHandler: {
    connectionTimeout: number;
    requestTimeout: number;
    throwOnRequestTimeout: boolean;
    socketTimeout: number;
  };
} {
  return {
    maxAttempts: limits.maxAttempts,
    requestHandler: {
      connectionTimeout: limits.connectionTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      throwOnRequestTimeout: true,
      socketTimeout: limits.requestTimeoutMs,
    },
  };
}

/**
 * The longest one SDK call can take within these limits: each attempt connecting and waiting to the full, plus
 * the standard retry strategy's waits between attempts (full jitter below 100 ms * 2^n, or 500 ms * 2^n after a
 * throttle).
 */
export function worstCaseMs(limits: SdkLimits): number {
  let backoff = 0;
  for (let n = 0; n < limits.maxAttempts - 1; n++) backoff += 500 * 2 ** n;
  return limits.maxAttempts * (limits.connectionTimeoutMs + limits.requestTimeoutMs) + backoff;
}

/** DynamoDB item reads and writes: small and quick, so a short wait and a retry beat a long wait. */
export const DYNAMODB_LIMITS: SdkLimits = {
  connectionTimeoutMs: 1_000,
  requestTimeoutMs: 2_000,
  maxAttempts: 3,
};
/**
 * One PutEvents entry, one attempt: a retried PutEvents whose first answer was lost could publish twice, and with
 * one attempt the caller knows whether a failure may have landed (publishOutcomeUnknown). The sender's retry, or
 * the next poll, is the retry.
 */
export const EVENTBRIDGE_LIMITS: SdkLimits = {
  connectionTimeoutMs: 1_000,
  requestTimeoutMs: 3_000,
  maxAttempts: 1,
};
/** GetSecretValue, SNS Publish: rare calls. */
export const CONTROL_PLANE_LIMITS: SdkLimits = {
  connectionTimeoutMs: 1_000,
  requestTimeoutMs: 5_000,
  maxAttempts: 3,
};
