import { RequestFailed, StopPoll } from '../api';
import { FollowedJob, JobSourceState } from '../state';
import { JobSource, ListedJob, PollContext } from '../tracker';
import {
  eventTime,
  isObject,
  notThatJob,
  iso,
  isRealTime,
  MAX_ERROR_MESSAGE,
  pastTime,
  ReadAt,
} from './common';

/**
 * Fine-tunes: `GET /fine-tunes` lists them (FinetuneResponseTruncated, `events` optional), `GET /fine-tunes/{id}`
 * finds one the listing dropped, `/events` gives checkpoints and errors, `/metrics` the losses. Outcomes:
 * checkpoints while it trains, a stall when nothing changes for `stallAfterMs`, then completed, failed or
 * cancelled.
 */

const TERMINAL = new Set(['completed', 'error', 'user_error', 'cancelled']);

interface FineTuneEvent {
  type?: string;
  message?: string;
  level?: string | null;
  step?: number;
  created_at?: string;
}

export interface FineTuneJob extends ListedJob {
  /** `updated_at` as an event carries it; undefined when Together gave no real time. */
  readonly updatedAt?: string;
  readonly modelName: string;
  /** Events the listing carried, when it carried any. */
  readonly events?: FineTuneEvent[];
}

export interface FineTuneOptions {
  readonly stallAfterMs: number;
  /** A finished job whose events cannot be read is published without them after this many polls tried. */
  readonly publishWithoutEventsAfter: number;
}

export function fineTuneJob(item: unknown, read: ReadAt): FineTuneJob | undefined {
  if (!isObject(item) || typeof item.id !== 'string' || item.id === '' || typeof item.status !== 'string')
    return undefined;
  const events =
    Array.isArray(item.events) && item.events.length > 0 ? item.events.filter(isObject) : undefined;
  return {
    id: item.id,
    status: item.status,
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
    events: events as FineTuneEvent[] | undefined,
  };
}

export class FineTuneSource implements JobSource<FineTuneJob> {
  readonly name = 'fine-tunes';

  constructor(private readonly options: FineTuneOptions) {}

  async list(ctx: PollContext): Promise<FineTuneJob[]> {
    const answer = await ctx.api.get('/fine-tunes');
    if (!isObject(answer) || !Array.isArray(answer.data))
      throw new RequestFailed('GET /fine-tunes: unexpected answer (no data array)');
    return answer.data.map((item) => fineTuneJob(item, ctx)).filter((j): j is FineTuneJob => j !== undefined);
  }

  async get(ctx: PollContext, id: string): Promise<FineTuneJob | undefined> {
    const path = `/fine-tunes/${encodeURIComponent(id)}`;
    const answer = await ctx.api.get(path, { value: undefined });
    if (answer === undefined) return undefined;
    const job = fineTuneJob(answer, ctx);
    if (!job || job.id !== id) throw notThatJob(path, job, 'fine-tune job');
    return job;
  }

  progressIsListed(job: FineTuneJob): boolean {
    return job.events !== undefined;
  }

  async progress(ctx: PollContext, job: FineTuneJob, f: FollowedJob, state: JobSourceState): Promise<void> {
    const events = await this.events(ctx, job);
    await this.checkpoints(ctx, job, f, state, events);
    // An event without a real time is no change seen: the stall counts from what this poller saw.
    const newest = events.reduce((n, e) => {
      const at = pastTime(e.created_at, ctx.now);
      return Number.isNaN(at) ? n : Math.max(n, at);
    }, -Infinity);
    // A `changed` saved by an earlier version may be epoch 0 or 1890: first sight dates the episode then.
    if (!isRealTime(f.changed, ctx.now)) delete f.changed;
    if (newest > (f.changed ?? f.seen)) f.changed = newest;
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
    let events: FineTuneEvent[] | undefined;
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
      const all = events ?? [];
      const failure =
        [...all].reverse().find((e) => e.type === 'job_error') ??
        [...all].reverse().find((e) => e.level === 'error' || e.level === 'legacy_ierror');
      await ctx.deliver('fine_tune.failed', job.updatedAt, {
        fine_tune_id: job.id,
        error_message: (failure?.message || `fine-tune ended with status ${job.status}`).slice(
          0,
          MAX_ERROR_MESSAGE,
        ),
        step: Number.isInteger(failure?.step) && (failure?.step as number) > 0 ? failure?.step : null,
      });
    }
  }

  /** The listing's events if it carried them, else one request (a job whose events are gone has none). */
  private async events(ctx: PollContext, job: FineTuneJob): Promise<FineTuneEvent[]> {
    if (job.events) return job.events;
    const path = `/fine-tunes/${encodeURIComponent(job.id)}/events`;
    const answer = await ctx.api.get(path, { value: { data: [] } });
    if (!isObject(answer) || !Array.isArray(answer.data))
      throw new RequestFailed(`GET ${path}: unexpected answer (no data array)`);
    return answer.data.filter(isObject) as FineTuneEvent[];
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
    events: FineTuneEvent[],
    needMetrics = false,
  ): Promise<Array<Record<string, unknown>>> {
    const last = f.step ?? -1;
    const saves = new Map<number, FineTuneEvent>();
    for (const e of events) {
      if (e.type === 'checkpoint_save' && Number.isInteger(e.step) && (e.step as number) > last)
        saves.set(e.step as number, e);
    }
    const steps = [...saves.keys()].sort((a, b) => a - b);
    // Checkpoints saved before this poller's first lookback are history, as any other outcome that old.
    // One without a real time is not known to be old.
    const fresh = steps.filter((s) => !(pastTime(saves.get(s)!.created_at, ctx.now) < state.since));
    if (steps.length > fresh.length) f.step = Math.max(last, ...steps.filter((s) => !fresh.includes(s)));
    const metrics = fresh.length > 0 || needMetrics ? await this.metrics(ctx, job.id) : [];
    for (const step of fresh) {
      await ctx.deliver('fine_tune.checkpoint', eventTime(saves.get(step)!.created_at, ctx.now), {
        fine_tune_id: job.id,
        step,
        loss: lossAt(metrics, step),
      });
      f.step = step;
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
