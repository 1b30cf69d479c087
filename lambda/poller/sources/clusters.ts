import { isObject } from '../../shared/guards';
import { RequestFailed } from '../api';
import { FollowedJob } from '../state';
import { JobSource, ListedJob, Listing, ListRequest, PollContext } from '../tracker';
import { getById, iso } from './common';

/**
 * Your GPU clusters (opt-in): `GET /compute/clusters` lists them all (unpaginated), `GET /compute/clusters/{id}`
 * finds a followed one the listing dropped. One event per transition: each time a cluster is seen entering Ready
 * (`cluster.ready`) or Degraded (`cluster.degraded`) from any other state, so Ready -> Degraded -> Ready is three
 * events; a cluster that stays in its state publishes nothing more. A cluster has no end until Deleting: each one
 * listed is followed (its state read from the listing, no request of its own) until it is Deleting or Together no
 * longer knows it. What the first listing shows is the baseline: a cluster already Ready or Degraded then publishes
 * nothing until it leaves that state and enters one of them again. Together dates a cluster by nothing: the transition is
 * named by `since`, the last poll that looked at the cluster before it (for a new one, the last listing saved before
 * it was first seen), and a change and its reverse between two polls are not seen.
 */

/** The states a transition into is an outcome. */
const NOTABLE = new Set(['Ready', 'Degraded']);

export interface Cluster extends ListedJob {
  readonly name: string;
  readonly clusterType: string;
  readonly gpuType: string;
  readonly region: string;
  readonly numGpus: number | null;
}

export function cluster(item: unknown): Cluster | undefined {
  if (
    !isObject(item) ||
    typeof item.cluster_id !== 'string' ||
    item.cluster_id === '' ||
    typeof item.status !== 'string'
  )
    return undefined;
  const text = (v: unknown) => (typeof v === 'string' ? v : '');
  return {
    id: item.cluster_id,
    status: item.status,
    // Only Deleting ends a cluster: every other state may still change into Ready or Degraded.
    terminal: item.status === 'Deleting',
    at: NaN,
    endedBy: NaN,
    name: text(item.cluster_name),
    clusterType: text(item.cluster_type),
    gpuType: text(item.gpu_type),
    region: text(item.region),
    numGpus:
      Number.isInteger(item.num_gpus) && (item.num_gpus as number) >= 0 ? (item.num_gpus as number) : null,
  };
}

export class ClusterSource implements JobSource<Cluster> {
  readonly name = 'clusters';

  async list(ctx: PollContext): Promise<Listing<Cluster>> {
    const answer = await ctx.api.get('/compute/clusters');
    if (!isObject(answer) || !Array.isArray(answer.clusters))
      throw new RequestFailed('GET /compute/clusters: unexpected answer (no clusters array)');
    return { jobs: answer.clusters.map(cluster).filter((c): c is Cluster => c !== undefined) };
  }

  get(ctx: PollContext, id: string): Promise<Cluster | undefined> {
    return getById(ctx, '/compute/clusters', id, cluster, 'cluster');
  }

  /** Deleting: the cluster's end, no event. */
  async finish(ctx: PollContext, c: Cluster): Promise<void> {
    ctx.log({ message: 'cluster deleting: no longer followed', clusterId: c.id, state: c.status });
  }

  progressIsListed(): boolean {
    return true;
  }

  /**
   * What the first listing shows is the baseline: a cluster already Ready or Degraded then entered it before. A
   * cluster new since then is named by the last saved listing (`listing.since`): a poll that dies after publishing
   * it recomputes the same value, where its own time would be lost with it.
   */
  startFollowing(c: Cluster, followed: FollowedJob, listing: ListRequest): void {
    if (listing.first && NOTABLE.has(c.status)) followed.endedAs = c.status;
    if (!listing.first) followed.since = iso(listing.since);
  }

  /**
   * `followed.endedAs` holds the state whose transition was delivered (or is the baseline). A transition is named by
   * the last poll that looked at the cluster before it (`visited`, saved by an earlier poll: a poll that dies after
   * publishing and before saving its state names it the same way again), or, for a cluster never visited, the last
   * listing saved before it was first seen (`followed.since`; when first seen, for one of the first listing).
   */
  async progress(ctx: PollContext, c: Cluster, followed: FollowedJob): Promise<void> {
    if (c.status === followed.endedAs || !NOTABLE.has(c.status)) {
      if (c.status !== followed.endedAs) delete followed.endedAs; // left it: entering it again is a transition
      delete followed.since; // visited from now on
      return;
    }
    // A delivery deferred or stopped leaves `visited` as it was: every retry names the transition the same way.
    const since =
      followed.visited !== undefined ? iso(followed.visited) : (followed.since ?? iso(followed.seen));
    const data = {
      cluster_id: c.id,
      cluster_name: c.name,
      cluster_type: c.clusterType,
      gpu_type: c.gpuType,
      region: c.region,
      num_gpus: c.numGpus,
      since,
    };
    await ctx.deliver(c.status === 'Ready' ? 'cluster.ready' : 'cluster.degraded', undefined, data);
    followed.endedAs = c.status;
    delete followed.since;
  }
}
