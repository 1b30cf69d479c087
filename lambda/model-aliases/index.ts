import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { GetParametersCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { DynamoIdempotencyStore } from '../shared/idempotency';
import { stdoutLogger } from '../shared/log';
import { CONTROL_PLANE_LIMITS, DYNAMODB_LIMITS, sdkClientConfig } from '../shared/sdk-config';
import { readModelAliasesConfig } from './config';
import { applyAliases, readAliasEvent } from './core';
import { DynamoAliasState } from './state';

// Module scope: reused by a warm container; every call bounded in time.
const dynamo = new DynamoDBClient(sdkClientConfig(DYNAMODB_LIMITS));
const ssm = new SSMClient(sdkClientConfig(CONTROL_PLANE_LIMITS));
const sns = new SNSClient(sdkClientConfig(CONTROL_PLANE_LIMITS));

const config = readModelAliasesConfig(process.env);
const store = new DynamoIdempotencyStore(dynamo, config.tableName);
const state = new DynamoAliasState(dynamo, config.tableName, config.scope);
const topic = config.alertTopicArn;

export async function handler(event: unknown, context?: { getRemainingTimeInMillis?: () => number }) {
  return applyAliases(readAliasEvent(event), {
    aliases: config.aliases,
    switchOnDeprecation: config.switchOnDeprecation,
    readParameters: async (names) => {
      const out: Record<string, string | undefined> = {};
      // GetParameters takes ten names a call.
      for (let i = 0; i < names.length; i += 10) {
        const got = await ssm.send(new GetParametersCommand({ Names: names.slice(i, i + 10) }));
        for (const p of got.Parameters ?? []) if (p.Name) out[p.Name] = p.Value;
      }
      return out;
    },
    writeParameter: async (name, value) => {
      await ssm.send(new PutParameterCommand({ Name: name, Value: value, Overwrite: true, Type: 'String' }));
    },
    announce: topic
      ? async (subject, message) => {
          await sns.send(new PublishCommand({ TopicArn: topic, Subject: subject, Message: message }));
        }
      : undefined,
    store,
    state,
    scope: config.scope,
    token: randomUUID(),
    nowMs: Date.now(),
    remainingMs: context?.getRemainingTimeInMillis?.() ?? 30_000,
    retentionSeconds: config.retentionSeconds,
    log: stdoutLogger,
  });
}
