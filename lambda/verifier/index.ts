import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DynamoIdempotencyStore, outcomeClaimKeys } from '../shared/idempotency';
import { errorName, stdoutLogger } from '../shared/log';
import { putEvent, TRACE_HEADER_ENV } from '../shared/publisher';
import {
  CONTROL_PLANE_LIMITS,
  DYNAMODB_LIMITS,
  EVENTBRIDGE_LIMITS,
  sdkClientConfig,
} from '../shared/sdk-config';
import { readVerifierConfig } from './config';
import { handleWebhook, VerifierDeps, WebhookRequest, WebhookResponse } from './core';
import { SecretCache, secretsManagerFetch } from './secrets';

// Module scope: reused by every invocation of a warm container; every call bounded in time.
const dynamo = new DynamoDBClient(sdkClientConfig(DYNAMODB_LIMITS));
const eventBridge = new EventBridgeClient(sdkClientConfig(EVENTBRIDGE_LIMITS));
const secretsManager = new SecretsManagerClient(sdkClientConfig(CONTROL_PLANE_LIMITS));
/** A rotated secret is looked up again on a mismatch, but at most this often. */
const MIN_SECRET_REFRESH_MS = 10_000;

let deps: VerifierDeps | undefined;

function makeDeps(env: NodeJS.ProcessEnv): VerifierDeps {
  const config = readVerifierConfig(env);
  const store = new DynamoIdempotencyStore(dynamo, config.tableName, outcomeClaimKeys(config.claimScope));
  return {
    config: {
      scheme: config.scheme,
      retentionSeconds: config.retentionSeconds,
      metrics: { namespace: config.metricsNamespace, service: config.metricsService },
    },
    secrets: new SecretCache(
      secretsManagerFetch(secretsManager, config.secretArn, config.secretJsonField),
      config.scheme,
      config.secretCacheTtlMs,
      MIN_SECRET_REFRESH_MS,
    ),
    store,
    // The live environment: Lambda sets the trace header anew for each invocation.
    publish: (detailType, detail) =>
      putEvent(eventBridge, config.eventBusName, detailType, detail, env[TRACE_HEADER_ENV]),
    log: stdoutLogger,
    clock: Date.now,
    newToken: randomUUID,
  };
}

export async function handler(
  event: WebhookRequest,
  context?: { getRemainingTimeInMillis?: () => number },
): Promise<WebhookResponse> {
  try {
    deps ??= makeDeps(process.env);
  } catch (err) {
    stdoutLogger({ level: 'ERROR', message: 'verifier misconfigured', error: errorName(err) });
    return {
      statusCode: 500,
      headers: { 'content-type': 'application/json' },
      body: '{"error":"verifier misconfigured"}',
    };
  }
  return handleWebhook(event, deps, context?.getRemainingTimeInMillis?.() ?? 30_000);
}
