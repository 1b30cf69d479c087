import { isObject } from '../../shared/guards';
import { RequestFailed } from '../api';
import { JobSource, ListedJob, Listing, PollContext } from '../tracker';
import { eventTime, getById, MAX_ERROR_MESSAGE, pastTime, ReadAt } from './common';

/**
 * Together's jobs (opt-in): model uploads and its other asynchronous jobs. `GET /jobs` lists them all at once,
 * `GET /jobs/{id}` finds a followed one the listing dropped. One outcome each: `job.completed` (status `Complete`)
 * or `job.failed` (`Failed`, with the last status message), both with the job's `type` and the model named in its
 * `args`. `Queued`, `Running` or a status Together adds is still running.
 */

const TERMINAL = new Set(['Complete', 'Failed']);

export interface TogetherJob extends ListedJob {
  readonly type: string;
  readonly modelName: string | null;
  /** `updated_at` as an event carries it; undefined when Together gave no real time. */
  readonly updatedAt?: string;
  readonly lastMessage?: string;
}

export function togetherJob(item: unknown, read: ReadAt): TogetherJob | undefined {
  if (!isObject(item) || typeof item.job_id !== 'string' || item.job_id === '') return undefined;
  if (typeof item.status !== 'string') return undefined;
  const args = isObject(item.args) ? item.args : {};
  const updates = Array.isArray(item.status_updates) ? item.status_updates.filter(isObject) : [];
  const last = updates.at(-1);
  return {
    id: item.job_id,
    status: item.status,
    terminal: TERMINAL.has(item.status),
    at: pastTime(item.updated_at, read.now),
    endedBy: NaN,
    type: typeof item.type === 'string' ? item.type : '',
    modelName: typeof args.modelName === 'string' && args.modelName !== '' ? args.modelName : null,
    updatedAt: eventTime(item.updated_at, read.now),
    lastMessage: typeof last?.message === 'string' ? last.message : undefined,
  };
}

export class JobsSource implements JobSource<TogetherJob> {
  readonly name = 'jobs';

  async list(ctx: PollContext): Promise<Listing<TogetherJob>> {
    const answer = await ctx.api.get('/jobs');
    if (!isObject(answer) || !Array.isArray(answer.data))
      throw new RequestFailed('GET /jobs: unexpected answer (no data array)');
    // Unpaginated: every job of the account in one answer.
    return {
      jobs: answer.data
        .map((item) => togetherJob(item, ctx))
        .filter((j): j is TogetherJob => j !== undefined),
    };
  }

  get(ctx: PollContext, id: string): Promise<TogetherJob | undefined> {
    return getById(ctx, '/jobs', id, togetherJob, 'job');
  }

  async finish(ctx: PollContext, job: TogetherJob): Promise<void> {
    const data = { job_id: job.id, job_type: job.type, model_name: job.modelName };
    if (job.status === 'Complete') {
      await ctx.deliver('job.completed', job.updatedAt, data);
      return;
    }
    await ctx.deliver('job.failed', job.updatedAt, {
      ...data,
      error_message: (job.lastMessage || `job ended with status ${job.status}`).slice(0, MAX_ERROR_MESSAGE),
    });
  }
}
