import { isObject } from '../../shared/guards';
import { RequestFailed } from '../api';
import { FollowedJob } from '../state';
import { JobSource, ListedJob, Listing, PollContext } from '../tracker';
import { eventTime, getById, iso, pastTime, ReadAt } from './common';

/**
 * Your dedicated endpoints (opt-in): `GET /endpoints?type=dedicated&mine=true` lists them, `GET /endpoints/{id}`
 * finds a followed one the listing dropped. Each start is an outcome: an endpoint seen PENDING or STARTING is
 * followed until it is STARTED (`endpoint.ready`) or in ERROR (`endpoint.failed`); stopped or stopping first, it
 * publishes nothing; a state Together adds is read as still starting. The episode is named by `since`: when the
 * poller first saw it starting, or, for one that started between two polls, its `created_at`. Together dates an endpoint by its creation only, so one that
 * restarts and is ready again between two polls is not seen.
 */

/** Where a start ends; any other state (the spec's PENDING and STARTING, or one Together adds) is still starting. */
const ENDED = new Set(['STARTED', 'ERROR', 'STOPPING', 'STOPPED']);

export interface Endpoint extends ListedJob {
  readonly name: string;
  readonly model: string;
  /** `created_at` as an event carries it; undefined when Together gave no real time. */
  readonly createdAt?: string;
}

export function endpoint(item: unknown, read: ReadAt): Endpoint | undefined {
  if (!isObject(item) || typeof item.id !== 'string' || item.id === '' || typeof item.state !== 'string')
    return undefined;
  return {
    id: item.id,
    status: item.state,
    terminal: ENDED.has(item.state),
    at: pastTime(item.created_at, read.now),
    endedBy: NaN,
    name: typeof item.name === 'string' ? item.name : '',
    model: typeof item.model === 'string' ? item.model : '',
    createdAt: eventTime(item.created_at, read.now),
  };
}

export class EndpointSource implements JobSource<Endpoint> {
  readonly name = 'endpoints';

  async list(ctx: PollContext): Promise<Listing<Endpoint>> {
    const answer = await ctx.api.get('/endpoints?type=dedicated&mine=true');
    if (!isObject(answer) || !Array.isArray(answer.data))
      throw new RequestFailed('GET /endpoints: unexpected answer (no data array)');
    // Unpaginated: every endpoint of the account in one answer.
    return {
      jobs: answer.data.map((item) => endpoint(item, ctx)).filter((e): e is Endpoint => e !== undefined),
    };
  }

  get(ctx: PollContext, id: string): Promise<Endpoint | undefined> {
    return getById(ctx, '/endpoints', id, endpoint, 'endpoint');
  }

  async finish(ctx: PollContext, e: Endpoint, followed: FollowedJob): Promise<void> {
    // A start seen ending whose event is not out yet stays an outcome, even if the endpoint stopped since.
    const ended = e.status === 'STARTED' || e.status === 'ERROR' ? e.status : followed.endedAs;
    if (ended === undefined) {
      ctx.log({ message: 'endpoint left starting without an outcome', endpointId: e.id, state: e.status });
      return;
    }
    // Seen starting (observed, so `changed` is set): the start the poller watched. Never seen starting: the one its
    // creation began; a retry of its delivery (followed since, without `changed`) must name the same outcome.
    const since = followed.changed !== undefined ? iso(followed.seen) : (e.createdAt ?? iso(followed.seen));
    const data = { endpoint_id: e.id, endpoint_name: e.name, model: e.model };
    followed.endedAs = ended;
    if (ended === 'STARTED') await ctx.deliver('endpoint.ready', undefined, { ...data, since });
    else await ctx.deliver('endpoint.failed', undefined, { ...data, state: ended, since });
  }
}
