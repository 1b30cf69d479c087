import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { openHttpStream } from '../shared/http';
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
import { BatchResultsEnv, readBatchResultsConfig } from './config';
import { BatchResultsDeps, collectBatchResults, CollectResult } from './core';
import { togetherFileOpener } from './download';
import { S3_LIMITS, S3Ops } from './s3-writer';

// Module scope: reused by every invocation of a warm container; every call bounded in time.
const s3 = new S3Client(sdkClientConfig(S3_LIMITS));
const dynamo = new DynamoDBClient(sdkClientConfig(DYNAMODB_LIMITS));
const eventBridge = new EventBridgeClient(sdkClientConfig(EVENTBRIDGE_LIMITS));
const secretsManager = new SecretsManagerClient(sdkClientConfig(CONTROL_PLANE_LIMITS));

/** How long a read key is reused; a key Together refuses is read again at once. */
const API_KEY_TTL_MS = 5 * 60_000;
/** When Lambda gives no context (a local run): a 15-minute function. */
const DEFAULT_REMAINING_MS = 15 * 60_000;

/** The S3 calls the copy needs, on the SDK. */
export function s3Operations(client: S3Client): S3Ops {
  return {
    async putObject(p) {
      await client.send(
        new PutObjectCommand({ Bucket: p.bucket, Key: p.key, Body: p.body, ContentType: p.contentType }),
      );
    },
    async createMultipartUpload(p) {
      const out = await client.send(
        // With the algorithm named here, S3 checks each part's CRC32 (the SDK computes it) and its list at the end.
        new CreateMultipartUploadCommand({
          Bucket: p.bucket,
          Key: p.key,
          ContentType: p.contentType,
          ChecksumAlgorithm: 'CRC32',
        }),
      );
      if (!out.UploadId) throw new Error(`CreateMultipartUpload for ${p.key} returned no UploadId`);
      return out.UploadId;
    },
    async uploadPart(p) {
      const out = await client.send(
        new UploadPartCommand({
          Bucket: p.bucket,
          Key: p.key,
          UploadId: p.uploadId,
          PartNumber: p.partNumber,
          Body: p.body,
          ChecksumAlgorithm: 'CRC32',
        }),
      );
      if (!out.ETag) throw new Error(`UploadPart ${p.partNumber} of ${p.key} returned no ETag`);
      if (!out.ChecksumCRC32) throw new Error(`UploadPart ${p.partNumber} of ${p.key} returned no CRC32`);
      return { etag: out.ETag, checksumCrc32: out.ChecksumCRC32 };
    },
    async completeMultipartUpload(p) {
      await client.send(
        new CompleteMultipartUploadCommand({
          Bucket: p.bucket,
          Key: p.key,
          UploadId: p.uploadId,
          MultipartUpload: {
            Parts: p.parts.map((x) => ({
              PartNumber: x.partNumber,
              ETag: x.etag,
              ...(x.checksumCrc32 ? { ChecksumCRC32: x.checksumCrc32 } : {}),
            })),
          },
        }),
      );
    },
    async abortMultipartUpload(p) {
      await client.send(
        new AbortMultipartUploadCommand({ Bucket: p.bucket, Key: p.key, UploadId: p.uploadId }),
      );
    },
  };
}

let deps: BatchResultsDeps | undefined;
let apiKey: { value: string; readAtMs: number } | undefined;

async function readApiKey(config: BatchResultsEnv): Promise<string> {
  const now = Date.now();
  if (apiKey && now - apiKey.readAtMs < API_KEY_TTL_MS) return apiKey.value;
  const secret = await readSecret(secretsManager, config.apiKeySecretArn, config.apiKeyJsonField, {
    label: `the Together API key secret ${config.apiKeySecretArn}`,
  });
  apiKey = { value: secret.value, readAtMs: now };
  return secret.value;
}

function makeDeps(env: NodeJS.ProcessEnv): BatchResultsDeps {
  const config = readBatchResultsConfig(env);
  return {
    config: {
      bucket: config.bucketName,
      keyPrefix: config.keyPrefix,
      apiBaseUrl: config.apiBaseUrl,
      retentionSeconds: config.retentionSeconds,
      metrics: { namespace: config.metricsNamespace, service: config.metricsService },
    },
    openFile: togetherFileOpener({
      baseUrl: config.apiBaseUrl,
      apiKey: () => readApiKey(config),
      stream: openHttpStream,
      now: Date.now,
      // A rotated key is picked up by the retry.
      onKeyRefused: () => (apiKey = undefined),
    }),
    s3: s3Operations(s3),
    store: new DynamoIdempotencyStore(dynamo, config.tableName, outcomeClaimKeys(config.claimScope)),
    // The live environment: Lambda sets the trace header anew for each invocation.
    publish: (detailType, detail) =>
      putEvent(eventBridge, config.eventBusName, detailType, detail, env[TRACE_HEADER_ENV]),
    log: stdoutLogger,
    now: Date.now,
    newToken: randomUUID,
  };
}

/** EventBridge target for `batch.done`. Throws when Lambda should retry (its async retries, then the DLQ). */
export async function handler(
  event: unknown,
  context?: { getRemainingTimeInMillis?: () => number },
): Promise<CollectResult> {
  try {
    deps ??= makeDeps(process.env);
  } catch (err) {
    stdoutLogger({ level: 'ERROR', message: 'batch results handler misconfigured', error: errorName(err) });
    throw err;
  }
  return collectBatchResults(deps, event, context?.getRemainingTimeInMillis?.() ?? DEFAULT_REMAINING_MS);
}
