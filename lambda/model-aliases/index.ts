import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { GetParametersCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { requiredEnv } from '../shared/env';
import { DynamoIdempotencyStore } from '../shared/idempotency';
import { stdoutLogger } from '../shared/log';
import { CONTROL_PLANE_LIMITS, DYNAMODB_LIMITS, sdkClientConfig } from '../shared/sdk-config';
import { AliasSpec, applyAliases, readAliasEvent } from './core';
import { DynamoAliasState } from './state';

// Module scope: reused by a warm container; every call bounded in time.
const dynamo = new DynamoDBClient(sdkClientConfig(DYNAMODB_LIMITS));
const ssm = new SSMClient(sdkClientConfig(CONTROL_PLANE_LIMITS));
const sns = new SNSClient(sdkClientConfig(CONTROL_PLANE_LIMITS));

const aliases = JSON.parse(requiredEnv(process.env, 'ALIASES')) as AliasSpec[];
const table = requiredEnv(process.env, 'TABLE_NAME');
const scope = requiredEnv(process.env, 'CLAIM_SCOPE');
const store = new DynamoIdempotencyStore(dynamo, table);
const state = new DynamoAliasState(dynamo, table, scope);
const topic = process.env.ALERT_TOPIC_ARN || undefined;
// How long a claim is remembered: the receiver's dedupeRetention, in days (fractions allowed).
const retentionDays = Number(process.env.RETENTION_DAYS || 7);
if (!(retentionDays > 0))
  throw new Error(`RETENTION_DAYS must be a positive number of days, got "${process.env.RETENTION_DAYS}"`);

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
    state,
    scope,
    token: randomUUID(),
    nowMs: Date.now(),
    remainingMs: context?.getRemainingTimeInMillis?.() ?? 30_000,
    retentionSeconds: Math.round(retentionDays * 86400),
    log: stdoutLogger,
  });
}
