import { isObject, nonEmptyString } from '../../shared/guards';
import { RequestFailed } from '../api';
import { JobSource, ListedJob, Listing, PollContext } from '../tracker';
import { eventTime, getById, pastTime, ReadAt } from './common';

/**
 * Your RL training sessions (opt-in): `GET /rl/training-sessions` lists them (paged: `limit` 1-100, `after` the
 * previous page's `meta.next_cursor`, in an order the spec does not state, so every page is read, at most
 * MAX_PAGES a poll); `GET /rl/training-sessions/{id}` finds a followed one the listing dropped. A session ends once:
 * STOPPED is `rl_session.stopped`, ERROR or EXPIRED `rl_session.failed`, dated by its `updated_at`; CREATING,
 * RUNNING, STOPPING, UNSPECIFIED or a status Together adds are still running.
 */

const PREFIX = 'TRAINING_SESSION_STATUS_';
const FAILED = new Set(['ERROR', 'EXPIRED']);
const ENDED = new Set(['STOPPED', ...FAILED]);
/** The spec's largest page. */
export const PAGE_LIMIT = 100;
/** Pages read a poll at most (2,000 sessions); more, and the listing is reported incomplete. */
export const MAX_PAGES = 20;

export interface RlSession extends ListedJob {
  readonly baseModel: string;
  readonly updatedAt?: string;
}

/** The status without the spec's prefix: `STOPPED`. */
const short = (status: string) => (status.startsWith(PREFIX) ? status.slice(PREFIX.length) : status);

export function rlSession(item: unknown, read: ReadAt): RlSession | undefined {
  if (!isObject(item) || typeof item.id !== 'string' || item.id === '' || typeof item.status !== 'string')
    return undefined;
  return {
    id: item.id,
    status: item.status,
    terminal: ENDED.has(short(item.status)),
    at: pastTime(item.updated_at, read.now),
    endedBy: NaN,
    baseModel: typeof item.base_model === 'string' ? item.base_model : '',
    updatedAt: eventTime(item.updated_at, read.now),
  };
}

export class RlSessionSource implements JobSource<RlSession> {
  readonly name = 'rl-sessions';

  async list(ctx: PollContext): Promise<Listing<RlSession>> {
    const jobs: RlSession[] = [];
    const cursors = new Set<string>();
    let after: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const query = `limit=${PAGE_LIMIT}${after === undefined ? '' : `&after=${encodeURIComponent(after)}`}`;
      const answer = await ctx.api.get(`/rl/training-sessions?${query}`);
      if (!isObject(answer) || !Array.isArray(answer.data))
        throw new RequestFailed('GET /rl/training-sessions: unexpected answer (no data array)');
      jobs.push(...answer.data.map((item) => rlSession(item, ctx)).filter((s): s is RlSession => !!s));
      const meta = isObject(answer.meta) ? answer.meta : {};
      if (meta.has_more !== true) return { jobs };
      // The spec makes next_cursor optional and defines `after` as the last session's id: that is the fallback.
      const last: unknown = answer.data[answer.data.length - 1];
      const next = nonEmptyString(meta.next_cursor) ?? (isObject(last) ? nonEmptyString(last.id) : undefined);
      if (next === undefined)
        return { jobs, incomplete: 'GET /rl/training-sessions: more pages, but no cursor to read them with' };
      if (cursors.has(next))
        return { jobs, incomplete: `GET /rl/training-sessions: the cursor ${JSON.stringify(next)} repeats` };
      cursors.add(next);
      after = next;
    }
    return { jobs, incomplete: `GET /rl/training-sessions: more than ${MAX_PAGES} pages of ${PAGE_LIMIT}` };
  }

  get(ctx: PollContext, id: string): Promise<RlSession | undefined> {
    return getById(ctx, '/rl/training-sessions', id, rlSession, 'training session');
  }

  async finish(ctx: PollContext, s: RlSession): Promise<void> {
    const status = short(s.status);
    const data = { session_id: s.id, base_model: s.baseModel };
    if (FAILED.has(status)) await ctx.deliver('rl_session.failed', s.updatedAt, { ...data, status });
    else await ctx.deliver('rl_session.stopped', s.updatedAt, data);
  }
}
