import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { requiredEnv } from '../shared/env';
import { DynamoIdempotencyStore } from '../shared/idempotency';
import { stdoutLogger } from '../shared/log';
import { CONTROL_PLANE_LIMITS, DYNAMODB_LIMITS, sdkClientConfig } from '../shared/sdk-config';
import { readSecret } from '../shared/secret-value';
import { checkApiBaseUrl, DEFAULT_API_BASE_URL, togetherRequest } from '../shared/together-api';
import { AutoDeployConfig, autoDeploy, Decision, readFineTuneCompleted } from './core';

// Module scope: reused by a warm container; every call bounded in time.
const dynamo = new DynamoDBClient(sdkClientConfig(DYNAMODB_LIMITS));
const secretsManager = new SecretsManagerClient(sdkClientConfig(CONTROL_PLANE_LIMITS));

const optionalNumber = (v: string | undefined) => (v === undefined || v === '' ? undefined : Number(v));

function readConfig(env: NodeJS.ProcessEnv): AutoDeployConfig & { table: string; apiBaseUrl: string } {
  return {
    table: requiredEnv(env, 'TABLE_NAME'),
    apiBaseUrl: checkApiBaseUrl('API_BASE_URL', env.API_BASE_URL ?? DEFAULT_API_BASE_URL),
    hardware: requiredEnv(env, 'HARDWARE'),
    minReplicas: Number(requiredEnv(env, 'MIN_REPLICAS')),
    maxReplicas: Number(requiredEnv(env, 'MAX_REPLICAS')),
    inactiveTimeoutMinutes: optionalNumber(env.INACTIVE_TIMEOUT_MINUTES),
    maxEvalLoss: optionalNumber(env.MAX_EVAL_LOSS),
    modelNamePrefix: env.MODEL_NAME_PREFIX || undefined,
    scope: requiredEnv(env, 'CLAIM_SCOPE'),
    retentionSeconds: Number(env.RETENTION_DAYS ?? '7') * 86400,
  };
}

const config = readConfig(process.env);
const store = new DynamoIdempotencyStore(dynamo, config.table);

export async function handler(
  event: unknown,
  context?: { getRemainingTimeInMillis?: () => number },
): Promise<Decision> {
  const ft = readFineTuneCompleted(event);
  const remainingMs = context?.getRemainingTimeInMillis?.() ?? 30_000;
  const startedMs = Date.now();
  // Read per invocation: a rotated key is used at once, and deployments are rare.
  const apiKey = (
    await readSecret(
      secretsManager,
      requiredEnv(process.env, 'API_KEY_SECRET_ARN'),
      process.env.API_KEY_JSON_FIELD,
      {
        label: 'the Together API key secret',
      },
    )
  ).value;
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
