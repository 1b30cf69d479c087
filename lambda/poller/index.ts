import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { DynamoIdempotencyStore, outcomeClaimKeys } from '../shared/idempotency';
import { errorName, stdoutLogger } from '../shared/log';
import { putEvent, TRACE_HEADER_ENV } from '../shared/publisher';
import {
  CONTROL_PLANE_LIMITS,
  DYNAMODB_LIMITS,
  EVENTBRIDGE_LIMITS,
  sdkClientConfig,
} from '../shared/sdk-config';
import { readSecret } from '../shared/secret-value';
import { realClock } from '../shared/together-api';
import { pollerConfig, readPollerEnv } from './config';
import { poll, PollerDeps, PollSummary, pollWindow, RESERVES } from './core';
import { DynamoPollerStateStore } from './state';
import { DynamoTrackInbox } from './tracked';

// Module scope: reused by every invocation of a warm container; every call bounded in time.
const dynamo = new DynamoDBClient(sdkClientConfig(DYNAMODB_LIMITS));
const eventBridge = new EventBridgeClient(sdkClientConfig(EVENTBRIDGE_LIMITS));
const secretsManager = new SecretsManagerClient(sdkClientConfig(CONTROL_PLANE_LIMITS));
const sns = new SNSClient(sdkClientConfig(CONTROL_PLANE_LIMITS));

let deps: PollerDeps | undefined;

function makeDeps(env: NodeJS.ProcessEnv): PollerDeps {
  const config = readPollerEnv(env);
  return {
    config: pollerConfig(config),
    store: new DynamoIdempotencyStore(dynamo, config.tableName, outcomeClaimKeys(config.claimScope)),
    state: new DynamoPollerStateStore(dynamo, config.tableName, config.stateScope, (part, why) =>
      stdoutLogger({ level: 'WARN', message: 'poller state', part, why }),
    ),
    // The live environment: Lambda sets the trace header anew for each invocation.
    publish: (detailType, detail) =>
      putEvent(eventBridge, config.eventBusName, detailType, detail, env[TRACE_HEADER_ENV]),
    // Read each poll, so a rotated key is used at once.
    getApiKey: async () =>
      (
        await readSecret(secretsManager, config.apiKeySecretArn, config.apiKeyJsonField, {
          label: `the Together API key secret ${config.apiKeySecretName}`,
        })
      ).value,
    notify: async (subject, message) => {
      if (!config.alertTopicArn) return;
      await sns.send(
        new PublishCommand({ TopicArn: config.alertTopicArn, Subject: subject, Message: message }),
      );
    },
    clock: realClock,
    log: stdoutLogger,
    newToken: randomUUID,
    inbox: new DynamoTrackInbox(dynamo, config.tableName, config.stateScope),
  };
}

export async function handler(
  _event: unknown,
  context?: { getRemainingTimeInMillis?: () => number },
): Promise<PollSummary> {
  try {
    deps ??= makeDeps(process.env);
  } catch (err) {
    stdoutLogger({ level: 'ERROR', message: 'poller misconfigured', error: errorName(err) });
    throw err;
  }
  const remaining = context?.getRemainingTimeInMillis?.() ?? 90_000;
  return poll(deps, pollWindow(Date.now(), remaining, RESERVES));
}
