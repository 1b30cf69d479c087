import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { DynamoIdempotencyStore } from '../shared/idempotency';
import { stdoutLogger } from '../shared/log';
import { putEvent } from '../shared/publisher';
import {
  CONTROL_PLANE_LIMITS,
  DYNAMODB_LIMITS,
  EVENTBRIDGE_LIMITS,
  sdkClientConfig,
} from '../shared/sdk-config';
import { readTogetherApiKey } from '../shared/secret-value';
import { togetherRequest } from '../shared/together-api';
import { readFineTuneRetryConfig } from './config';
import { readFineTuneFailed, retryFailedFineTune, RetryDecision } from './core';
import { DynamoLineageStore } from './lineage';

// Module scope: reused by a warm container; every call bounded in time.
const dynamo = new DynamoDBClient(sdkClientConfig(DYNAMODB_LIMITS));
const eventBridge = new EventBridgeClient(sdkClientConfig(EVENTBRIDGE_LIMITS));
const secretsManager = new SecretsManagerClient(sdkClientConfig(CONTROL_PLANE_LIMITS));
const sns = new SNSClient(sdkClientConfig(CONTROL_PLANE_LIMITS));

const config = readFineTuneRetryConfig(process.env);
const store = new DynamoIdempotencyStore(dynamo, config.tableName);
const lineage = new DynamoLineageStore(dynamo, config.tableName, config.scope, config.retentionSeconds);
const topic = config.alertTopicArn;

export async function handler(
  event: unknown,
  context?: { getRemainingTimeInMillis?: () => number },
): Promise<RetryDecision> {
  const failed = readFineTuneFailed(event);
  const remainingMs = context?.getRemainingTimeInMillis?.() ?? 30_000;
  const startedMs = Date.now();
  // Per invocation: failures are rare.
  const apiKey = await readTogetherApiKey(secretsManager, config);
  return retryFailedFineTune(failed, {
    config,
    store,
    lineage,
    nowMs: startedMs,
    remainingMs,
    token: randomUUID(),
    log: stdoutLogger,
    publish: (detailType, detail) => putEvent(eventBridge, config.eventBusName, detailType, detail),
    alert: topic
      ? async (subject, message) => {
          await sns.send(new PublishCommand({ TopicArn: topic, Subject: subject, Message: message }));
        }
      : undefined,
    together: (method, path, body, secrets) =>
      togetherRequest({
        baseUrl: config.apiBaseUrl,
        apiKey,
        method,
        path,
        body,
        secrets,
        // Stop well before the function does, so the claim is completed or released by us, not by its expiry.
        deadlineMs: startedMs + remainingMs - 5_000,
        // A create is never repeated blindly: the retry lists first.
        maxAttempts: method === 'POST' ? 1 : 3,
        connectTimeoutMs: 3_000,
        timeoutMs: 10_000,
      }),
  });
}
