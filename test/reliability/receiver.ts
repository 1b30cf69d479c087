/**
 * The receiving side of the reliability suite, as its own process so it can be killed: the verifier's own core and
 * claim path against the suite's dynalite, behind a loopback HTTP server. What it publishes is written to stdout as
 * one line each (synchronously: a pipe), before the claim is confirmed. The suite turns faults on and off over IPC;
 * this process confirms each change (`ack`), reports each fault it injected (`fired`) and tags every answer with the
 * faults in force while it handled the request, so the suite judges by what happened here, not by its own timing.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { AsyncLocalStorage } from 'node:async_hooks';
import { createServer } from 'node:http';
import { AddressInfo } from 'node:net';
import { DynamoIdempotencyStore, IdempotencyStore } from '../../lambda/shared/idempotency';
import { PublishError } from '../../lambda/shared/publisher';
import { handleWebhook, VerifierDeps } from '../../lambda/verifier/core';
import { SecretCache } from '../../lambda/verifier/secrets';
import { CAUSE_HEADER, CLAIM_MS, Fault, FAULTS_HEADER, RECEIVER_HEADER, ReceiverCommand } from './faults';

const secret = process.env.SECRET!;
const out = (value: unknown) => process.stdout.write(JSON.stringify(value) + '\n');
let fault: Fault | undefined;
/** Every fault state so far, in order (undefined: none); a request's tag is what this held while it was handled. */
const history: Array<Fault | undefined> = [undefined];
process.on('message', (m: ReceiverCommand) => {
  if ('sync' in m) {
    // Every line written before this one is in the pipe ahead of it.
    out({ synced: m.sync });
    return;
  }
  fault = m.fault ?? undefined;
  history.push(fault);
  out({ ack: m.seq, fault: fault ?? null });
});
const fired = (f: Fault) => out({ fired: f });
/** Each request's own log line, so its answer can say why it was a 5xx. */
const requestLine = new AsyncLocalStorage<{ line?: Record<string, unknown> }>();

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
    if (fault === 'dynamodb') {
      fired(fault);
      throw unreachable();
    }
    return real.claim(r);
  },
  complete: async (r) => {
    // A claim left unconfirmed can lapse and be published again: the named window, marked when it opens.
    if (fault === 'dynamodb' || fault === 'complete') {
      out({ window: r.id, fault: `complete failed (${fault})` });
      fired(fault);
      throw unreachable();
    }
    await real.complete(r);
    out({ completed: r.id, pid: process.pid });
  },
  release: async (r) => {
    if (fault === 'dynamodb') {
      fired(fault);
      throw unreachable();
    }
    return real.release(r);
  },
};

// A short TTL, so the last good keys are what serve once it has passed.
const SECRET_TTL_MS = 200;
const secrets = new SecretCache(
  async () => {
    if (fault === 'secrets') {
      fired(fault);
      throw Object.assign(new Error('ServiceUnavailable'), { $fault: 'server' });
    }
    return [secret];
  },
  'together-hmac',
  SECRET_TTL_MS,
  100,
);

const deps: VerifierDeps = {
  config: {
    scheme: 'together-hmac',
    retentionSeconds: 3600,
    metrics: { namespace: 'T', service: 'reliability' },
  },
  secrets: {
    // The fault is an outage that outlives the cache: while it is on, the cache is read as due, so the first request
    // under it asks Secrets Manager (and is refused) however little time has passed since the last load.
    get: (nowMs) => secrets.get(fault === 'secrets' ? nowMs + SECRET_TTL_MS : nowMs),
    refresh: (nowMs) => secrets.refresh(nowMs),
  },
  store,
  publish: async (detailType, detail) => {
    const key = (JSON.parse(detail) as { outcome_key: string }).outcome_key;
    switch (fault) {
      case 'putevents-5xx':
        fired(fault);
        throw Object.assign(new Error('InternalException'), {
          $fault: 'server',
          $metadata: { httpStatusCode: 500 },
        });
      case 'putevents-failed-entry':
        fired(fault);
        throw new PublishError('EventBridge rejected the event: InternalFailure');
      case 'putevents-timeout-after-accept':
        // EventBridge took it; the answer never came. A second copy may follow once the claim lapses.
        out({ window: key, fault });
        out({ published: detail, detailType, pid: process.pid });
        fired(fault);
        throw Object.assign(new Error('no answer within 3000 ms'), { name: 'TimeoutError' });
      case 'kill-after-publish':
        out({ window: key, fault });
        out({ published: detail, detailType, pid: process.pid });
        fired(fault);
        process.kill(process.pid, 'SIGKILL');
        return new Promise<void>(() => undefined);
    }
    out({ published: detail, detailType, fault: fault ?? null, pid: process.pid });
  },
  log: (line) => {
    const ctx = requestLine.getStore();
    if (ctx) ctx.line = line;
  },
  clock: Date.now,
  newToken: () => `${process.pid}-${Math.random().toString(36).slice(2)}`,
};

const server = createServer(async (req, res) => {
  const from = history.length - 1;
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of req) chunks.push(chunk as Buffer);
  } catch {
    return; // the sender gave up mid-body (its timeout, on a loaded machine): nobody to answer, nothing to crash
  }
  const headers = Object.fromEntries(
    Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : v]),
  );
  const ctx: { line?: Record<string, unknown> } = {};
  const result = await requestLine.run(ctx, () =>
    handleWebhook(
      { headers, body: Buffer.concat(chunks).toString('base64'), isBase64Encoded: true },
      deps,
      CLAIM_MS,
    ),
  );
  // Each fault that was on at any moment from the request's arrival to this answer.
  const during = [...new Set(history.slice(from).filter((f) => f !== undefined))];
  res.writeHead(result.statusCode, {
    ...result.headers,
    [FAULTS_HEADER]: during.join(','),
    [RECEIVER_HEADER]: process.env.RECEIVER_ID!,
    [CAUSE_HEADER]: `${String(ctx.line?.outcome ?? '')}:${String(ctx.line?.error ?? '')}`.slice(0, 200),
  });
  res.end(result.body);
});
server.listen(0, '127.0.0.1', () => out({ ready: (server.address() as AddressInfo).port }));
