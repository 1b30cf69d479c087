import { isObject } from '../../shared/guards';
import { TrackedSource } from '../tracked';
import { ListedJob, PollContext } from '../tracker';
import { eventTime, notThatJob, pastTime } from './common';

/**
 * Tracked queued inference jobs (`tracking` on): Together lists none, so each is handed in with its model
 * (lib/track.ts) and asked for with `GET /queue/status?request_id=&model=`. `done` is `queue_job.done`; `failed`
 * and `canceled` are `queue_job.failed` with the status; `pending`, `running` or a status Together adds is still
 * running.
 */

export interface TrackedQueueJob extends ListedJob {
  readonly requestId: string;
  readonly model: string;
  readonly doneAt?: string;
}

const TERMINAL = new Set(['done', 'failed', 'canceled']);

export function trackedQueueJob(key: string, item: unknown, now: number): TrackedQueueJob | undefined {
  if (!isObject(item) || typeof item.request_id !== 'string' || typeof item.status !== 'string')
    return undefined;
  return {
    id: key,
    requestId: item.request_id,
    status: item.status,
    terminal: TERMINAL.has(item.status),
    at: pastTime(item.done_at, now),
    endedBy: NaN,
    model: typeof item.model === 'string' ? item.model : '',
    doneAt: eventTime(item.done_at, now),
  };
}

export class QueueJobSource extends TrackedSource<TrackedQueueJob> {
  readonly name = 'queue-jobs';
  protected readonly kind = 'queue';

  async get(ctx: PollContext, key: string): Promise<TrackedQueueJob | undefined> {
    const { id, model } = this.entry(key);
    const query = new URLSearchParams({ request_id: id, model: model ?? '' });
    const path = `/queue/status?${query.toString()}`;
    const answer = await ctx.api.get(path, { value: undefined });
    if (answer === undefined) return undefined;
    const job = trackedQueueJob(key, answer, ctx.now);
    if (!job || job.requestId !== id) throw notThatJob(path, job && { id: job.requestId }, 'queued job');
    return job;
  }

  async finish(ctx: PollContext, job: TrackedQueueJob): Promise<void> {
    // The model as tracked: the outcome key must not depend on how Together spells it back.
    const data = { request_id: job.requestId, model: this.entry(job.id).model ?? job.model };
    if (job.status === 'done') {
      await ctx.deliver('queue_job.done', job.doneAt, data);
      return;
    }
    await ctx.deliver('queue_job.failed', job.doneAt, { ...data, status: job.status });
  }
}
