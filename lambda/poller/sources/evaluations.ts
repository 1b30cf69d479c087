import { RequestFailed } from '../api';
import { JobSource, ListedJob, PollContext } from '../tracker';
import { eventTime, isObject, notThatJob, MAX_ERROR_MESSAGE, pastTime, ReadAt } from './common';

/**
 * Evaluation jobs (opt-in): `GET /evaluation?limit=100` lists the newest, `GET /evaluation/{id}` finds a followed
 * one that fell off the list. One outcome each: `evaluation.completed` with a summary of its results, or
 * `evaluation.failed` with Together's message.
 */

const TERMINAL = new Set(['completed', 'error', 'user_error']);
/** Together lists 10 by default; a followed job beyond this is asked for by id. */
const LIST_LIMIT = 100;

export interface EvaluationJob extends ListedJob {
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

  async list(ctx: PollContext): Promise<EvaluationJob[]> {
    const answer = await ctx.api.get(`/evaluation?limit=${LIST_LIMIT}`);
    if (!Array.isArray(answer)) throw new RequestFailed('GET /evaluation: unexpected answer (not an array)');
    return answer.map((item) => evaluationJob(item, ctx)).filter((j): j is EvaluationJob => j !== undefined);
  }

  async get(ctx: PollContext, id: string): Promise<EvaluationJob | undefined> {
    const path = `/evaluation/${encodeURIComponent(id)}`;
    const answer = await ctx.api.get(path, { value: undefined });
    if (answer === undefined) return undefined;
    const job = evaluationJob(answer, ctx);
    if (!job || job.id !== id) throw notThatJob(path, job, 'evaluation job');
    return job;
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
