import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DynamoIdempotencyStore } from '../shared/idempotency';
import { stdoutLogger } from '../shared/log';
import { CONTROL_PLANE_LIMITS, DYNAMODB_LIMITS, sdkClientConfig } from '../shared/sdk-config';
import { readTogetherApiKey } from '../shared/secret-value';
import { togetherRequest } from '../shared/together-api';
import { readAutoDeployConfig } from './config';
import { autoDeploy, Decision, readFineTuneCompleted } from './core';

// Module scope: reused by a warm container; every call bounded in time.
const dynamo = new DynamoDBClient(sdkClientConfig(DYNAMODB_LIMITS));
const secretsManager = new SecretsManagerClient(sdkClientConfig(CONTROL_PLANE_LIMITS));

const config = readAutoDeployConfig(process.env);
const store = new DynamoIdempotencyStore(dynamo, config.tableName);

export async function handler(
  event: unknown,
  context?: { getRemainingTimeInMillis?: () => number },
): Promise<Decision> {
  const ft = readFineTuneCompleted(event);
  const remainingMs = context?.getRemainingTimeInMillis?.() ?? 30_000;
  const startedMs = Date.now();
  // Per invocation: deployments are rare.
  const apiKey = await readTogetherApiKey(secretsManager, config);
  return autoDeploy(ft, {
    config,
    store,
    nowMs: startedMs,
    remainingMs,
    token: randomUUID(),
    log: stdoutLogger,
    together: (method, path, body) =>
      togetherRequest({
        baseUrl: config.apiBaseUrl,
        apiKey,
        method,
        path,
        body,
        // Stop well before the function does, so the claim is completed or released by us, not by its expiry.
        deadlineMs: startedMs + remainingMs - 5_000,
        // A create is never repeated blindly: the retry lists first.
        maxAttempts: method === 'POST' ? 1 : 3,
        connectTimeoutMs: 3_000,
        timeoutMs: 10_000,
      }),
  });
}
