import { isObject } from '../../shared/guards';
import { RequestFailed } from '../api';
import { JobSource, ListedJob, Listing, ListRequest, PollContext } from '../tracker';
import { eventTime, getById, iso, MAX_ERROR_MESSAGE, pastTime, ReadAt } from './common';

/**
 * Evaluation jobs (opt-in): `GET /evaluation?limit=100` lists the newest, `GET /evaluation/{id}` finds a followed
 * one that fell off the list. One outcome each: `evaluation.completed` with a summary of its results, or
 * `evaluation.failed` with Together's message.
 *
 * The listing is capped (100 at most, newest first, no paging), so a full page is read further: one page per status.
 * A page is whole when it is not full, or when it reaches back (by `created_at`) past what the last listing that
 * worked covered: every job created since is on it, and every older unfinished one was listed then and is followed.
 * A page that is neither makes the listing incomplete: counted and alarmed, never a silent gap.
 */

const TERMINAL = new Set(['completed', 'error', 'user_error']);
/** Every status of EvaluationJob, in the spec's order: one page each when the first page is full. */
export const EVALUATION_STATUSES = ['pending', 'queued', 'running', 'completed', 'error', 'user_error'];
/** Together's most per page (its CLI: "max 100"); it lists 10 by default. */
export const LIST_LIMIT = 100;
/** A job created this long before a listing may still have been missing from it (clock skew, listing lag). */
export const CREATION_SKEW_MS = 5 * 60_000;

export interface EvaluationJob extends ListedJob {
  /** created_at, epoch ms; NaN when unreadable. */
  readonly created: number;
  readonly type?: string;
  /** `updated_at` as an event carries it; undefined when Together gave no real time. */
  readonly updatedAt?: string;
  readonly results?: Record<string, unknown>;
  readonly lastMessage?: string;
}

export function evaluationJob(item: unknown, read: ReadAt): EvaluationJob | undefined {
  if (!isObject(item) || typeof item.workflow_id !== 'string' || item.workflow_id === '') return undefined;
  if (typeof item.status !== 'string') return undefined;
  const updates = Array.isArray(item.status_updates) ? item.status_updates.filter(isObject) : [];
  const last = updates.at(-1);
  return {
    id: item.workflow_id,
    status: item.status,
    terminal: TERMINAL.has(item.status),
    at: pastTime(item.updated_at, read.now),
    endedBy: NaN,
    created: pastTime(item.created_at, read.now),
    type: typeof item.type === 'string' ? item.type : undefined,
    updatedAt: eventTime(item.updated_at, read.now),
    results: isObject(item.results) ? item.results : undefined,
    lastMessage: typeof last?.message === 'string' ? last.message : undefined,
  };
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** The numbers a handler most wants, by evaluation type, and the results in one line. */
export function summarize(job: EvaluationJob): Record<string, unknown> {
  const r = job.results ?? {};
  const aggregated = isObject(r.aggregated_scores) ? r.aggregated_scores : {};
  const pass = num(r.pass_percentage) ?? num(aggregated.pass_percentage);
  const mean = num(aggregated.mean_score);
  const parts: string[] = [];
  if (job.type === 'compare') {
    parts.push(`A ${num(r.A_wins) ?? '?'}, B ${num(r.B_wins) ?? '?'}, ties ${num(r.Ties) ?? '?'}`);
  } else {
    if (mean !== null) parts.push(`mean ${mean}`);
    if (pass !== null) parts.push(`${pass}% passed`);
  }
  return {
    evaluation_type: job.type ?? null,
    pass_percentage: pass,
    mean_score: mean,
    result_file_id: typeof r.result_file_id === 'string' ? r.result_file_id : null,
    summary: `${job.type ?? 'evaluation'}: ${parts.join(', ') || 'no figures reported'}`,
  };
}

export class EvaluationSource implements JobSource<EvaluationJob> {
  readonly name = 'evaluations';

  async list(ctx: PollContext, request: ListRequest): Promise<Listing<EvaluationJob>> {
    const since = request.since - CREATION_SKEW_MS;
    const newest = await this.page(ctx);
    // The first listing must show every unfinished job, however old: a full page cannot say it did.
    if (!newest.full || (!request.first && reachesBack(newest.jobs, since))) return { jobs: newest.jobs };
    const jobs = new Map(newest.jobs.map((j) => [j.id, j]));
    const short: string[] = [];
    for (const status of EVALUATION_STATUSES) {
      const page = await this.page(ctx, status);
      // Read after the first page: a job that moved on between the two is seen as it is now.
      for (const job of page.jobs) jobs.set(job.id, job);
      const mustBeWhole = request.first && !TERMINAL.has(status);
      if (page.full && (mustBeWhole || !reachesBack(page.jobs, since))) short.push(status);
    }
    if (short.length === 0) return { jobs: [...jobs.values()] };
    return {
      jobs: [...jobs.values()],
      incomplete:
        `more than ${LIST_LIMIT} evaluation jobs ${short.join(', ')} ` +
        (request.first ? 'at the first listing' : `created since ${iso(since)}`) +
        ': jobs beyond a page are not seen',
    };
  }

  /** One page, newest first. `full`: Together showed as many as asked for, so there may be more. */
  private async page(ctx: PollContext, status?: string): Promise<{ jobs: EvaluationJob[]; full: boolean }> {
    const path = `/evaluation?${status ? `status=${status}&` : ''}limit=${LIST_LIMIT}`;
    const answer = await ctx.api.get(path);
    if (!Array.isArray(answer)) throw new RequestFailed(`GET ${path}: unexpected answer (not an array)`);
    return {
      // Items that are not evaluation jobs are left out, but still count towards a full page.
      jobs: answer.map((item) => evaluationJob(item, ctx)).filter((j): j is EvaluationJob => j !== undefined),
      full: answer.length >= LIST_LIMIT,
    };
  }

  get(ctx: PollContext, id: string): Promise<EvaluationJob | undefined> {
    return getById(ctx, '/evaluation', id, evaluationJob, 'evaluation job');
  }

  async finish(ctx: PollContext, job: EvaluationJob): Promise<void> {
    if (job.status === 'completed') {
      await ctx.deliver('evaluation.completed', job.updatedAt, { workflow_id: job.id, ...summarize(job) });
      return;
    }
    const error = typeof job.results?.error === 'string' ? job.results.error : undefined;
    await ctx.deliver('evaluation.failed', job.updatedAt, {
      workflow_id: job.id,
      status: job.status,
      error_message: (error || job.lastMessage || `evaluation ended with status ${job.status}`).slice(
        0,
        MAX_ERROR_MESSAGE,
      ),
    });
  }
}

/**
 * True when `page`, newest first, reaches back to `since`: its oldest job was created then or before, so every job
 * created since is on it. A page out of order, or with a creation time that does not parse, proves nothing.
 */
export function reachesBack(page: readonly EvaluationJob[], since: number): boolean {
  for (let i = 0; i < page.length; i++) {
    if (!Number.isFinite(page[i].created)) return false;
    if (i > 0 && page[i].created > page[i - 1].created) return false;
  }
  return page.length > 0 && page[page.length - 1].created <= since;
}
