import { isObject } from '../../shared/guards';
import { RequestFailed } from '../api';
import { JobSource, ListedJob, Listing, PollContext } from '../tracker';
import { deadlineTime, eventTime, getById, iso, MAX_ERROR_MESSAGE, pastTime, ReadAt } from './common';

/**
 * Batches: `GET /batches` lists them, `GET /batches/{id}` finds one the listing dropped. One outcome, `batch.done`,
 * when a batch reaches COMPLETED, FAILED, EXPIRED or CANCELLED. `completed_at` is optional in Together's schema:
 * a batch without it is dated by when the poller first saw it finished, and its `job_deadline` bounds how late it
 * can have ended.
 */

const TERMINAL = new Set(['COMPLETED', 'FAILED', 'EXPIRED', 'CANCELLED']);
/** A batch may be reported expired a little after its deadline. */
const DEADLINE_GRACE_MS = 60 * 60_000;

export interface BatchJob extends ListedJob {
  /** `completed_at` as an event carries it; undefined when Together gave no real time. */
  readonly completedAt?: string;
  readonly outputFileId?: string;
  readonly errorFileId?: string;
  readonly error?: string;
}

export function batchJob(item: unknown, read: ReadAt): BatchJob | undefined {
  if (!isObject(item) || typeof item.id !== 'string' || item.id === '' || typeof item.status !== 'string')
    return undefined;
  const text = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
  return {
    id: item.id,
    status: item.status,
    terminal: TERMINAL.has(item.status),
    at: pastTime(item.completed_at, read.now),
    // A deadline from the 1890s must not make a batch history: unknown, like an absent one.
    endedBy: deadlineTime(item.job_deadline, read.now) + DEADLINE_GRACE_MS,
    completedAt: eventTime(item.completed_at, read.now),
    outputFileId: text(item.output_file_id),
    errorFileId: text(item.error_file_id),
    error: text(item.error),
  };
}

export class BatchSource implements JobSource<BatchJob> {
  readonly name = 'batches';

  constructor(private readonly apiBaseUrl: string) {}

  async list(ctx: PollContext): Promise<Listing<BatchJob>> {
    const answer = await ctx.api.get('/batches');
    if (!Array.isArray(answer)) throw new RequestFailed('GET /batches: unexpected answer (not an array)');
    // Unpaginated: the whole account in one answer.
    return { jobs: answer.map((item) => batchJob(item, ctx)).filter((b): b is BatchJob => b !== undefined) };
  }

  get(ctx: PollContext, id: string): Promise<BatchJob | undefined> {
    return getById(ctx, '/batches', id, batchJob, 'batch');
  }

  async finish(ctx: PollContext, batch: BatchJob): Promise<void> {
    const base = this.apiBaseUrl.replace(/\/+$/, '');
    // Never dated by created_at: that says when it began, not when it ended.
    await ctx.deliver('batch.done', batch.completedAt ?? iso(ctx.now), {
      batch_id: batch.id,
      status: batch.status,
      output_url: batch.outputFileId
        ? `${base}/files/${encodeURIComponent(batch.outputFileId)}/content`
        : null,
      output_file_id: batch.outputFileId ?? null,
      error_file_id: batch.errorFileId ?? null,
      ...(batch.error ? { error: batch.error.slice(0, MAX_ERROR_MESSAGE) } : {}),
      total_tokens: null,
    });
  }
}
