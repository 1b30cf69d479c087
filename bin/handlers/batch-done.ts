import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { TogetherEventBridgeEvent } from '../../lib/events';
import { CONTROL_PLANE_LIMITS, sdkClientConfig } from '../../lambda/shared/sdk-config';

// Every call bounded in time, well inside the function's 120 s.
const s3 = new S3Client(
  sdkClientConfig({ connectionTimeoutMs: 1_000, requestTimeoutMs: 30_000, maxAttempts: 3 }),
);
const secrets = new SecretsManagerClient(sdkClientConfig(CONTROL_PLANE_LIMITS));
const DOWNLOAD_TIMEOUT_MS = 60_000;
let apiKey: string | undefined;

/** Example: copy a finished batch's output file into S3 as batches/<batch_id>.jsonl. */
export async function handler(event: TogetherEventBridgeEvent<'batch.done'>): Promise<void> {
  const { batch_id: batchId, output_url: outputUrl } = event.detail.data;
  if (!outputUrl) {
    console.log(JSON.stringify({ message: 'batch has no output file', batchId }));
    return;
  }
  apiKey ??= (
    await secrets.send(new GetSecretValueCommand({ SecretId: process.env.TOGETHER_API_KEY_SECRET }))
  ).SecretString;
  const res = await fetch(outputUrl, {
    headers: { authorization: `Bearer ${apiKey}` },
    signal: AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS),
  });
  // Throwing lets EventBridge retry, then park the event in the dead-letter queue: nothing is lost.
  if (!res.ok) throw new Error(`downloading the output of ${batchId} failed: HTTP ${res.status}`);
  const body = Buffer.from(await res.arrayBuffer());
  const key = `batches/${batchId}.jsonl`;
  await s3.send(new PutObjectCommand({ Bucket: process.env.OUTPUT_BUCKET, Key: key, Body: body }));
  console.log(JSON.stringify({ message: 'batch output stored', batchId, key, bytes: body.length }));
}
