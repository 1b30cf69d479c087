import { createHash } from 'node:crypto';
import { outcomeKey, TogetherEnvelope, TogetherEventType } from '../../lib/events';
import type { PollerMetric } from '../../lib/contract';
import { deliverOnce, IdempotencyStore } from '../shared/idempotency';
import { publishOutcomeUnknown } from '../shared/publisher';
import { errorName, Logger, LogLine, MetricsContext, withMetrics } from '../shared/log';
import { DYNAMODB_LIMITS, EVENTBRIDGE_LIMITS, worstCaseMs } from '../shared/sdk-config';
import { ApiClock } from '../shared/together-api';
import {
  DEFAULT_LISTING_TIMEOUT_MS,
  DEFAULT_MAX_LISTING_BYTES,
  PollApi,
  RequestFailed,
  StopKind,
  StopPoll,
} from './api';
import { FastFollowConfig, fastFollow, FollowEnd } from './follow';
import { EnabledSources, isEnabled, JOB_SOURCES, JobSourceKey, PerSource, perSource } from './sources';
import { freshModelsState, watchModels } from './sources/models';
import { PollerState, PollerStateStore, STATE_VERSION } from './state';
import { InboxReader, TrackInbox } from './tracked';
import { closeAuthIncident, openAuthIncident } from './auth-incident';
import { Deferred, freshSourceState, JobTracker, ListedJob, PollContext, PollRun } from './tracker';

/**
 * One poll of Together's jobs API, turned into catalogue events through the verifier's claim -> publish ->
 * complete path, with the same dedupe keys, so each outcome reaches the bus once whichever path sees it first.
 *
 * Order: every source's listing and new terminal states first (the job sources of sources/index.ts, in its order,
 * then watched models), then the progress of followed jobs within a per-poll budget. A failing request costs only its job or source; a refused
 * key, a rate limit, Together failing request after request, the table or the bus failing, or the end of the
 * time budget stop the poll. What was delivered is remembered either way, and the next poll resumes.
 */

export interface PollerConfig {
  readonly apiBaseUrl: string;
  /** Named in the alert when Together refuses the key. */
  readonly apiKeySecretName: string;
  readonly watchModels: readonly string[];
  readonly modelInfo: Readonly<Record<string, { replacementModel?: string; sunsetDate?: string }>>;
  /** No status change and no new event for this long: `fine_tune.stalled`. */
  readonly stallAfterMs: number;
  /** A watched model missing for this long: `model.deprecated`. */
  readonly modelMissingMs: number;
  /**
   * The opt-in job sources followed too, by key (sources/index.ts): `evaluations` (`evaluation.completed` /
   * `evaluation.failed`), `endpoints` (your dedicated endpoints' starts: `endpoint.ready` / `endpoint.failed`).
   */
  readonly sources?: EnabledSources;
  /** On the very first poll, outcomes this recent are still published. */
  readonly initialLookbackMs: number;
  /** A tracked operation (tracked.ts) not finished this long after it was tracked is dropped; default one day. */
  readonly trackingExpiryMs?: number;
  readonly retentionSeconds: number;
  readonly metrics: MetricsContext;
  readonly limits?: Partial<PollerLimits>;
  /** Re-check unfinished jobs within the invocation (follow.ts); absent: off. */
  readonly fastFollow?: FastFollowConfig;
}

/** Budgets and timeouts. The defaults suit a 90 s Lambda polling every minute. */
export interface PollerLimits {
  /** Jobs worked on at once. */
  readonly concurrency: number;
  /** Progress visits that need a request of their own, per source and poll. */
  readonly visitsPerPoll: number;
  /** How far the horizon trails the newest finished job. */
  readonly overlapMs: number;
  readonly requestTimeoutMs: number;
  readonly connectTimeoutMs: number;
  /** A finished fine-tune whose events keep failing is published without them at this attempt. */
  readonly publishWithoutEventsAfter: number;
  /** A claim outlives the function by this much, so it can never lapse while the function still runs. */
  readonly claimMarginMs: number;
  /** A streamed listing (GET /fine-tunes): its whole exchange, its bytes, and the jobs kept of it. */
  readonly listingTimeoutMs: number;
  readonly maxListingBytes: number;
  readonly maxListedItems: number;
}

export const DEFAULT_LIMITS: PollerLimits = {
  concurrency: 4,
  visitsPerPoll: 50,
  overlapMs: 60 * 60_000,
  requestTimeoutMs: 10_000,
  connectTimeoutMs: 3_000,
  publishWithoutEventsAfter: 5,
  claimMarginMs: 30_000,
  listingTimeoutMs: DEFAULT_LISTING_TIMEOUT_MS,
  maxListingBytes: DEFAULT_MAX_LISTING_BYTES,
  maxListedItems: Infinity,
};

/**
 * When a poll must stop doing what. `endMs`: the function's real end. Claims start only while one can still be
 * published and confirmed before `claimDeadlineMs`, which leaves time to save the state; Together requests stop at
 * `workDeadlineMs`, which leaves time to deliver what they found.
 */
export interface PollWindow {
  readonly workDeadlineMs: number;
  readonly claimDeadlineMs: number;
  readonly endMs: number;
  /** The longest a claim -> publish -> complete can take with the SDK's limits. */
  readonly deliveryMs: number;
}

export interface Reserves {
  /** Saving the state and releasing the lease, worst case. */
  readonly saveMs: number;
  /** Claim, publish and complete, worst case. */
  readonly deliveryMs: number;
  /** Together requests stop this long after the start, even with time left (polls stay within the interval). */
  readonly maxWorkMs: number;
}

/** From the SDK clients' own limits (lambda/shared/sdk-config.ts), so the reserves cover their worst case. */
export const RESERVES: Reserves = {
  // The state items are written at once, then the lease is released.
  saveMs: 2 * worstCaseMs(DYNAMODB_LIMITS),
  // Claim, publish, complete.
  deliveryMs: 2 * worstCaseMs(DYNAMODB_LIMITS) + worstCaseMs(EVENTBRIDGE_LIMITS),
  maxWorkMs: 45_000,
};

export function pollWindow(nowMs: number, remainingMs: number, r: Reserves): PollWindow {
  const endMs = nowMs + remainingMs;
  const claimDeadlineMs = endMs - r.saveMs;
  return {
    endMs,
    claimDeadlineMs,
    workDeadlineMs: Math.min(nowMs + r.maxWorkMs, claimDeadlineMs - r.deliveryMs),
    deliveryMs: r.deliveryMs,
  };
}

export interface PollerDeps {
  readonly config: PollerConfig;
  readonly store: IdempotencyStore;
  readonly state: PollerStateStore;
  /** Answers with the bus's event id, when it has one (recorded on the claim). */
  readonly publish: (detailType: string, detail: string) => Promise<string | void>;
  readonly getApiKey: () => Promise<string>;
  /** Tells people (the alert topic). */
  readonly notify: (subject: string, message: string) => Promise<void>;
  readonly clock: ApiClock;
  readonly log: Logger;
  readonly newToken: () => string;
  /** Where tracked operations are handed in (tracked.ts); read only when a tracked source is on. */
  readonly inbox?: TrackInbox;
}

export interface PollSummary {
  /** completed: all done; incomplete: something is held back for the next poll; stopped: the poll ended early. */
  outcome: 'completed' | 'incomplete' | 'stopped' | 'skipped';
  reason?: string;
  /** Jobs (and models) each source listed, by the key of sources/index.ts; 0 for a source not followed. */
  checked: PerSource<number> & { models: number };
  /** Jobs followed until their terminal state is published, after this poll. */
  followed: PerSource<number>;
  /** Followed jobs whose progress was read this poll. */
  visited: number;
  /** Finished jobs whose terminal state is still to be delivered. */
  heldBack: number;
  published: number;
  duplicates: number;
  errors: number;
  requests: number;
  outOfTime: boolean;
  rateLimited: boolean;
  /** What stopped the poll, when something did. */
  stoppedBy?: StopKind;
  failures?: string[];
  notListed?: string[];
  /** Sources whose listing may have missed jobs, and why (`ListingIncomplete`). */
  incomplete?: string[];
  /** With fast follow (follow.ts): re-checks after the poll, and why they ended. */
  rechecks?: number;
  followEnded?: FollowEnd;
}

export async function poll(deps: PollerDeps, window: PollWindow): Promise<PollSummary> {
  const startMs = deps.clock.now();
  const limits: PollerLimits = { ...DEFAULT_LIMITS, ...deps.config.limits };
  const summary: PollSummary = {
    outcome: 'completed',
    checked: { ...perSource(() => 0), models: 0 },
    followed: perSource(() => 0),
    visited: 0,
    heldBack: 0,
    published: 0,
    duplicates: 0,
    errors: 0,
    requests: 0,
    outOfTime: false,
    rateLimited: false,
  };
  const holder = deps.newToken();
  // The lease, like every claim, outlives the function: a poll still running always holds it.
  if (!(await deps.state.acquireLease(holder, startMs, window.endMs + limits.claimMarginMs))) {
    summary.outcome = 'skipped';
    summary.reason = 'another poll is running';
    return report(deps, summary, startMs);
  }
  try {
    const state = await deps.state.load();
    const run = new PollRun(() => deps.clock.now() >= window.workDeadlineMs);
    try {
      await pollSources(deps, state, window, limits, startMs, run, summary);
    } catch (err) {
      // A bug of ours: still save what was delivered and say so.
      run.stopWith(new StopPoll('internal', `unexpected: ${errorName(err)}`));
    }
    try {
      await deps.state.save(state);
    } catch (err) {
      run.stopWith(new StopPoll('internal', `could not save the poller state: ${errorName(err)}`));
    }
    await fastFollow({ deps, state, window, limits, startMs, run, summary }, { pollApi, deliver });
    conclude(summary, run);
  } finally {
    await deps.state.releaseLease(holder).catch((err) =>
      // It lapses at the function's end plus the margin; the next tick or two step aside until then.
      deps.log({ level: 'WARN', message: 'could not release the poll lease', error: errorName(err) }),
    );
  }
  return report(deps, summary, startMs);
}

/** The sources followed this poll, in the table's order, each with its tracker. */
type Trackers = ReadonlyMap<JobSourceKey, JobTracker<ListedJob>>;

async function pollSources(
  deps: PollerDeps,
  state: PollerState,
  window: PollWindow,
  limits: PollerLimits,
  now: number,
  run: PollRun,
  summary: PollSummary,
): Promise<void> {
  state.health ??= { v: STATE_VERSION };
  startAlwaysOnStates(deps.config, state, now);
  const apiKey = await readApiKey(deps, run);
  if (apiKey === undefined) return;
  const api = pollApi(deps, state, window, limits, apiKey, now);
  const ctx: PollContext = {
    api,
    now,
    log: deps.log,
    deliver: (type, createdAt, data) => deliver(deps, window, limits, summary, type, createdAt, data),
  };
  const trackers = openTrackers(deps, limits, state, ctx, run, now);
  try {
    for (const tracker of trackers.values()) await tracker.settle();
    await checkModels(deps.config, state, ctx, run, summary);
    for (const tracker of trackers.values()) await tracker.follow();
  } finally {
    summarizeSources(summary, trackers, api);
  }
  if (api.succeeded > 0 && run.stop?.kind !== 'auth') closeAuthIncident(deps, state);
}

/** An always-on source's state exists from the very first poll, even one that cannot read the key. */
function startAlwaysOnStates(config: PollerConfig, state: PollerState, now: number): void {
  for (const row of JOB_SOURCES) {
    if (row.optIn === undefined) state[row.key] ??= freshSourceState(now, config.initialLookbackMs);
  }
}

async function readApiKey(deps: PollerDeps, run: PollRun): Promise<string | undefined> {
  try {
    return await deps.getApiKey();
  } catch (err) {
    run.fail(`reading the API key: ${errorName(err)}`);
    run.stopWith(new StopPoll('internal', `could not read the API key: ${errorName(err)}`));
    return undefined;
  }
}

function pollApi(
  deps: PollerDeps,
  state: PollerState,
  window: PollWindow,
  limits: PollerLimits,
  apiKey: string,
  now: number,
): PollApi {
  let keyRefused: Promise<void> | undefined;
  return new PollApi({
    baseUrl: deps.config.apiBaseUrl,
    apiKey,
    clock: deps.clock,
    workDeadlineMs: window.workDeadlineMs,
    connectTimeoutMs: limits.connectTimeoutMs,
    requestTimeoutMs: limits.requestTimeoutMs,
    listingTimeoutMs: limits.listingTimeoutMs,
    maxListingBytes: limits.maxListingBytes,
    maxListedItems: limits.maxListedItems,
    // Several requests in flight may be refused at once: one alert.
    onKeyRefused: (status, message) => (keyRefused ??= openAuthIncident(deps, state, status, message, now)),
  });
}

/** One tracker per source followed: every always-on one, and the opt-in ones the config turns on. */
function openTrackers(
  deps: PollerDeps,
  limits: PollerLimits,
  state: PollerState,
  ctx: PollContext,
  run: PollRun,
  now: number,
): Trackers {
  const { config } = deps;
  const trackers = new Map<JobSourceKey, JobTracker<ListedJob>>();
  // Read at most once a poll, and only if a tracked source asks.
  const inbox = new InboxReader(deps.inbox);
  for (const row of JOB_SOURCES) {
    if (!isEnabled(row, config.sources)) continue;
    const part = (state[row.key] ??= freshSourceState(now, config.initialLookbackMs));
    trackers.set(row.key, new JobTracker(row.make(config, limits, inbox), part, ctx, run, limits));
  }
  return trackers;
}

/** Watched models: listed once a poll, after the job sources' listings, while the poll may still start work. */
async function checkModels(
  config: PollerConfig,
  state: PollerState,
  ctx: PollContext,
  run: PollRun,
  summary: PollSummary,
): Promise<void> {
  if (config.watchModels.length === 0 || !run.canStart()) return;
  state.models ??= freshModelsState();
  try {
    const models = await watchModels(ctx, state.models, {
      watchModels: config.watchModels,
      modelInfo: config.modelInfo,
      missingForMs: config.modelMissingMs,
    });
    summary.checked.models = models.listed;
    if (models.neverListed.length > 0) summary.notListed = models.neverListed;
  } catch (err) {
    if (err instanceof StopPoll) run.stopWith(err);
    else run.fail(`models: ${err instanceof RequestFailed ? err.message : errorName(err)}`);
  }
}

/** What the sources did, into the summary: its keys keep their order (the log line's JSON is unchanged). */
function summarizeSources(summary: PollSummary, trackers: Trackers, api: PollApi): void {
  summary.requests = api.requests;
  for (const row of JOB_SOURCES) summary.checked[row.key] = trackers.get(row.key)?.listed ?? 0;
  summary.followed = perSource((row) => trackers.get(row.key)?.followed() ?? 0);
  const all = [...trackers.values()];
  summary.visited = all.reduce((n, t) => n + t.visited, 0);
  summary.heldBack = all.reduce((n, t) => n + t.heldBack(), 0);
  const incomplete = all.filter((t) => t.incomplete).map((t) => `${t.name}: ${t.incomplete}`);
  if (incomplete.length > 0) summary.incomplete = incomplete;
}

async function deliver(
  deps: PollerDeps,
  window: PollWindow,
  limits: PollerLimits,
  summary: PollSummary,
  type: TogetherEventType,
  createdAt: string | undefined,
  data: Record<string, unknown>,
): Promise<void> {
  const nowMs = deps.clock.now();
  if (nowMs + window.deliveryMs > window.claimDeadlineMs) {
    throw new StopPoll('out_of_time', 'too little time left to publish and confirm; the next poll continues');
  }
  const draft: TogetherEnvelope = { id: '', type, created_at: createdAt, data };
  const envelope = { ...draft, id: outcomeKey(draft) };
  const detail = JSON.stringify({ ...envelope, outcome_key: envelope.id });
  const result = await deliverOnce(
    deps.store,
    {
      id: envelope.id,
      deliveryId: envelope.id,
      payloadHash: createHash('sha256').update(detail).digest('hex'),
      token: deps.newToken(),
      nowMs,
      // Held until after the function's real end: never lapses while this poll may still publish.
      inProgressMs: window.endMs + limits.claimMarginMs - nowMs,
      retentionSeconds: deps.config.retentionSeconds,
    },
    () => deps.publish(type, detail),
    { outcomeUnknown: publishOutcomeUnknown },
  );
  switch (result.outcome) {
    case 'published':
      summary.published++;
      if (result.completeError) {
        deps.log({
          level: 'WARN',
          message: 'published, but the claim could not be marked completed',
          key: envelope.id,
          error: errorName(result.completeError),
        });
      }
      return;
    case 'duplicate':
      summary.duplicates++;
      return;
    case 'in_flight':
      throw new Deferred(`${envelope.id} is being delivered by another path; the next poll confirms it`);
    case 'store_error':
      throw new StopPoll('delivery', `event store failed for ${envelope.id}: ${errorName(result.error)}`);
    case 'publish_error':
      throw new StopPoll('delivery', `EventBridge refused ${envelope.id}: ${errorName(result.error)}`);
    case 'publish_unknown':
      // Its claim holds until after this function's end; the poll after that publishes it if it did not land.
      throw new StopPoll(
        'delivery',
        `EventBridge did not answer for ${envelope.id}: ${errorName(result.error)}`,
      );
  }
}

function conclude(summary: PollSummary, run: PollRun): void {
  summary.errors = run.errors;
  summary.outOfTime = run.outOfTime;
  summary.rateLimited = run.stop?.kind === 'rate_limited';
  if (run.failures.length > 0) summary.failures = run.failures;
  if (run.stop && run.stop.kind !== 'out_of_time') {
    summary.outcome = 'stopped';
    summary.stoppedBy = run.stop.kind;
    summary.reason = run.stop.message;
    // A rate limit is Together pacing us, not a fault; everything else that stops a poll is.
    if (run.stop.kind !== 'rate_limited') summary.errors++;
  } else if (run.outOfTime) {
    summary.outcome = 'incomplete';
    summary.reason = 'out of time; the next poll continues where this one stopped';
  } else if (run.errors > 0 || summary.heldBack > 0) {
    summary.outcome = 'incomplete';
    summary.reason = run.failures[0] ?? `${summary.heldBack} finished job(s) not yet delivered`;
  }
}

function report(deps: PollerDeps, summary: PollSummary, startMs: number): PollSummary {
  const line: LogLine = {
    level:
      summary.errors > 0
        ? 'ERROR'
        : summary.incomplete || !(summary.outcome === 'completed' || summary.outcome === 'skipped')
          ? 'WARN'
          : 'INFO',
    message: 'poll',
    ...summary,
    latencyMs: deps.clock.now() - startMs,
  };
  const skipped = summary.outcome === 'skipped';
  const counters: Partial<Record<PollerMetric, number>> = skipped
    ? { Polls: 1, PollSkipped: 1 }
    : {
        Polls: 1,
        PollSkipped: 0,
        ListingIncomplete: summary.incomplete?.length ?? 0,
        Published: summary.published,
        PollErrors: summary.errors,
        PollIncomplete: summary.outcome === 'completed' ? 0 : 1,
        OutOfTime: summary.outOfTime ? 1 : 0,
        RateLimited: summary.rateLimited ? 1 : 0,
        TogetherRequests: summary.requests,
        FollowedJobs: Object.values(summary.followed).reduce((a, b) => a + b, 0),
        HeldBack: summary.heldBack,
      };
  deps.log(withMetrics(line, deps.config.metrics, counters, startMs));
  return summary;
}
