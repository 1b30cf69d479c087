import { createHash } from 'node:crypto';
import { isObject } from '../../shared/guards';
import { RequestFailed } from '../api';
import { FollowedJob } from '../state';
import { JobSource, ListedJob, Listing, ListRequest, PollContext } from '../tracker';
import { eventTime, getById, iso, pastTime, ReadAt } from './common';

/**
 * Your custom container deployments (opt-in): `GET /deployments` lists them all, `GET /deployments/{id}` finds a
 * followed one the listing dropped. A deployment has no end: each one listed is followed (its state read from the
 * listing, no request of its own) until Together no longer knows it, and each transition into `Ready` or `Failed`
 * is one outcome (`deployment.ready`, `deployment.failed`), named by `since`:
 *  - seen `Updating` or `Scaling` (or a status Together adds), then settled: when the poller first saw it change;
 *  - found settled in another state than its last outcome (Ready -> Failed between two polls), or in the same state
 *    with another definition (a new image rolled out between two polls), or new since the last listing: its
 *    `updated_at` (for a new one Together gives none for, the last listing saved before it was first seen).
 * A deployment that stays in its state with the same definition publishes nothing, whatever its replicas or
 * `updated_at` do. What the first listing shows is the baseline, unless it settled within the first run's lookback.
 */

const SETTLED = new Set(['Ready', 'Failed']);

/** What a redeploy changes; replicas, status and times move without one. */
const DEFINITION = [
  'image',
  'command',
  'args',
  'environment_variables',
  'volumes',
  'port',
  'health_check_path',
  'gpu_type',
  'gpu_count',
  'cpu',
  'memory',
  'storage',
  'min_replicas',
  'max_replicas',
  'autoscaling',
] as const;

export interface Deployment extends ListedJob {
  readonly name: string;
  readonly image: string | null;
  readonly readyReplicas: number | null;
  readonly desiredReplicas: number | null;
  /** `updated_at` as an event carries it; undefined when Together gave no real time. */
  readonly updatedAt?: string;
  /** A digest of its definition: never the values themselves (environment variables may hold secrets). */
  readonly definition: string;
}

const count = (v: unknown): number | null =>
  Number.isInteger(v) && (v as number) >= 0 ? (v as number) : null;

function digest(item: Record<string, unknown>): string {
  const parts = DEFINITION.map((key) => [key, item[key] ?? null]);
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 24);
}

export function deployment(item: unknown, read: ReadAt): Deployment | undefined {
  if (!isObject(item) || typeof item.id !== 'string' || item.id === '' || typeof item.status !== 'string')
    return undefined;
  return {
    id: item.id,
    status: item.status,
    // Never ends: a settled deployment may be updated and settle again.
    terminal: false,
    at: pastTime(item.updated_at, read.now),
    endedBy: NaN,
    name: typeof item.name === 'string' ? item.name : '',
    image: typeof item.image === 'string' ? item.image : null,
    readyReplicas: count(item.ready_replicas),
    desiredReplicas: count(item.desired_replicas),
    updatedAt: eventTime(item.updated_at, read.now),
    definition: digest(item),
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

  get(ctx: PollContext, id: string): Promise<Deployment | undefined> {
    return getById(ctx, '/deployments', id, deployment, 'deployment');
  }

  /** Never called: no deployment is terminal. */
  async finish(): Promise<void> {}

  progressIsListed(): boolean {
    return true;
  }

  /**
   * The baseline: settled before the first run's lookback, so its outcome is history. One new since the first
   * listing, settled and undated, is named by the last saved listing (`listing.since`): a poll that dies after
   * publishing it recomputes the same value, where its own time would be lost with it.
   */
  startFollowing(d: Deployment, followed: FollowedJob, listing: ListRequest): void {
    if (listing.first && SETTLED.has(d.status) && !(d.at >= listing.since)) settled(followed, d);
    if (!listing.first && SETTLED.has(d.status) && d.updatedAt === undefined)
      followed.since = iso(listing.since);
  }

  async progress(ctx: PollContext, d: Deployment, followed: FollowedJob): Promise<void> {
    if (!SETTLED.has(d.status)) {
      // Changing: its outcome is named by the first poll that saw it so.
      delete followed.endedAs;
      followed.since ??= iso(ctx.now);
      return;
    }
    if (followed.endedAs === d.status && followed.definition === d.definition) return;
    // Settled into a new state or definition: named once, so a retry (even after updated_at moved) keeps its key.
    followed.since ??= d.updatedAt ?? iso(followed.visited ?? followed.seen);
    const data = {
      deployment_id: d.id,
      deployment_name: d.name,
      image: d.image,
      ready_replicas: d.readyReplicas,
      desired_replicas: d.desiredReplicas,
      since: followed.since,
    };
    await ctx.deliver(d.status === 'Ready' ? 'deployment.ready' : 'deployment.failed', undefined, data);
    settled(followed, d);
  }
}

function settled(followed: FollowedJob, d: Deployment): void {
  followed.endedAs = d.status;
  followed.definition = d.definition;
  delete followed.since;
}
