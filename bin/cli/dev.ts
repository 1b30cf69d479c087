import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import {
  DEFAULT_METRICS_NAMESPACE,
  DEFAULT_TOGETHER_API_BASE_URL,
  DEFAULTS,
  WEBHOOK_PATH,
} from '../../lib/contract';
import { poll, PollerDeps, pollWindow, RESERVES } from '../../lambda/poller/core';
import { EnabledSources } from '../../lambda/poller/sources';
import { DynamoPollerStateStore } from '../../lambda/poller/state';
import { DynamoTrackInbox } from '../../lambda/poller/tracked';
import { DynamoIdempotencyStore, IdempotencyStore, outcomeClaimKeys } from '../../lambda/shared/idempotency';
import { LogLine } from '../../lambda/shared/log';
import { MAX_ENTRY_BYTES } from '../../lambda/shared/publisher';
import { realClock } from '../../lambda/shared/together-api';
import { handleWebhook, VerifierDeps, WebhookResponse } from '../../lambda/verifier/core';
import { SecretCache } from '../../lambda/verifier/secrets';
import { SchemeName } from '../../lambda/verifier/signature';
import { checkUrl, flag, ParsedArgs, positiveInt, UsageError } from './args';
import { Io } from './io';
import { enabledSources, listedCounts } from './listen';
import { LocalBus } from './local-bus';
import { LocalTable, startLocalTable } from './local-table';
import { scheme } from './sign';
import { sleep, untilInterrupted } from './stop';

/**
 * `dev` (npm start): the receiving side on this machine. POST /webhooks/together goes through the verifier's own
 * core and claim path, with dynalite (in this process) as the dedupe table and a local bus that routes with the
 * construct's rules and prints each event as one JSON line on stdout. With TOGETHER_API_KEY set, the poller's core
 * also turns your Together jobs into events here. Ctrl-C stops it with a summary.
 */

export interface DevOptions {
  readonly signal?: AbortSignal;
}

/** What the flags and the environment ask for. */
interface DevSettings {
  readonly port: number;
  readonly signing: SchemeName;
  readonly secret: string;
  /** TOGETHER_WEBHOOK_SECRET was unset: `secret` was generated here. */
  readonly generated: boolean;
  readonly apiKey?: string;
  readonly apiBaseUrl: string;
  readonly intervalMs: number;
  /** The opt-in job sources polled too. */
  readonly sources: EnabledSources;
}

/** What the webhook server answered, for the summary at the end. */
interface Counts {
  requests: number;
  published: number;
  duplicates: number;
  rejected: number;
  failed: number;
}

/** The pieces running while `dev` serves. */
interface Pipeline {
  readonly settings: DevSettings;
  readonly io: Io;
  readonly local: LocalTable;
  readonly bus: LocalBus;
  readonly store: IdempotencyStore;
}

const MINUTE_MS = 60_000;
/** The poller's state scope here: its state, lease and tracking inbox (`track --scope dev`). */
const DEV_SCOPE = 'dev';
const RETENTION_SECONDS = DEFAULTS.retentionDays * 86400;
const METRICS = { namespace: DEFAULT_METRICS_NAMESPACE, service: 'dev' };

export async function dev(args: ParsedArgs, io: Io, options: DevOptions = {}): Promise<number> {
  const settings = devSettings(args, io);
  const local = await startLocalTable('together-webhooks-dev');
  // As deployed: the verifier's and the poller's outcome claims in one scope.
  const store = new DynamoIdempotencyStore(local.client, local.table, outcomeClaimKeys('dev'));
  const pipeline: Pipeline = { settings, io, local, bus: new LocalBus(io.out), store };
  const counts: Counts = { requests: 0, published: 0, duplicates: 0, rejected: 0, failed: 0 };
  const server = await serveWebhooks(settings.port, verifierDeps(pipeline), counts);
  printBanner(
    io,
    settings,
    `http://127.0.0.1:${(server.address() as AddressInfo).port}${WEBHOOK_PATH}`,
    local,
  );

  const interruption = untilInterrupted(options.signal);
  const poller = settings.apiKey ? pollUntil(interruption.signal, pipeline) : Promise.resolve();
  await interruption.stopped;
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await poller;
  await local.stop();
  io.err(summary(counts, pipeline.bus));
  return 0;
}

function devSettings(args: ParsedArgs, io: Io): DevSettings {
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
  const apiBaseUrl = checkUrl(
    flag(args, 'api-base-url') ?? io.env.TOGETHER_API_BASE_URL ?? DEFAULT_TOGETHER_API_BASE_URL,
    '--api-base-url',
  )
    .toString()
    .replace(/\/+$/, '');
  const intervalMs = positiveInt(args, 'interval', 60, 86_400) * 1000;
  return {
    port,
    signing,
    secret,
    generated: !given,
    apiKey: io.env.TOGETHER_API_KEY,
    apiBaseUrl,
    intervalMs,
    // And what `track --endpoint` hands in: a local read a poll, no request while the inbox is empty.
    sources: enabledSources(args, { tracked: true }),
  };
}

function verifierDeps({ settings, io, bus, store }: Pipeline): VerifierDeps {
  const { signing, secret } = settings;
  return {
    config: {
      scheme: signing,
      retentionSeconds: RETENTION_SECONDS,
      metrics: METRICS,
      // Here only: `send` may try a handler of any type; a deployed receiver refuses the ones we produce.
      acceptProducedTypes: true,
    },
    secrets: new SecretCache(async () => [secret], signing, 300_000, 10_000),
    store,
    publish: (detailType, detail) => bus.publish(detailType, detail),
    log: (line) => io.err(verifierLine(line)),
    clock: Date.now,
    newToken: randomUUID,
  };
}

function verifierLine(line: LogLine): string {
  return (
    `verifier: ${line.status} ${line.outcome}${line.type ? ` ${line.type}` : ''}${line.key ? ` key=${line.key}` : ''}` +
    `${line.reason ? ` (${line.reason})` : ''}`
  );
}

/** The HTTP server on 127.0.0.1:`port`, once it listens: POST WEBHOOK_PATH through the verifier's core. */
async function serveWebhooks(port: number, verifier: VerifierDeps, counts: Counts): Promise<Server> {
  const server = createServer((req, res) => void answerWebhook(req, res, verifier, counts));
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
  return server;
}

async function answerWebhook(
  req: IncomingMessage,
  res: ServerResponse,
  verifier: VerifierDeps,
  counts: Counts,
): Promise<void> {
  const answer = (status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  if (new URL(req.url ?? '/', 'http://local').pathname !== WEBHOOK_PATH)
    return answer(404, { error: `POST ${WEBHOOK_PATH}` });
  if (req.method !== 'POST') return answer(405, { error: `POST ${WEBHOOK_PATH}` });
  const body = await readBody(req);
  counts.requests++;
  const headers = Object.fromEntries(
    Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : v]),
  );
  // As API Gateway hands over a binary body: base64, byte for byte what was signed.
  const result = await handleWebhook({ headers, body, isBase64Encoded: true }, verifier, 10_000);
  count(counts, result);
  res.writeHead(result.statusCode, result.headers);
  res.end(result.body);
}

/** The body, base64; kept just past the largest entry EventBridge takes: enough for the verifier to answer 413. */
async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let kept = 0;
  for await (const chunk of req) {
    if (kept > MAX_ENTRY_BYTES) continue;
    chunks.push(chunk as Buffer);
    kept += (chunk as Buffer).length;
  }
  return Buffer.concat(chunks).toString('base64');
}

function count(counts: Counts, result: WebhookResponse): void {
  if (result.statusCode >= 500) counts.failed++;
  else if (result.statusCode >= 400) counts.rejected++;
  else if (result.body.includes('"duplicate":true')) counts.duplicates++;
  else counts.published++;
}

function printBanner(io: Io, settings: DevSettings, url: string, local: LocalTable): void {
  const { signing, secret, generated, apiKey, apiBaseUrl, intervalMs } = settings;
  io.err(`together-webhooks dev: listening on ${url}`);
  io.err(
    `  signing secret (${signing}): ${secret}${generated ? '  (generated; set TOGETHER_WEBHOOK_SECRET to choose it)' : ''}`,
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
  if (apiKey)
    io.err(
      `  track one: npx together-webhooks track video ID --table ${local.table} --scope ${DEV_SCOPE} ` +
        `--endpoint ${local.endpoint}`,
    );
  io.err('  routed events print on stdout, one JSON line each; Ctrl-C stops');
}

/** The poller's core every `intervalMs` until `signal` is aborted, one summary line a poll. */
async function pollUntil(signal: AbortSignal, pipeline: Pipeline): Promise<void> {
  const deps = pollerDeps(pipeline);
  while (!signal.aborted) {
    const s = await poll(deps, pollWindow(Date.now(), 90_000, RESERVES));
    pipeline.io.err(
      `poller: ${s.outcome}; ${listedCounts(s)}; ${s.published} published` +
        `${s.reason ? `; ${s.reason}` : ''}`,
    );
    await sleep(pipeline.settings.intervalMs, signal);
  }
}

function pollerDeps({ settings, io, local, bus, store }: Pipeline): PollerDeps {
  const apiKey = settings.apiKey!;
  return {
    config: {
      apiBaseUrl: settings.apiBaseUrl,
      apiKeySecretName: 'TOGETHER_API_KEY',
      watchModels: [],
      sources: settings.sources,
      modelInfo: {},
      stallAfterMs: DEFAULTS.stallAfterMinutes * MINUTE_MS,
      modelMissingMs: DEFAULTS.modelMissingMinutes * MINUTE_MS,
      initialLookbackMs: DEFAULTS.initialLookbackMinutes * MINUTE_MS,
      retentionSeconds: RETENTION_SECONDS,
      metrics: METRICS,
    },
    store,
    state: new DynamoPollerStateStore(local.client, local.table, DEV_SCOPE),
    inbox: new DynamoTrackInbox(local.client, local.table, DEV_SCOPE),
    publish: (detailType, detail) => bus.publish(detailType, detail),
    getApiKey: async () => apiKey,
    notify: async (subject, message) => io.err(`poller alert: ${subject}: ${message}`),
    clock: realClock,
    log: () => undefined,
    newToken: randomUUID,
  };
}

function summary(counts: Counts, bus: LocalBus): string {
  return (
    `stopped: ${counts.requests} requests, ${counts.published} published, ${counts.duplicates} duplicates, ` +
    `${counts.rejected} rejected, ${counts.failed} failed; ${bus.published} events on the local bus`
  );
}
