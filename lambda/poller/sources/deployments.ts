import { isObject } from '../../shared/guards';
import { RequestFailed } from '../api';
import { FollowedJob } from '../state';
import { JobSource, ListedJob, Listing, PollContext } from '../tracker';
import { eventTime, iso, notThatJob, pastTime, ReadAt } from './common';

/**
 * Your custom container deployments (opt-in): `GET /deployments` lists them, `GET /deployments/{id}` finds a
 * followed one the listing dropped. Each transition into `Ready` or `Failed` is an outcome (`deployment.ready`,
 * `deployment.failed`), named by `since`: a deployment seen `Updating` or `Scaling` (or in a status Together adds)
 * is followed, and its episode is named by when the poller first saw it so; one seen `Ready` or `Failed` whose
 * `updated_at` is after the last listing, never seen in between, changed between two polls and is named by that
 * `updated_at`. So Ready -> Updating -> Ready seen by the poller is two `deployment.ready`; the same between two
 * polls is one, dated by the change. A deployment that stays Ready publishes nothing, whatever its replicas do.
 */

const SETTLED = new Set(['Ready', 'Failed']);

export interface Deployment extends ListedJob {
  readonly name: string;
  readonly image: string | null;
  readonly readyReplicas: number | null;
  readonly desiredReplicas: number | null;
  /** `updated_at` as an event carries it; undefined when Together gave no real time. */
  readonly updatedAt?: string;
}

const count = (v: unknown): number | null =>
  Number.isInteger(v) && (v as number) >= 0 ? (v as number) : null;

export function deployment(item: unknown, read: ReadAt): Deployment | undefined {
  if (!isObject(item) || typeof item.id !== 'string' || item.id === '' || typeof item.status !== 'string')
    return undefined;
  return {
    id: item.id,
    status: item.status,
    terminal: SETTLED.has(item.status),
    at: pastTime(item.updated_at, read.now),
    endedBy: NaN,
    name: typeof item.name === 'string' ? item.name : '',
    image: typeof item.image === 'string' ? item.image : null,
    readyReplicas: count(item.ready_replicas),
    desiredReplicas: count(item.desired_replicas),
    updatedAt: eventTime(item.updated_at, read.now),
  };
}

export class DeploymentSource implements JobSource<Deployment> {
  readonly name = 'deployments';

  async list(ctx: PollContext): Promise<Listing<Deployment>> {
    const answer = await ctx.api.get('/deployments');
    if (!isObject(answer) || !Array.isArray(answer.data))
      throw new RequestFailed('GET /deployments: unexpected answer (no data array)');
    // Unpaginated: every deployment of the project in one answer.
    return {
      jobs: answer.data.map((item) => deployment(item, ctx)).filter((d): d is Deployment => d !== undefined),
    };
  }

  async get(ctx: PollContext, id: string): Promise<Deployment | undefined> {
    const path = `/deployments/${encodeURIComponent(id)}`;
    const answer = await ctx.api.get(path, { value: undefined });
    if (answer === undefined) return undefined;
    const found = deployment(answer, ctx);
    if (!found || found.id !== id) throw notThatJob(path, found, 'deployment');
    return found;
  }

  async finish(ctx: PollContext, d: Deployment, followed: FollowedJob): Promise<void> {
    // Seen changing (observed, so `changed` is set): the episode the poller watched. Never seen changing: the one
    // its `updated_at` dates; a retry of its delivery (followed since, without `changed`) names the same outcome.
    const since = followed.changed !== undefined ? iso(followed.seen) : (d.updatedAt ?? iso(followed.seen));
    const data = {
      deployment_id: d.id,
      deployment_name: d.name,
      image: d.image,
      ready_replicas: d.readyReplicas,
      desired_replicas: d.desiredReplicas,
      since,
    };
    if (d.status === 'Ready') await ctx.deliver('deployment.ready', undefined, data);
    else await ctx.deliver('deployment.failed', undefined, data);
  }
}
