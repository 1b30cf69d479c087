import type { TogetherEventType } from '../../lib/events';
import { InboxReader } from './tracked';
import { errorName } from '../shared/log';
import { PollApi, StopPoll } from './api';
import type { PollerDeps, PollerLimits, PollSummary, PollWindow } from './core';
import { isEnabled, JOB_SOURCES, JobSourceKey, JobSourceSpec, perSource } from './sources';
import { PollerState } from './state';
import { Deferred, JobSource, JobTracker, ListedJob, PollContext, PollRun } from './tracker';

/**
 * Fast follow (opt-in): after the scheduled poll, within the same invocation and under its lease, re-check the
 * sources that have unfinished followed jobs every `everyMs` or sooner, so an outcome reaches the bus seconds after
 * it happens instead of at the next tick. A re-check is each such source's listing and the tracker's settle: one
 * request per source (a paged listing more) whatever the number of jobs, and every new terminal state in it is
 * published. Progress (checkpoints), watched models and jobs the listing dropped wait for the next tick.
 *
 * Bounded three ways: the re-checks are slots counted back from the latest one that still ends before the next tick
 * (so the lease is free when it comes), the request budget per minute, and the function's own end (each re-check's
 * Together requests stop while the worst-case delivery and save still fit, as the scheduled poll's do). With nothing
 * unfinished the invocation returns right after the poll, as without fast follow.
 */

export interface FastFollowConfig {
  /** The longest wait between two re-checks, ms (the `fastFollow` prop; at least 10 s, less than the interval). */
  readonly everyMs: number;
  /** Together requests one invocation may make per minute of the interval, the scheduled poll's included. */
  readonly requestsPerMinute: number;
  /** The schedule's interval, ms: the loop ends before the next tick. */
  readonly intervalMs: number;
}

/** How a re-check is fitted before the next tick. */
export const FOLLOW_TIMING = {
  /** A re-check's Together requests stop this long after it starts (a listing takes a fraction of it). */
  workMs: 5_000,
  /**
   * Delivering what it found and saving the state, as long as they take with DynamoDB and EventBridge answering (tens
   * of ms each). Their worst case (lambda/poller/core.ts RESERVES) is kept from the function's end, not the tick's:
   * exceeding this costs a skipped tick, never an outcome.
   */
  tailMs: 3_000,
  /** Left before the next tick: the schedule fires a little early or late. */
  marginMs: 5_000,
} as const;

/** The poll's own ways to call Together and to deliver, handed in by core.ts (no import back into it). */
export interface PollTools {
  pollApi(
    deps: PollerDeps,
    state: PollerState,
    window: PollWindow,
    limits: PollerLimits,
    apiKey: string,
    now: number,
  ): PollApi;
  deliver(
    deps: PollerDeps,
    window: PollWindow,
    limits: PollerLimits,
    summary: PollSummary,
    type: TogetherEventType,
    createdAt: string | undefined,
    data: Record<string, unknown>,
  ): Promise<void>;
}

/** What the invocation's poll left for the loop. */
export interface FollowInput {
  readonly deps: PollerDeps;
  readonly state: PollerState;
  /** The invocation's window: the function's real end. */
  readonly window: PollWindow;
  readonly limits: PollerLimits;
  /** When the invocation started: the tick. */
  readonly startMs: number;
  /** The invocation's run: a re-check's stop and failures go into it. */
  readonly run: PollRun;
  /** The invocation's summary: counts the re-checks too. */
  readonly summary: PollSummary;
}

/** Why the loop ended, in the `poll` log line. */
export type FollowEnd = 'idle' | 'next tick' | 'budget' | 'stopped' | 'failed' | 'out of time';

/** The sources a re-check visits: followed, fast-followable, with a job not yet finished. */
export function sourcesToRecheck(deps: PollerDeps, state: PollerState): JobSourceKey[] {
  return JOB_SOURCES.filter(
    (row) =>
      isEnabled(row, deps.config.sources) &&
      row.fastFollow !== false &&
      Object.values(state[row.key]?.open ?? {}).some((job) => !job.finished),
  ).map((row) => row.key);
}

/**
 * The start of the next re-check after `nowMs`, or undefined when none fits: slots every `everyMs` counted back from
 * the latest start that ends its work, delivery and save `marginMs` before the next tick (`startMs + intervalMs`)
 * and its work while the function's end still covers the worst case. Counting back puts the last re-check as late as
 * it fits, so the wait for the next tick is the shortest it can be.
 */
export function nextRecheck(
  ff: FastFollowConfig,
  window: PollWindow,
  startMs: number,
  nowMs: number,
): number | undefined {
  const t = FOLLOW_TIMING;
  const latest = Math.min(
    startMs + ff.intervalMs - t.marginMs - t.tailMs - t.workMs,
    window.claimDeadlineMs - window.deliveryMs - t.workMs,
  );
  if (latest <= nowMs) return undefined;
  return latest - (Math.ceil((latest - nowMs) / ff.everyMs) - 1) * ff.everyMs;
}

/**
 * Re-checks until nothing is unfinished, no slot is left, the budget would be exceeded, or something stops it. Never
 * throws: what stops it is told in the invocation's `run`, and its `summary` counts the whole invocation.
 */
export async function fastFollow(input: FollowInput, tools: PollTools): Promise<void> {
  const ff = input.deps.config.fastFollow;
  if (!ff) return;
  input.summary.rechecks = 0;
  input.summary.followEnded = await loop(input, ff, tools).catch((err) => {
    input.run.stopWith(new StopPoll('internal', `fast follow: unexpected: ${errorName(err)}`));
    return 'stopped' as const;
  });
}

async function loop(input: FollowInput, ff: FastFollowConfig, tools: PollTools): Promise<FollowEnd> {
  const { deps, state, window, startMs, run, summary } = input;
  const budget = Math.floor((ff.requestsPerMinute * ff.intervalMs) / 60_000);
  let apiKey: string | undefined;
  let estimate: number | undefined;
  // Bounded: each pass starts at a later slot, and the slots end before the next tick.
  for (;;) {
    if (run.stop) return 'stopped';
    const keys = sourcesToRecheck(deps, state);
    if (keys.length === 0) return 'idle';
    const at = nextRecheck(ff, window, startMs, deps.clock.now());
    if (at === undefined) return 'next tick';
    if (summary.requests + (estimate ?? firstEstimate(input, keys)) > budget) return 'budget';
    await deps.clock.sleep(at - deps.clock.now());
    // Once per invocation beyond the poll's own read: a rotated key is used from the next tick.
    try {
      apiKey ??= await deps.getApiKey();
    } catch (err) {
      run.fail(`fast follow: reading the API key: ${errorName(err)}`);
      return 'failed';
    }
    const rc = await recheck(input, tools, apiKey, keys, budget - summary.requests);
    summary.rechecks = (summary.rechecks ?? 0) + 1;
    estimate = rc.requests;
    // Saved after each re-check: a function killed later loses nothing it delivered.
    try {
      await deps.state.save(state);
    } catch (err) {
      run.stopWith(new StopPoll('internal', `could not save the poller state: ${errorName(err)}`));
    }
    const end = absorb(run, rc.run);
    if (end) return end;
  }
}

/** What a re-check's run says goes into the invocation's; a stop, a failure or no time left ends the loop. */
function absorb(run: PollRun, rc: PollRun): FollowEnd | undefined {
  run.errors += rc.errors;
  for (const f of rc.failures) if (run.failures.length < 10) run.failures.push(f);
  // A re-check out of its few seconds is not the poll out of time: the next slot or tick continues.
  if (rc.stop && rc.stop.kind !== 'out_of_time') {
    run.stopWith(rc.stop);
    return 'stopped';
  }
  // Together failing: the tick retries, rather than the loop hammering it.
  if (rc.errors > 0) return 'failed';
  if (rc.outOfTime) return 'out of time';
  return undefined;
}

/** Whether a source's jobs are handed in (tracked.ts): re-checked by id, a request each, not by one listing. */
function handsIn(row: JobSourceSpec, input: FollowInput): boolean {
  return row.make(input.deps.config, input.limits, new InboxReader(undefined)).handedIn !== undefined;
}

/**
 * What the first re-check may cost: one request per listed source, and per source handed in one per unfinished job
 * it follows, at most `visitsPerPoll`. Later ones are estimated by what the last one made.
 */
function firstEstimate(input: FollowInput, keys: readonly JobSourceKey[]): number {
  let n = 0;
  for (const row of JOB_SOURCES) {
    if (!keys.includes(row.key)) continue;
    if (!handsIn(row, input)) n += 1;
    else {
      const open = Object.values(input.state[row.key]?.open ?? {}).filter((f) => !f.finished).length;
      n += Math.min(open, input.limits.visitsPerPoll);
    }
  }
  return n;
}

/**
 * One re-check: the listings of `keys`, each new terminal state published, the summary's counts updated. Its
 * requests by id (sources handed in) stop within `allowed`, the budget's remainder, less the listings still to make.
 */
async function recheck(
  input: FollowInput,
  tools: PollTools,
  apiKey: string,
  keys: readonly JobSourceKey[],
  allowed: number,
): Promise<{ requests: number; run: PollRun }> {
  const { deps, state, window, limits, summary } = input;
  const now = deps.clock.now();
  const w: PollWindow = {
    ...window,
    workDeadlineMs: Math.min(now + FOLLOW_TIMING.workMs, window.claimDeadlineMs - window.deliveryMs),
  };
  const run = new PollRun(() => deps.clock.now() >= w.workDeadlineMs);
  const api = tools.pollApi(deps, state, w, limits, apiKey, now);
  const ctx: PollContext = {
    api,
    now,
    log: deps.log,
    deliver: (type, createdAt, data) => tools.deliver(deps, w, limits, summary, type, createdAt, data),
  };
  // Expiring is the scheduled poll's: each re-check removing its 50 more would take the invocation's time.
  const inbox = new InboxReader(deps.inbox, false);
  try {
    const rows = JOB_SOURCES.filter((row) => keys.includes(row.key));
    let listingsLeft = rows.filter((row) => !handsIn(row, input)).length;
    for (const row of rows) {
      if (!run.canStart()) continue;
      const made = row.make(deps.config, limits, inbox);
      if (!made.handedIn) listingsLeft--;
      // What is left of the budget once the listings still to come are kept for.
      const visits = Math.min(limits.visitsPerPoll, allowed - api.requests - listingsLeft);
      const tracker = new JobTracker(settleOnly(made), state[row.key]!, ctx, run, {
        ...limits,
        visitsPerPoll: Math.max(0, visits),
      });
      await tracker.settle();
      // Jobs handed in are never listed: each is asked for by id, within the visit budget.
      if (made.handedIn && visits > 0) await tracker.follow();
    }
  } finally {
    summary.requests += api.requests;
    const open = (row: JobSourceSpec) =>
      isEnabled(row, deps.config.sources) ? Object.values(state[row.key]?.open ?? {}) : [];
    summary.followed = perSource((row) => open(row).length);
    summary.heldBack = JOB_SOURCES.reduce((n, row) => n + open(row).filter((f) => f.finished).length, 0);
  }
  return { requests: api.requests, run };
}

/**
 * The source as a re-check uses it. A job held back (finished, its delivery failed before) waits for the tick: its
 * attempts count towards publishing it without its details, and they are meant to be a tick apart.
 */
function settleOnly(source: JobSource<ListedJob>): JobSource<ListedJob> {
  return {
    name: source.name,
    list: (ctx, request) => source.list(ctx, request),
    get: (ctx, id) => source.get(ctx, id),
    startFollowing: source.startFollowing?.bind(source),
    handedIn: source.handedIn?.bind(source),
    forget: source.forget?.bind(source),
    finish: (ctx, job, followed, state) =>
      followed.finished
        ? Promise.reject(new Deferred(`${source.name} ${job.id} is held back: the next tick retries it`))
        : source.finish(ctx, job, followed, state),
  };
}
