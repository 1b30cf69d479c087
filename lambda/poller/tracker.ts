import { TogetherEventType } from '../../lib/events';
import { errorName, Logger } from '../shared/log';
import { MAX_REASON, oneLine, PollApi, RequestFailed, StopPoll } from './api';
import { FollowedJob, JobSourceState, STATE_VERSION } from './state';

/**
 * "Follow every job until its terminal state is published", once for every source of jobs:
 *
 *  1. settle: list the jobs; publish every terminal state that is new (a followed job that finished, or one never
 *     seen whose time is at or after the horizon); start following the unfinished ones.
 *  2. follow: read the progress of followed jobs, least recently visited first, at most `visitsPerPoll` that need
 *     a request, so N followed jobs are each visited within ceil(N / visitsPerPoll) polls.
 *
 * A failure costs the job that needed it (it stays followed, so the next poll retries it and the horizon cannot
 * pass it by); a `StopPoll` ends the poll. The claims in the table, not this state, decide what is a duplicate.
 */

/** A job as one listing (or a GET of it) shows it. */
export interface ListedJob {
  readonly id: string;
  readonly status: string;
  readonly terminal: boolean;
  /** When it reached this state (completed_at, else updated_at), epoch ms; NaN when Together gives neither. */
  readonly at: number;
  /** For a finished job Together gives no time for: the latest it can have ended (NaN if unknown). */
  readonly endedBy: number;
}

/** What a source may do during a poll. */
export interface PollContext {
  readonly api: PollApi;
  /** When this poll started, epoch ms. */
  readonly now: number;
  /** Claims, publishes and confirms one outcome; throws `Deferred` or `StopPoll` when it did not. */
  deliver(
    type: TogetherEventType,
    createdAt: string | undefined,
    data: Record<string, unknown>,
  ): Promise<void>;
  readonly log: Logger;
}

/** The outcome is being delivered by the other path (webhook) right now: the next poll confirms it. */
export class Deferred extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Deferred';
  }
}

/** What a listing must cover to be whole. */
export interface ListRequest {
  /** Epoch ms: every job created since then must be in it (the last listing that worked, or the baseline). */
  readonly since: number;
  /** No listing has worked yet: every unfinished job must be in it, however old. */
  readonly first: boolean;
}

export interface Listing<J extends ListedJob> {
  readonly jobs: J[];
  /**
   * Why the listing may not show every job it should (a capped page that reading further could not complete):
   * counted, alarmed and logged, never a silent gap.
   */
  readonly incomplete?: string;
}

export interface JobSource<J extends ListedJob> {
  /** As in logs and metrics: `fine-tunes`, `batches`. */
  readonly name: string;
  list(ctx: PollContext, request: ListRequest): Promise<Listing<J>>;
  /** One job by id, for a followed job the listing no longer shows; undefined when Together no longer knows it. */
  get(ctx: PollContext, id: string): Promise<J | undefined>;
  /** Publishes what is left of a finished job's progress, then its terminal outcome. */
  finish(ctx: PollContext, job: J, followed: FollowedJob, state: JobSourceState): Promise<void>;
  /** Reads and publishes an unfinished job's progress. Absent: only its status is followed (the listing has it). */
  progress?(ctx: PollContext, job: J, followed: FollowedJob, state: JobSourceState): Promise<void>;
  /** True when the listing carried the job's progress, so reading it needs no request of its own. */
  progressIsListed?(job: J): boolean;
  /**
   * A job is followed from now on (first listed, or found by id). Called in the listing's phase, so what it records
   * (a baseline of what the first listing shows) is saved even if the poll stops before following anything.
   */
  startFollowing?(job: J, followed: FollowedJob, listing: ListRequest): void;
  /**
   * Jobs handed in from outside, for jobs Together cannot list (tracked operations: tracked.ts): the whole set to
   * follow, read before the listing. One not followed yet is followed from now on; a followed one no longer in it
   * is dropped (its entry was removed). Throwing fails the source for this poll, as a failed listing does.
   */
  handedIn?(ctx: PollContext, state: JobSourceState): Promise<readonly string[]>;
  /** Told once the tracker stops following a job: its outcome delivered, or Together no longer knows it. */
  forget?(ctx: PollContext, id: string): Promise<void>;
}

export interface TrackerLimits {
  /** Jobs worked on at once. */
  readonly concurrency: number;
  /** Progress visits that need a request of their own, per source and poll. */
  readonly visitsPerPoll: number;
  /** How far before the newest finished job the horizon stays: late listings and clock skew. */
  readonly overlapMs: number;
}

/** What a poll did, summed over sources; the log line and the metrics are made from it. */
export class PollRun {
  published = 0;
  duplicates = 0;
  /** Failures that held something back: a source's listing, a job's request, an unexpected error. */
  errors = 0;
  failures: string[] = [];
  outOfTime = false;
  stop?: StopPoll;

  constructor(private readonly workDeadline: () => boolean) {}

  /** A new job may be started: the poll was not stopped and time is left. */
  canStart(): boolean {
    if (this.stop) return false;
    if (this.workDeadline()) {
      this.outOfTime = true;
      return false;
    }
    return true;
  }

  stopWith(err: StopPoll): void {
    if (err.kind === 'out_of_time') this.outOfTime = true;
    this.stop ??= err;
  }

  fail(what: string): void {
    this.errors++;
    if (this.failures.length < 10) this.failures.push(oneLine(what, MAX_REASON));
  }
}

/** Runs `fn` over `items`, `limit` at a time, starting no new one once `keepGoing` says no; returns how many started. */
export async function eachLimited<T>(
  items: readonly T[],
  limit: number,
  keepGoing: () => boolean,
  fn: (item: T) => Promise<void>,
): Promise<number> {
  let next = 0;
  const worker = async () => {
    while (next < items.length && keepGoing()) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return next;
}

export function freshSourceState(nowMs: number, lookbackMs: number): JobSourceState {
  const since = nowMs - lookbackMs;
  return { v: STATE_VERSION, since, horizon: since, open: {}, done: {} };
}

type Attempt = 'done' | 'failed' | 'deferred' | 'stopped';

/** How long a finished job Together gives no time for is remembered once it is no longer listed. */
const UNDATED_MEMORY_MS = 7 * 24 * 3600_000;

/**
 * What `done` remembers of a finished job: its time (it is history once the horizon passes it), or for one Together
 * gives no time for, minus when it was last listed (forgotten a week after it stopped being listed).
 */
function doneMark(job: ListedJob, now: number): number {
  if (Number.isFinite(job.at)) return job.at;
  if (Number.isFinite(job.endedBy)) return job.endedBy;
  return -now;
}

export class JobTracker<J extends ListedJob> {
  /** How many jobs the listing showed (undefined: the listing failed). */
  listed?: number;
  /** Why this poll's listing may have missed jobs, when it may have. */
  incomplete?: string;
  visited = 0;
  private listing?: Map<string, J>;
  /** What this poll's listing had to cover. */
  private request?: ListRequest;

  get name(): string {
    return this.source.name;
  }

  constructor(
    private readonly source: JobSource<J>,
    private readonly state: JobSourceState,
    private readonly ctx: PollContext,
    private readonly run: PollRun,
    private readonly limits: TrackerLimits,
  ) {}

  /** Followed jobs that are finished but not yet delivered. */
  heldBack(): number {
    return Object.values(this.state.open).filter((f) => f.finished).length;
  }

  followed(): number {
    return Object.keys(this.state.open).length;
  }

  /** Phase 1: the listing, and every new terminal state in it. */
  async settle(): Promise<void> {
    if (this.run.stop) return;
    const { state, ctx } = this;
    const firstListing = state.listed === undefined;
    let answer: Listing<J>;
    const request: ListRequest = { since: state.listed ?? state.since, first: firstListing };
    this.request = request;
    try {
      if (this.source.handedIn) this.adopt(await this.source.handedIn(ctx, state));
      answer = await this.source.list(ctx, request);
    } catch (err) {
      if (err instanceof StopPoll) this.run.stopWith(err);
      else
        this.run.fail(`${this.source.name}: ${err instanceof RequestFailed ? err.message : errorName(err)}`);
      return;
    }
    const { jobs } = answer;
    this.incomplete = answer.incomplete;
    state.listed = ctx.now;
    this.listed = jobs.length;
    this.listing = new Map(jobs.map((j) => [j.id, j]));

    const todo: J[] = [];
    for (const job of this.listing.values()) {
      const followed = state.open[job.id];
      if (!job.terminal) {
        this.observe(job);
        continue;
      }
      if (followed) todo.push(job);
      else if (job.id in state.done) {
        // Undated ones are remembered by when they were last listed, so a listing that skips them once is harmless.
        if (state.done[job.id] < 0) state.done[job.id] = -ctx.now;
      } else if (Number.isFinite(job.at)) {
        if (job.at >= state.horizon) todo.push(job);
      } else if (Number.isFinite(job.endedBy) && job.endedBy < state.horizon) {
        continue; // undated, but it cannot have ended after the horizon
      } else if (firstListing) {
        state.done[job.id] = doneMark(job, ctx.now); // undated history at deploy
      } else todo.push(job); // never seen, undated: it ended since the last poll
    }
    todo.sort((a, b) => (a.at || 0) - (b.at || 0) || (a.id < b.id ? -1 : 1));
    const started = await eachLimited(
      todo,
      this.limits.concurrency,
      () => this.run.canStart(),
      (job) => this.finish(job),
    );

    // This listing worked and every finished job in it was delivered or is followed: the horizon follows it, an
    // overlap behind (a job listed late, clock skew), but never past a finished job not yet reached. A listing that
    // may have missed jobs moves it not at all: one it did not show, listed later, is still new then.
    let bound = answer.incomplete === undefined ? ctx.now : -Infinity;
    for (const job of todo.slice(started)) {
      const end = Number.isFinite(job.at) ? job.at : job.endedBy;
      if (!state.open[job.id] && Number.isFinite(end)) bound = Math.min(bound, end);
    }
    state.horizon = Math.max(state.horizon, bound - this.limits.overlapMs);
    for (const [id, mark] of Object.entries(state.done)) {
      const forget = mark < 0 ? -mark < ctx.now - UNDATED_MEMORY_MS : mark < state.horizon;
      if (forget) delete state.done[id];
    }
  }

  /** Phase 2: progress of followed jobs, round robin within the per-poll budget of requests. */
  async follow(): Promise<void> {
    const listing = this.listing;
    if (!listing || this.run.stop) return;
    const free: Array<() => Promise<void>> = [];
    const queue: Array<{ id: string; followed: FollowedJob; missing: boolean; job?: J }> = [];
    for (const [id, followed] of Object.entries(this.state.open)) {
      const job = listing.get(id);
      if (!job) queue.push({ id, followed, missing: true });
      else if (job.terminal || !this.source.progress) continue;
      else if (this.source.progressIsListed?.(job)) free.push(() => this.visit(job));
      else queue.push({ id, followed, missing: false, job });
    }
    // Jobs that vanished from the listing first (they may have finished), unless asking for them failed last time
    // (so many failing cannot keep the rest from their turn); then least recently visited; one never visited goes
    // before one visited at the poll that first saw it.
    const last = (f: FollowedJob) => f.visited ?? f.seen;
    const first = (q: { missing: boolean; followed: FollowedJob }) => q.missing && !q.followed.failures;
    queue.sort(
      (a, b) =>
        Number(first(b)) - Number(first(a)) ||
        last(a.followed) - last(b.followed) ||
        Number(a.followed.visited !== undefined) - Number(b.followed.visited !== undefined) ||
        (a.id < b.id ? -1 : 1),
    );
    const paid = queue
      .slice(0, this.limits.visitsPerPoll)
      .map((q) => (q.job ? () => this.visit(q.job!) : () => this.visitMissing(q.id)));
    await eachLimited(
      [...free, ...paid],
      this.limits.concurrency,
      () => this.run.canStart(),
      (visit) => visit(),
    );
  }

  /** The jobs handed in are exactly the ones followed. */
  private adopt(ids: readonly string[]): void {
    const { open } = this.state;
    const handed = new Set(ids);
    for (const id of Object.keys(open)) if (!handed.has(id)) delete open[id];
    for (const id of handed) open[id] ??= { status: 'handed in', seen: this.ctx.now, changed: this.ctx.now };
  }

  /** Tells the source a job is no longer followed; a failure costs a retry by the next poll, nothing more. */
  private async forget(id: string): Promise<void> {
    if (!this.source.forget) return;
    try {
      await this.source.forget(this.ctx, id);
    } catch (err) {
      this.run.fail(`${this.source.name} ${id}: could not stop tracking it (${errorName(err)})`);
    }
  }

  /** Starts following an unfinished job, or notes a change in one followed. */
  private observe(job: J): void {
    const at = Number.isFinite(job.at) ? job.at : undefined;
    const followed = this.state.open[job.id];
    if (!followed) {
      const started: FollowedJob = { status: job.status, seen: this.ctx.now, changed: at ?? this.ctx.now };
      this.state.open[job.id] = started;
      const request = this.request ?? { since: this.state.since, first: false };
      this.source.startFollowing?.(job, started, request);
      return;
    }
    // A job Together restarted: finishing it starts over.
    delete followed.finished;
    delete followed.finishFailures;
    const changed = followed.changed ?? followed.seen;
    if (followed.status !== job.status) {
      followed.status = job.status;
      followed.changed = at !== undefined && at > changed ? at : this.ctx.now;
    } else if (at !== undefined && at > changed) followed.changed = at;
  }

  private async finish(job: J): Promise<void> {
    const { state } = this;
    const followed = state.open[job.id] ?? { status: job.status, seen: this.ctx.now };
    followed.status = job.status;
    const result = await this.attempt(job.id, followed, () =>
      this.source.finish(this.ctx, job, followed, state),
    );
    if (result === 'failed') followed.finishFailures = (followed.finishFailures ?? 0) + 1;
    if (result === 'done') {
      delete state.open[job.id];
      state.done[job.id] = doneMark(job, this.ctx.now);
      await this.forget(job.id);
    } else {
      // Not delivered (yet): followed from now on, so the next poll retries it whatever the horizon does.
      followed.finished = true;
      state.open[job.id] = followed;
    }
  }

  private async visit(job: J): Promise<void> {
    const followed = this.state.open[job.id];
    this.visited++;
    const result = await this.attempt(job.id, followed, () =>
      this.source.progress!(this.ctx, job, followed, this.state),
    );
    // A failed visit goes to the back of the queue too, so failing jobs cannot keep the rest from their turn.
    if (result === 'done' || result === 'failed') followed.visited = this.ctx.now;
  }

  /** A followed job the listing no longer shows: ask for it by id. */
  private async visitMissing(id: string): Promise<void> {
    const followed = this.state.open[id];
    this.visited++;
    let job: J | undefined;
    const result = await this.attempt(id, followed, async () => {
      job = await this.source.get(this.ctx, id);
    });
    if (result === 'failed') followed.visited = this.ctx.now;
    if (result !== 'done') return;
    if (!job) {
      delete this.state.open[id];
      this.ctx.log({
        level: 'WARN',
        message: 'followed job no longer known to Together: no longer followed',
        source: this.source.name,
        jobId: id,
        status: followed.status,
      });
      await this.forget(id);
      return;
    }
    if (job.terminal) return this.finish(job);
    this.observe(job);
    if (this.source.progress) await this.visit(job);
    else followed.visited = this.ctx.now;
  }

  /** Runs one job's work; sorts what went wrong into the job's record and the poll's. */
  private async attempt(id: string, followed: FollowedJob, work: () => Promise<void>): Promise<Attempt> {
    try {
      await work();
      delete followed.failures;
      delete followed.lastError;
      return 'done';
    } catch (err) {
      if (err instanceof StopPoll) {
        this.run.stopWith(err);
        return 'stopped';
      }
      if (err instanceof Deferred) return 'deferred';
      // A RequestFailed is Together's; anything else is ours, and still costs only this job.
      const why = err instanceof RequestFailed ? err.message : `unexpected: ${errorName(err)}`;
      followed.failures = (followed.failures ?? 0) + 1;
      followed.lastError = oneLine(why, MAX_REASON);
      this.run.fail(`${this.source.name} ${id}: ${why}`);
      return 'failed';
    }
  }
}
