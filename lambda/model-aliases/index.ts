import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { GetParametersCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { requiredEnv } from '../shared/env';
import { DynamoIdempotencyStore } from '../shared/idempotency';
import { stdoutLogger } from '../shared/log';
import { CONTROL_PLANE_LIMITS, DYNAMODB_LIMITS, sdkClientConfig } from '../shared/sdk-config';
import { AliasSpec, applyAliases, readAliasEvent } from './core';

// Module scope: reused by a warm container; every call bounded in time.
const dynamo = new DynamoDBClient(sdkClientConfig(DYNAMODB_LIMITS));
const ssm = new SSMClient(sdkClientConfig(CONTROL_PLANE_LIMITS));
const sns = new SNSClient(sdkClientConfig(CONTROL_PLANE_LIMITS));

const aliases = JSON.parse(requiredEnv(process.env, 'ALIASES')) as AliasSpec[];
const store = new DynamoIdempotencyStore(dynamo, requiredEnv(process.env, 'TABLE_NAME'));
const topic = process.env.ALERT_TOPIC_ARN || undefined;

export async function handler(event: unknown, context?: { getRemainingTimeInMillis?: () => number }) {
  return applyAliases(readAliasEvent(event), {
    aliases,
    switchOnDeprecation: process.env.SWITCH_ON_DEPRECATION === 'true',
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
    scope: requiredEnv(process.env, 'CLAIM_SCOPE'),
    token: randomUUID(),
    nowMs: Date.now(),
    remainingMs: context?.getRemainingTimeInMillis?.() ?? 30_000,
    retentionSeconds: Number(process.env.RETENTION_DAYS ?? '7') * 86400,
    log: stdoutLogger,
  });
}
