import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { poll, PollerDeps, pollWindow, RESERVES } from '../../lambda/poller/core';
import { DynamoPollerStateStore } from '../../lambda/poller/state';
import { DynamoIdempotencyStore, outcomeClaimKeys } from '../../lambda/shared/idempotency';
import { MAX_ENTRY_BYTES } from '../../lambda/shared/publisher';
import { DEFAULT_API_BASE_URL, realClock } from '../../lambda/shared/together-api';
import { handleWebhook, VerifierDeps } from '../../lambda/verifier/core';
import { SecretCache } from '../../lambda/verifier/secrets';
import { checkUrl, flag, ParsedArgs, positiveInt, UsageError } from './args';
import { Io } from './io';
import { LocalBus } from './local-bus';
import { scheme } from './sign';

/**
 * `dev` (npm start): the receiving side on this machine. POST /webhooks/together goes through the verifier's own
 * core and claim path, with dynalite (in this process) as the dedupe table and a local bus that routes with the
 * construct's rules and prints each event as one JSON line on stdout. With TOGETHER_API_KEY set, the poller's core
 * also turns your Together jobs into events here. Ctrl-C stops it with a summary.
 */

export const WEBHOOK_PATH = '/webhooks/together';

type Dynalite = (opts: { createTableMs: number }) => Server;

function loadDynalite(): Dynalite {
  try {
    // Loaded only here: the other commands need no local DynamoDB engine.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('dynalite') as Dynalite;
  } catch {
    throw new UsageError(
      'dev needs dynalite, a local DynamoDB engine, as the dedupe table: npm install --save-dev dynalite',
    );
  }
}

export interface DevOptions {
  readonly signal?: AbortSignal;
}

export async function dev(args: ParsedArgs, io: Io, options: DevOptions = {}): Promise<number> {
  const port = Number(flag(args, 'port') ?? io.env.PORT ?? 8787);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new UsageError(
      `--port (or PORT) must be a port number, got "${flag(args, 'port') ?? io.env.PORT}"`,
    );
  const signing = scheme(args);
  const given = io.env.TOGETHER_WEBHOOK_SECRET;
  const secret =
    given ||
    (signing === 'standard-webhooks'
      ? `whsec_${randomBytes(24).toString('base64')}`
      : randomBytes(24).toString('base64url'));
  const apiKey = io.env.TOGETHER_API_KEY;
  const apiBaseUrl = checkUrl(
    flag(args, 'api-base-url') ?? io.env.TOGETHER_API_BASE_URL ?? DEFAULT_API_BASE_URL,
    '--api-base-url',
  )
    .toString()
    .replace(/\/+$/, '');
  const intervalMs = positiveInt(args, 'interval', 60, 86_400) * 1000;

  const dynalite = loadDynalite()({ createTableMs: 0 });
  await new Promise<void>((resolve) => dynalite.listen(0, '127.0.0.1', resolve));
  const dynamo = new DynamoDBClient({
    endpoint: `http://127.0.0.1:${(dynalite.address() as AddressInfo).port}`,
    region: 'local',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const table = 'together-webhooks-dev';
  await dynamo.send(
    new CreateTableCommand({
      TableName: table,
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );

  const bus = new LocalBus(io.out);
  // As deployed: the verifier's and the poller's outcome claims in one scope.
  const store = new DynamoIdempotencyStore(dynamo, table, outcomeClaimKeys('dev'));
  const counts = { requests: 0, published: 0, duplicates: 0, rejected: 0, failed: 0 };
  const verifier: VerifierDeps = {
    config: {
      scheme: signing,
      retentionSeconds: 7 * 86400,
      metrics: { namespace: 'TogetherWebhooks', service: 'dev' },
      // Here only: `send` may try a handler of any type; a deployed receiver refuses the ones we produce.
      acceptProducedTypes: true,
    },
    secrets: new SecretCache(async () => [secret], signing, 300_000, 10_000),
    store,
    publish: (detailType, detail) => bus.publish(detailType, detail),
    log: (line) =>
      io.err(
        `verifier: ${line.status} ${line.outcome}${line.type ? ` ${line.type}` : ''}${line.key ? ` key=${line.key}` : ''}` +
          `${line.reason ? ` (${line.reason})` : ''}`,
      ),
    clock: Date.now,
    newToken: randomUUID,
  };

  const server = createServer((req, res) => void serve(req, res));
  const serve = async (req: IncomingMessage, res: ServerResponse) => {
    const answer = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (new URL(req.url ?? '/', 'http://local').pathname !== WEBHOOK_PATH)
      return answer(404, { error: `POST ${WEBHOOK_PATH}` });
    if (req.method !== 'POST') return answer(405, { error: `POST ${WEBHOOK_PATH}` });
    // Kept just past the largest entry EventBridge takes: enough for the verifier to answer 413 itself.
    const chunks: Buffer[] = [];
    let kept = 0;
    for await (const chunk of req) {
      if (kept > MAX_ENTRY_BYTES) continue;
      chunks.push(chunk as Buffer);
      kept += (chunk as Buffer).length;
    }
    counts.requests++;
    const headers = Object.fromEntries(
      Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : v]),
    );
    // As API Gateway hands over a binary body: base64, byte for byte what was signed.
    const body = Buffer.concat(chunks).toString('base64');
    const result = await handleWebhook({ headers, body, isBase64Encoded: true }, verifier, 10_000);
    if (result.statusCode >= 500) counts.failed++;
    else if (result.statusCode >= 400) counts.rejected++;
    else if (result.body.includes('"duplicate":true')) counts.duplicates++;
    else counts.published++;
    res.writeHead(result.statusCode, result.headers);
    res.end(result.body);
  };
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'EADDRINUSE'
          ? new UsageError(
              `port ${port} is in use: stop what runs there, or set PORT (e.g. PORT=8788 npm start)`,
            )
          : err,
      ),
    );
    server.listen(port, '127.0.0.1', resolve);
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${WEBHOOK_PATH}`;

  io.err(`together-webhooks dev: listening on ${url}`);
  io.err(
    `  signing secret (${signing}): ${secret}${given ? '' : '  (generated; set TOGETHER_WEBHOOK_SECRET to choose it)'}`,
  );
  io.err(
    `  send one: npx together-webhooks send fine_tune.completed --url ${url} --secret '${secret}'` +
      (signing === 'together-hmac' ? '' : ` --scheme ${signing}`),
  );
  io.err(
    apiKey
      ? `  poller: polling ${apiBaseUrl} every ${intervalMs / 1000} s with TOGETHER_API_KEY`
      : '  poller: off (set TOGETHER_API_KEY to turn your Together jobs into events here)',
  );
  io.err('  routed events print on stdout, one JSON line each; Ctrl-C stops');

  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  options.signal?.addEventListener('abort', onSignal);

  const poller = apiKey ? runPoller() : Promise.resolve();
  async function runPoller(): Promise<void> {
    const deps: PollerDeps = {
      config: {
        apiBaseUrl,
        apiKeySecretName: 'TOGETHER_API_KEY',
        watchModels: [],
        modelInfo: {},
        stallAfterMs: 6 * 3600_000,
        modelMissingMs: 3600_000,
        initialLookbackMs: 3600_000,
        retentionSeconds: 7 * 86400,
        metrics: { namespace: 'TogetherWebhooks', service: 'dev' },
      },
      store,
      state: new DynamoPollerStateStore(dynamo, table, 'dev'),
      publish: (detailType, detail) => bus.publish(detailType, detail),
      getApiKey: async () => apiKey!,
      notify: async (subject, message) => io.err(`poller alert: ${subject}: ${message}`),
      clock: realClock,
      log: () => undefined,
      newToken: randomUUID,
    };
    while (!stop.signal.aborted) {
      const s = await poll(deps, pollWindow(Date.now(), 90_000, RESERVES));
      io.err(
        `poller: ${s.outcome}; ${s.checked.fineTunes} fine-tunes, ${s.checked.batches} batches; ${s.published} published` +
          `${s.reason ? `; ${s.reason}` : ''}`,
      );
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, intervalMs);
        stop.signal.addEventListener('abort', () => (clearTimeout(timer), resolve()));
      });
    }
  }

  await new Promise<void>((resolve) => stop.signal.addEventListener('abort', () => resolve()));
  process.removeListener('SIGINT', onSignal);
  process.removeListener('SIGTERM', onSignal);
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await poller;
  dynamo.destroy();
  await new Promise((resolve) => dynalite.close(resolve));
  io.err(
    `stopped: ${counts.requests} requests, ${counts.published} published, ${counts.duplicates} duplicates, ` +
      `${counts.rejected} rejected, ${counts.failed} failed; ${bus.published} events on the local bus`,
  );
  return 0;
}
