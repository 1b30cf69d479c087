import { isObject } from '../../shared/guards';
import { RequestFailed, StopPoll } from '../api';
import { FollowedJob, JobSourceState } from '../state';
import { JobSource, ListedJob, Listing, PollContext } from '../tracker';
import { eventTime, getById, iso, isRealTime, MAX_ERROR_MESSAGE, pastTime, ReadAt } from './common';

/**
 * Fine-tunes: `GET /fine-tunes` lists them (FinetuneResponseTruncated, `events` optional), `GET /fine-tunes/{id}`
 * finds one the listing dropped, `/events` gives checkpoints and errors, `/metrics` the losses. Outcomes:
 * checkpoints while it trains, a stall when nothing changes for `stallAfterMs`, then completed, failed or
 * cancelled.
 */

const TERMINAL = new Set(['completed', 'error', 'user_error', 'cancelled']);

/**
 * What the poller keeps of a job's events, whether the listing carried them or `/events` answered: its checkpoints,
 * when the newest event happened, and the error that ended it. A large account's listing carries every event of
 * every job, and the poll holds the whole listing, so each job keeps only these.
 */
export interface EventDigest {
  /** `checkpoint_save` events with an integer step, ascending by step (the last event of a step wins). */
  readonly checkpoints: ReadonlyArray<{ readonly step: number; readonly createdAt?: string }>;
  /** Epoch ms of the newest event with a real time, -Infinity when none has one. */
  readonly newest: number;
  /** The last `job_error` event, else the last error-level one. */
  readonly failure?: { readonly message?: string; readonly step?: number };
}

export function digestEvents(events: readonly unknown[], now: number): EventDigest {
  const saves = new Map<number, string | undefined>();
  let newest = -Infinity;
  let jobError: Record<string, unknown> | undefined;
  let errorLevel: Record<string, unknown> | undefined;
  for (const e of events) {
    if (!isObject(e)) continue;
    const at = pastTime(e.created_at, now);
    if (!Number.isNaN(at)) newest = Math.max(newest, at);
    if (e.type === 'checkpoint_save' && Number.isInteger(e.step))
      saves.set(e.step as number, eventTime(e.created_at, now));
    if (e.type === 'job_error') jobError = e;
    if (e.level === 'error' || e.level === 'legacy_ierror') errorLevel = e;
  }
  const failed = jobError ?? errorLevel;
  const step = failed?.step;
  return {
    checkpoints: [...saves.keys()].sort((a, b) => a - b).map((s) => ({ step: s, createdAt: saves.get(s) })),
    newest,
    failure: failed && {
      message: typeof failed.message === 'string' ? failed.message.slice(0, MAX_ERROR_MESSAGE) : undefined,
      step: Number.isInteger(step) && (step as number) > 0 ? (step as number) : undefined,
    },
  };
}

export interface FineTuneJob extends ListedJob {
  /** `updated_at` as an event carries it; undefined when Together gave no real time. */
  readonly updatedAt?: string;
  readonly modelName: string;
  /** The events the listing carried, digested, when it carried any. */
  readonly events?: EventDigest;
}

export interface FineTuneOptions {
  readonly stallAfterMs: number;
  /** A finished job whose events cannot be read is published without them after this many polls tried. */
  readonly publishWithoutEventsAfter: number;
}

/** Statuses as one string each, not one per job of a large listing. */
const STATUSES = new Map(
  [...TERMINAL, 'pending', 'queued', 'running', 'compressing', 'uploading', 'cancel_requested'].map((s) => [
    s,
    s,
  ]),
);

/** The fields the poller uses of a job (FinetuneResponseTruncated or FinetuneResponse); undefined if it has none. */
export function fineTuneJob(item: unknown, read: ReadAt): FineTuneJob | undefined {
  if (!isObject(item) || typeof item.id !== 'string' || item.id === '' || typeof item.status !== 'string')
    return undefined;
  const events =
    Array.isArray(item.events) && item.events.length > 0 ? digestEvents(item.events, read.now) : undefined;
  return {
    id: item.id,
    status: STATUSES.get(item.status) ?? item.status,
    terminal: TERMINAL.has(item.status),
    at: pastTime(item.updated_at, read.now),
    endedBy: NaN,
    updatedAt: eventTime(item.updated_at, read.now),
    modelName:
      typeof item.model_output_name === 'string'
        ? item.model_output_name
        : typeof item.model === 'string'
          ? item.model
          : '',
    events,
  };
}

export class FineTuneSource implements JobSource<FineTuneJob> {
  readonly name = 'fine-tunes';

  constructor(private readonly options: FineTuneOptions) {}

  /** Not paginated: every job of the account, each with its events. Streamed, each job digested as it comes. */
  async list(ctx: PollContext): Promise<Listing<FineTuneJob>> {
    const jobs = await ctx.api.list('/fine-tunes', {
      key: 'data',
      pick: (item) => fineTuneJob(item, ctx),
      noun: 'fine-tunes',
      // Together lists every job of the account at once.
      tooLarge:
        'delete the fine-tune jobs you no longer need (DELETE /fine-tunes/{id}) so the listing shrinks',
    });
    return { jobs };
  }

  get(ctx: PollContext, id: string): Promise<FineTuneJob | undefined> {
    return getById(ctx, '/fine-tunes', id, fineTuneJob, 'fine-tune job');
  }

  progressIsListed(job: FineTuneJob): boolean {
    return job.events !== undefined;
  }

  async progress(ctx: PollContext, job: FineTuneJob, f: FollowedJob, state: JobSourceState): Promise<void> {
    const events = await this.events(ctx, job);
    await this.checkpoints(ctx, job, f, state, events);
    // A `changed` saved by an earlier version may be epoch 0 or 1890: first sight dates the episode then.
    if (!isRealTime(f.changed, ctx.now)) delete f.changed;
    // An event without a real time is no change seen: the stall counts from what this poller saw.
    if (events.newest > (f.changed ?? f.seen)) f.changed = events.newest;
    // One event per stall episode: the episode is named by the last change, remembered here beyond retention.
    const last = f.changed ?? f.seen;
    if (ctx.now - last >= this.options.stallAfterMs && f.stalled !== last) {
      await ctx.deliver('fine_tune.stalled', iso(ctx.now), {
        fine_tune_id: job.id,
        status: job.status,
        since: iso(last),
      });
      f.stalled = last;
    }
  }

  async finish(ctx: PollContext, job: FineTuneJob, f: FollowedJob, state: JobSourceState): Promise<void> {
    let events: EventDigest | undefined;
    try {
      events = await this.events(ctx, job);
    } catch (err) {
      // Its checkpoints and error message are worth waiting for, but not forever: a terminal state held back for
      // good would be worse.
      if (err instanceof StopPoll || (f.finishFailures ?? 0) + 1 < this.options.publishWithoutEventsAfter)
        throw err;
      ctx.log({
        level: 'WARN',
        message: 'publishing a finished fine-tune without its events, which could not be read',
        fineTuneId: job.id,
        attempts: (f.finishFailures ?? 0) + 1,
        error: (err as Error).message,
      });
    }
    const metrics = events
      ? await this.checkpoints(ctx, job, f, state, events, job.status === 'completed')
      : job.status === 'completed'
        ? await this.metrics(ctx, job.id)
        : [];

    if (job.status === 'completed') {
      await ctx.deliver('fine_tune.completed', job.updatedAt, {
        fine_tune_id: job.id,
        model_name: job.modelName,
        eval_loss: lastValue(metrics, ['eval/loss', 'eval_loss', 'validation/loss']),
      });
    } else if (job.status === 'cancelled') {
      await ctx.deliver('fine_tune.cancelled', job.updatedAt, { fine_tune_id: job.id });
    } else {
      const failure = events?.failure;
      await ctx.deliver('fine_tune.failed', job.updatedAt, {
        fine_tune_id: job.id,
        error_message: (failure?.message || `fine-tune ended with status ${job.status}`).slice(
          0,
          MAX_ERROR_MESSAGE,
        ),
        step: failure?.step ?? null,
      });
    }
  }

  /** The listing's events if it carried them, else one request (a job whose events are gone has none). */
  private async events(ctx: PollContext, job: FineTuneJob): Promise<EventDigest> {
    if (job.events) return job.events;
    const path = `/fine-tunes/${encodeURIComponent(job.id)}/events`;
    const answer = await ctx.api.get(path, { value: { data: [] } });
    if (!isObject(answer) || !Array.isArray(answer.data))
      throw new RequestFailed(`GET ${path}: unexpected answer (no data array)`);
    return digestEvents(answer.data, ctx.now);
  }

  /**
   * Publishes checkpoints after the last one published, with their loss when Together has it. Returns the metrics
   * it read (read also when `needMetrics`, for the final eval loss).
   */
  private async checkpoints(
    ctx: PollContext,
    job: FineTuneJob,
    f: FollowedJob,
    state: JobSourceState,
    events: EventDigest,
    needMetrics = false,
  ): Promise<Array<Record<string, unknown>>> {
    const last = f.step ?? -1;
    const saves = events.checkpoints.filter((c) => c.step > last);
    // Checkpoints saved before this poller's first lookback are history, as any other outcome that old.
    // One without a real time is not known to be old.
    const fresh = saves.filter((c) => !(pastTime(c.createdAt, ctx.now) < state.since));
    if (saves.length > fresh.length)
      f.step = Math.max(last, ...saves.filter((c) => !fresh.includes(c)).map((c) => c.step));
    const metrics = fresh.length > 0 || needMetrics ? await this.metrics(ctx, job.id) : [];
    for (const c of fresh) {
      await ctx.deliver('fine_tune.checkpoint', c.createdAt, {
        fine_tune_id: job.id,
        step: c.step,
        loss: lossAt(metrics, c.step),
      });
      f.step = c.step;
    }
    return metrics;
  }

  /** Loss values by step, when Together has them: never a reason to hold an outcome back. */
  private async metrics(ctx: PollContext, id: string): Promise<Array<Record<string, unknown>>> {
    let answer: unknown;
    try {
      answer = await ctx.api.get(`/fine-tunes/${encodeURIComponent(id)}/metrics`);
    } catch (err) {
      if (err instanceof StopPoll) throw err;
      return [];
    }
    return isObject(answer) && Array.isArray(answer.metrics) ? answer.metrics.filter(isObject) : [];
  }
}

/** The training loss logged at `step` (Together's metrics are flat maps like {"train/loss", "train/global_step"}). */
function lossAt(metrics: Array<Record<string, unknown>>, step: number): number | null {
  for (const m of metrics) {
    const at = m['train/global_step'] ?? m['global_step'] ?? m['step'];
    if (at === step) {
      const loss = m['train/loss'] ?? m['loss'];
      if (typeof loss === 'number' && Number.isFinite(loss)) return loss;
    }
  }
  return null;
}

function lastValue(metrics: Array<Record<string, unknown>>, names: string[]): number | null {
  for (let i = metrics.length - 1; i >= 0; i--) {
    for (const name of names) {
      const v = metrics[i][name];
      if (typeof v === 'number' && Number.isFinite(v)) return v;
    }
  }
  return null;
}
