/**
 * The receiving side of the reliability suite, as its own process so it can be killed: the verifier's own core and
 * claim path against the suite's dynalite, behind a loopback HTTP server. What it publishes is written to stdout as
 * one line each (synchronously: a pipe), before the claim is confirmed. The suite turns faults on and off over IPC.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createServer } from 'node:http';
import { AddressInfo } from 'node:net';
import { DynamoIdempotencyStore, IdempotencyStore } from '../../lambda/shared/idempotency';
import { PublishError } from '../../lambda/shared/publisher';
import { handleWebhook, VerifierDeps } from '../../lambda/verifier/core';
import { SecretCache } from '../../lambda/verifier/secrets';
import { CLAIM_MS, Fault } from './faults';

const secret = process.env.SECRET!;
const out = (value: unknown) => process.stdout.write(JSON.stringify(value) + '\n');
let fault: Fault | undefined;
process.on('message', (m: { fault?: Fault | null }) => {
  fault = m.fault ?? undefined;
});

const client = new DynamoDBClient({
  endpoint: process.env.DYNAMO_ENDPOINT,
  region: 'us-east-1',
  credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  maxAttempts: 1,
});
const real = new DynamoIdempotencyStore(client, process.env.TABLE!);
const unreachable = () =>
  Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8000'), { code: 'ECONNREFUSED' });
const store: IdempotencyStore = {
  claim: async (r) => {
    if (fault === 'dynamodb') throw unreachable();
    return real.claim(r);
  },
  complete: async (r) => {
    // A claim left unconfirmed can lapse and be published again: the named window, marked when it opens.
    if (fault === 'dynamodb' || fault === 'complete') {
      out({ window: r.id, fault: `complete failed (${fault})` });
      throw unreachable();
    }
    await real.complete(r);
    out({ completed: r.id, pid: process.pid });
  },
  release: async (r) => {
    if (fault === 'dynamodb') throw unreachable();
    return real.release(r);
  },
};

const deps: VerifierDeps = {
  config: {
    scheme: 'together-hmac',
    retentionSeconds: 3600,
    metrics: { namespace: 'T', service: 'reliability' },
  },
  // A short TTL, so a Secrets Manager fault outlives the cache and the last good keys are what serve.
  secrets: new SecretCache(
    async () => {
      if (fault === 'secrets') throw Object.assign(new Error('ServiceUnavailable'), { $fault: 'server' });
      return [secret];
    },
    'together-hmac',
    200,
    100,
  ),
  store,
  publish: async (detailType, detail) => {
    const key = (JSON.parse(detail) as { outcome_key: string }).outcome_key;
    switch (fault) {
      case 'putevents-5xx':
        throw Object.assign(new Error('InternalException'), {
          $fault: 'server',
          $metadata: { httpStatusCode: 500 },
        });
      case 'putevents-failed-entry':
        throw new PublishError('EventBridge rejected the event: InternalFailure');
      case 'putevents-timeout-after-accept':
        // EventBridge took it; the answer never came. A second copy may follow once the claim lapses.
        out({ window: key, fault });
        out({ published: detail, detailType });
        throw Object.assign(new Error('no answer within 3000 ms'), { name: 'TimeoutError' });
      case 'kill-after-publish':
        out({ window: key, fault });
        out({ published: detail, detailType });
        process.kill(process.pid, 'SIGKILL');
        return new Promise<void>(() => undefined);
    }
    out({ published: detail, detailType, fault: fault ?? null, pid: process.pid, at: Date.now() });
  },
  log: () => undefined,
  clock: Date.now,
  newToken: () => `${process.pid}-${Math.random().toString(36).slice(2)}`,
};

const server = createServer(async (req, res) => {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const headers = Object.fromEntries(
    Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : v]),
  );
  const result = await handleWebhook(
    { headers, body: Buffer.concat(chunks).toString('base64'), isBase64Encoded: true },
    deps,
    CLAIM_MS,
  );
  res.writeHead(result.statusCode, result.headers);
  res.end(result.body);
});
server.listen(0, '127.0.0.1', () => out({ ready: (server.address() as AddressInfo).port }));
