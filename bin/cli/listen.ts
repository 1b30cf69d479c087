import { createHash, randomUUID } from 'node:crypto';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_METRICS_NAMESPACE, DEFAULT_TOGETHER_API_BASE_URL, DEFAULTS } from '../../lib/contract';
import { eventSpec, isCatalogueType } from '../../lib/events';
import { poll, PollerDeps, PollSummary, pollWindow, RESERVES } from '../../lambda/poller/core';
import { EnabledSources, JOB_SOURCES } from '../../lambda/poller/sources';
import { HttpTimeoutError, sendHttp } from '../../lambda/shared/http';
import { PublishError } from '../../lambda/shared/publisher';
import { ApiClock, realClock } from '../../lambda/shared/together-api';
import { signatureHeaders } from '../../lambda/verifier/signature';
import { checkUrl, flag, ParsedArgs, positiveInt, UsageError } from './args';
import { FileTrackInbox } from './file-inbox';
import { FileStore } from './file-store';
import { Io } from './io';
import { scheme } from './sign';
import { trackRequest } from './track';

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

/** What `listen` was told: its flags and environment, checked. */
interface ListenSettings {
  readonly apiKey: string;
  readonly apiBaseUrl: string;
  /** Where to forward each outcome; printed when unset. */
  readonly target?: URL;
  readonly secret?: string;
  readonly signing: ReturnType<typeof scheme>;
  readonly intervalMs: number;
  readonly statePath: string;
  readonly maxPolls: number;
  readonly clock: ApiClock;
}

export async function listen(args: ParsedArgs, io: Io, options: ListenOptions = {}): Promise<number> {
  const settings = listenSettings(args, io, options);
  const store = new FileStore(settings.statePath);
  const inbox = new FileTrackInbox(settings.statePath);
  // Into the inbox before the first poll; read by every poll, with what `track --state` adds meanwhile.
  for (const request of handedIn(args)) inbox.add(request, settings.clock.now());
  const deps = { ...listenDeps(args, io, settings, store, forwarder(settings, io)), inbox };
  const { apiBaseUrl, intervalMs, target, clock } = settings;
  io.err(
    `listening to ${apiBaseUrl} every ${intervalMs / 1000} s; ${target ? `forwarding to ${target}` : 'printing events'}; ` +
      `state in ${settings.statePath}`,
  );
  for (let n = 0; n < settings.maxPolls && !options.signal?.aborted; n++) {
    if (n > 0) await sleep(intervalMs, options.signal);
    if (options.signal?.aborted) break;
    const summary = await poll(deps, pollWindow(clock.now(), 90_000, RESERVES));
    io.err(describe(summary));
    const fatal = fatalAfter(summary, n, apiBaseUrl);
    // Exit 1, printed by main with the command's prefix.
    if (fatal) throw new Error(fatal);
  }
  return 0;
}

function listenSettings(args: ParsedArgs, io: Io, options: ListenOptions): ListenSettings {
  const apiKey = io.env.TOGETHER_API_KEY;
  if (!apiKey)
    throw new UsageError(
      'TOGETHER_API_KEY is not set: export your Together API key (api.together.ai, Settings)',
    );
  const apiBaseUrl = checkUrl(flag(args, 'api-base-url') ?? DEFAULT_TOGETHER_API_BASE_URL, '--api-base-url')
    .toString()
    .replace(/\/+$/, '');
  const forwardTo = flag(args, 'forward-to');
  const target = forwardTo ? checkUrl(forwardTo, '--forward-to') : undefined;
  const secret = flag(args, 'secret') ?? io.env.TOGETHER_WEBHOOK_SECRET;
  if (target && !secret)
    throw new UsageError('--secret is required with --forward-to: the receiver checks the signature with it');
  return {
    apiKey,
    apiBaseUrl,
    target,
    secret,
    signing: scheme(args),
    intervalMs: positiveInt(args, 'interval', 60, 86_400) * 1000,
    statePath: flag(args, 'state') ?? defaultStatePath(io.env, apiBaseUrl),
    maxPolls: options.polls ?? (flag(args, 'once') ? 1 : Infinity),
    clock: io.clock ?? realClock,
  };
}

/** What --track-video and --track-queue (with --model) name, checked before anything starts. */
function handedIn(args: ParsedArgs) {
  const model = flag(args, 'model');
  const queued = args.flags.get('track-queue') ?? [];
  if (model !== undefined && queued.length === 0) throw new UsageError('--model goes with --track-queue');
  return [
    ...(args.flags.get('track-video') ?? []).map((id) => trackRequest('video', id, undefined)),
    ...queued.map((id) => trackRequest('queue', id, model)),
  ];
}

/** Each outcome as a signed webhook to `--forward-to`, or printed as one JSON line without it. */
function forwarder(settings: ListenSettings, io: Io): PollerDeps['publish'] {
  const { target, clock } = settings;
  return async (detailType, detail) => {
    if (!target) {
      io.out(detail);
      return;
    }
    const id = (JSON.parse(detail) as { id: string }).id;
    const headers = signatureHeaders(settings.signing, settings.secret!, detail, {
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
}

/**
 * The switches that turn on the poller's opt-in job sources: one per source of the table, named by its item. The
 * tracked sources have none: `listen` follows its own inbox always (a local read, no request while it is empty).
 */
export function sourceSwitches(): string[] {
  return JOB_SOURCES.flatMap((row) =>
    row.optIn === undefined || row.optIn === 'TRACKING' ? [] : [row.item],
  );
}

/**
 * The opt-in sources the switches turn on (`listen` and `dev` take the same ones), and with `tracked` the tracked
 * operations too (no switch: a local inbox costs no request while it is empty).
 */
export function enabledSources(args: ParsedArgs, opts: { tracked?: boolean } = {}): EnabledSources {
  const on = (row: (typeof JOB_SOURCES)[number]) =>
    row.optIn === 'TRACKING' ? opts.tracked === true : flag(args, row.item) === 'true';
  return Object.fromEntries(
    JOB_SOURCES.flatMap((row) => (row.optIn === undefined ? [] : [[row.key, on(row)]])),
  );
}

function listenDeps(
  args: ParsedArgs,
  io: Io,
  settings: ListenSettings,
  store: FileStore,
  publish: PollerDeps['publish'],
): PollerDeps {
  return {
    config: {
      apiBaseUrl: settings.apiBaseUrl,
      apiKeySecretName: 'TOGETHER_API_KEY',
      watchModels: args.flags.get('watch-model') ?? [],
      // The tracked sources always: reading the local inbox costs no request while it is empty.
      sources: enabledSources(args, { tracked: true }),
      modelInfo: {},
      stallAfterMs: DEFAULTS.stallAfterMinutes * 60_000,
      modelMissingMs: DEFAULTS.modelMissingMinutes * 60_000,
      initialLookbackMs: DEFAULTS.initialLookbackMinutes * 60_000,
      retentionSeconds: 30 * 86400,
      metrics: { namespace: DEFAULT_METRICS_NAMESPACE, service: 'listen' },
    },
    store,
    state: store,
    publish,
    getApiKey: async () => settings.apiKey,
    notify: async (subject, message) => io.err(`${subject}: ${message}`),
    clock: settings.clock,
    log: () => undefined,
    newToken: randomUUID,
  };
}

/** Why `listen` must stop after this poll, if it must: a refused key, or a first poll that could read nothing. */
function fatalAfter(summary: PollSummary, n: number, apiBaseUrl: string): string | undefined {
  if (summary.stoppedBy === 'auth')
    return 'Together rejected TOGETHER_API_KEY: check the key (api.together.ai, Settings > API keys) and export it again.';
  const alwaysOnListed = JOB_SOURCES.reduce(
    (sum, row) => sum + (row.optIn === undefined ? summary.checked[row.key] : 0),
    0,
  );
  if (n === 0 && summary.requests > 0 && alwaysOnListed === 0 && summary.errors > 0)
    return `Together at ${apiBaseUrl} could not be read (${summary.failures?.[0] ?? summary.reason}): check --api-base-url and your network.`;
  return undefined;
}

function producedHere(type: string): boolean {
  return isCatalogueType(type) && eventSpec(type).producer !== undefined;
}

/** Every always-on source, and an opt-in one when it listed something: `3 fine-tunes, 0 batches, 2 evaluations`. */
export function listedCounts(s: PollSummary): string {
  return JOB_SOURCES.filter((row) => row.optIn === undefined || s.checked[row.key])
    .map((row) => `${s.checked[row.key]} ${row.item}`)
    .join(', ');
}

function describe(s: PollSummary): string {
  const parts = [
    `poll ${s.outcome}`,
    listedCounts(s),
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
