import { createHash, randomUUID } from 'node:crypto';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { eventSpec, isCatalogueType } from '../../lib/events';
import { poll, PollerDeps, PollSummary, pollWindow, RESERVES } from '../../lambda/poller/core';
import { HttpTimeoutError, sendHttp } from '../../lambda/shared/http';
import { PublishError } from '../../lambda/shared/publisher';
import { DEFAULT_API_BASE_URL, realClock } from '../../lambda/shared/together-api';
import { signatureHeaders } from '../../lambda/verifier/signature';
import { checkUrl, flag, ParsedArgs, positiveInt, UsageError } from './args';
import { FileStore } from './file-store';
import { Io } from './io';
import { scheme } from './sign';

/**
 * `listen`: the poller's core against your Together account, on this machine. Each outcome is forwarded as a
 * signed webhook to `--forward-to` (your `npm start`, or a deployed endpoint), or printed as one JSON line (also
 * the types only the poller produces, when the receiver refuses them from a webhook, as a deployed one does). The
 * file at `--state` remembers what went out, so a restart forwards nothing twice.
 */

export interface ListenOptions {
  /** Stop after this many polls (tests, scripts); default: until interrupted. */
  readonly polls?: number;
  readonly signal?: AbortSignal;
}

export function defaultStatePath(env: NodeJS.ProcessEnv, apiBaseUrl: string): string {
  const cache = env.XDG_CACHE_HOME || join(homedir(), '.cache');
  const name = createHash('sha256').update(apiBaseUrl).digest('hex').slice(0, 12);
  return join(cache, 'together-webhooks', `listen-${name}.json`);
}

export async function listen(args: ParsedArgs, io: Io, options: ListenOptions = {}): Promise<number> {
  const apiKey = io.env.TOGETHER_API_KEY;
  if (!apiKey)
    throw new UsageError(
      'TOGETHER_API_KEY is not set: export your Together API key (api.together.ai, Settings)',
    );
  const apiBaseUrl = checkUrl(flag(args, 'api-base-url') ?? DEFAULT_API_BASE_URL, '--api-base-url')
    .toString()
    .replace(/\/+$/, '');
  const forwardTo = flag(args, 'forward-to');
  const target = forwardTo ? checkUrl(forwardTo, '--forward-to') : undefined;
  const secret = flag(args, 'secret') ?? io.env.TOGETHER_WEBHOOK_SECRET;
  if (target && !secret)
    throw new UsageError('--secret is required with --forward-to: the receiver checks the signature with it');
  const signing = scheme(args);
  const intervalMs = positiveInt(args, 'interval', 60, 86_400) * 1000;
  const statePath = flag(args, 'state') ?? defaultStatePath(io.env, apiBaseUrl);
  const store = new FileStore(statePath);
  const maxPolls = options.polls ?? (flag(args, 'once') ? 1 : Infinity);
  const clock = io.clock ?? realClock;

  const forward = async (detailType: string, detail: string) => {
    if (!target) {
      io.out(detail);
      return;
    }
    const id = (JSON.parse(detail) as { id: string }).id;
    const headers = signatureHeaders(signing, secret!, detail, {
      id,
      timestampSeconds: Math.floor(clock.now() / 1000),
    });
    let status: number;
    let text: string;
    try {
      ({ status, text } = await sendHttp({
        url: target.toString(),
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: detail,
        connectTimeoutMs: 5_000,
        timeoutMs: 30_000,
        maxResponseBytes: 1024 * 1024,
      }));
    } catch (err) {
      const why =
        err instanceof HttpTimeoutError ? err.message : ((err as { code?: string }).code ?? String(err));
      // A timeout after connecting may have been received (unknown: the claim waits for its expiry); the rest not.
      if (err instanceof HttpTimeoutError && !/no connection/.test(err.message))
        throw new Error(`${target} did not answer in time`, { cause: err });
      throw new PublishError(`could not reach ${target}: ${why}`);
    }
    if (status === 400 && producedHere(detailType)) {
      // A deployed receiver takes no type only this library produces (no webhook may forge one): printed instead.
      io.err(`${target} refuses ${detailType} from a webhook (only the poller produces it): printed instead`);
      io.out(detail);
      return;
    }
    if (status < 200 || status >= 300)
      throw new PublishError(`${target} answered ${status} ${text.slice(0, 200)}`);
    io.err(`forwarded ${detailType} ${id}: ${status} ${text.slice(0, 200)}`);
  };

  const deps: PollerDeps = {
    config: {
      apiBaseUrl,
      apiKeySecretName: 'TOGETHER_API_KEY',
      watchModels: args.flags.get('watch-model') ?? [],
      evaluations: flag(args, 'evaluations') === 'true',
      endpoints: flag(args, 'endpoints') === 'true',
      modelInfo: {},
      stallAfterMs: 6 * 3600_000,
      modelMissingMs: 3600_000,
      initialLookbackMs: 3600_000,
      retentionSeconds: 30 * 86400,
      metrics: { namespace: 'TogetherWebhooks', service: 'listen' },
    },
    store,
    state: store,
    publish: forward,
    getApiKey: async () => apiKey,
    notify: async (subject, message) => io.err(`${subject}: ${message}`),
    clock,
    log: () => undefined,
    newToken: randomUUID,
  };

  io.err(
    `listening to ${apiBaseUrl} every ${intervalMs / 1000} s; ${target ? `forwarding to ${target}` : 'printing events'}; ` +
      `state in ${statePath}`,
  );
  for (let n = 0; n < maxPolls && !options.signal?.aborted; n++) {
    if (n > 0) await sleep(intervalMs, options.signal);
    if (options.signal?.aborted) break;
    const summary = await poll(deps, pollWindow(clock.now(), 90_000, RESERVES));
    io.err(describe(summary));
    if (summary.stoppedBy === 'auth') {
      io.err(
        'Together rejected TOGETHER_API_KEY: check the key (api.together.ai, Settings > API keys) and export it again.',
      );
      return 1;
    }
    if (
      n === 0 &&
      summary.requests > 0 &&
      summary.checked.fineTunes + summary.checked.batches === 0 &&
      summary.errors > 0
    ) {
      io.err(
        `Together at ${apiBaseUrl} could not be read (${summary.failures?.[0] ?? summary.reason}): check --api-base-url and your network.`,
      );
      return 1;
    }
  }
  return 0;
}

function producedHere(type: string): boolean {
  return isCatalogueType(type) && eventSpec(type).producer !== undefined;
}

function describe(s: PollSummary): string {
  const parts = [
    `poll ${s.outcome}`,
    `${s.checked.fineTunes} fine-tunes, ${s.checked.batches} batches` +
      (s.checked.evaluations ? `, ${s.checked.evaluations} evaluations` : '') +
      (s.checked.endpoints ? `, ${s.checked.endpoints} endpoints` : ''),
    `${s.published} forwarded, ${s.duplicates} already sent`,
    `${Object.values(s.followed).reduce((a, b) => a + b, 0)} followed`,
  ];
  if (s.reason) parts.push(s.reason);
  return parts.join('; ');
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
