import { PollerDeps } from '../../../../lambda/poller/core';
import { TOGETHER_ERROR } from '../../../support/fake-together';
import { pollerHarness } from '../../../support/poller-harness';
import { gpuCluster, iso, MINUTE, rlTrainingSession, T0 } from '../../../support/together-fixtures';

/** Issue 19: GPU clusters followed by the poller; one event per transition into Ready or Degraded. */

const h = pollerHarness();
const { together, clock } = h;
const withClusters = (overrides: Partial<PollerDeps> = {}) => h.withSources({ clusters: true }, overrides);

const pollAt = (ms: number, deps = withClusters()) => h.pollAt(ms, deps);

function setStatus(id: string, status: string) {
  together.jobs.clusters.find((c) => c.cluster_id === id)!.status = status;
}

test('provisioning -> Ready is one cluster.ready; unchanged polls add nothing; Degraded, then Ready again, one each', async () => {
  together.jobs.clusters = [gpuCluster('cluster-a', 'WaitingForControlPlaneNodes')];
  await pollAt(T0);
  setStatus('cluster-a', 'InstallingDrivers');
  await pollAt(T0 + MINUTE);
  setStatus('cluster-a', 'RunningAcceptanceTests');
  await pollAt(T0 + 2 * MINUTE);
  expect(h.keys()).toEqual([]);
  setStatus('cluster-a', 'Ready');
  for (let i = 3; i <= 6; i++) await pollAt(T0 + i * MINUTE); // Ready at 3, unchanged at 4..6
  expect(h.keys()).toEqual([`cluster.ready:cluster-a:${iso(T0 + 2 * MINUTE)}`]);
  setStatus('cluster-a', 'Degraded');
  await pollAt(T0 + 7 * MINUTE);
  await pollAt(T0 + 8 * MINUTE);
  setStatus('cluster-a', 'Ready');
  await pollAt(T0 + 9 * MINUTE);
  await pollAt(T0 + 10 * MINUTE);
  expect(h.keys()).toEqual([
    `cluster.ready:cluster-a:${iso(T0 + 2 * MINUTE)}`,
    `cluster.degraded:cluster-a:${iso(T0 + 6 * MINUTE)}`,
    `cluster.ready:cluster-a:${iso(T0 + 8 * MINUTE)}`,
  ]);
  const [ready, degraded] = h.published();
  expect(ready.type).toBe('cluster.ready');
  expect(ready.detail.data).toEqual({
    cluster_id: 'cluster-a',
    cluster_name: 'cluster-er-a',
    cluster_type: 'KUBERNETES',
    gpu_type: 'H100_SXM',
    region: 'us-central-8',
    num_gpus: 8,
    since: iso(T0 + 2 * MINUTE),
  });
  expect(degraded.type).toBe('cluster.degraded');
  h.expectFaithful();
});

test('what the first listing shows is the baseline; a cluster first seen Ready later is a transition', async () => {
  together.jobs.clusters = [gpuCluster('cluster-old', 'Ready'), gpuCluster('cluster-bad', 'Degraded')];
  await pollAt(T0);
  await pollAt(T0 + MINUTE);
  expect(h.keys()).toEqual([]);
  together.jobs.clusters.push(gpuCluster('cluster-new', 'Ready'));
  setStatus('cluster-bad', 'Ready');
  await pollAt(T0 + 2 * MINUTE);
  expect(h.keys().sort()).toEqual([
    `cluster.ready:cluster-bad:${iso(T0 + MINUTE)}`,
    // Named by the last listing saved before it was seen (a poll killed after publishing recomputes it), not T0 + 2m.
    `cluster.ready:cluster-new:${iso(T0 + MINUTE)}`,
  ]);
});

test('Ready -> Paused -> Ready is two transitions into Ready; Deleting ends the cluster without an event', async () => {
  together.jobs.clusters = [gpuCluster('cluster-p', 'InstallingDrivers')];
  await pollAt(T0);
  setStatus('cluster-p', 'Ready');
  await pollAt(T0 + MINUTE);
  setStatus('cluster-p', 'Paused');
  await pollAt(T0 + 2 * MINUTE);
  setStatus('cluster-p', 'Ready');
  await pollAt(T0 + 3 * MINUTE);
  setStatus('cluster-p', 'Deleting');
  await pollAt(T0 + 4 * MINUTE);
  await pollAt(T0 + 5 * MINUTE);
  expect(h.keys()).toEqual([
    `cluster.ready:cluster-p:${iso(T0)}`,
    `cluster.ready:cluster-p:${iso(T0 + 2 * MINUTE)}`,
  ]);
});

test('a poll that dies after publishing, before saving its state: the next one names the same transition', async () => {
  together.jobs.clusters = [gpuCluster('cluster-k', 'InstallingDrivers')];
  await pollAt(T0);
  setStatus('cluster-k', 'Ready');
  const dying = h.killedBeforeSave(withClusters());
  await pollAt(T0 + MINUTE, dying).catch(() => undefined);
  expect(h.keys()).toEqual([`cluster.ready:cluster-k:${iso(T0)}`]);
  // State reloaded as the first poll left it: the cluster still InstallingDrivers, the transition not delivered.
  await pollAt(T0 + 3 * MINUTE);
  await pollAt(T0 + 4 * MINUTE);
  expect(h.keys()).toEqual([`cluster.ready:cluster-k:${iso(T0)}`]);
});

test('a followed cluster the listing drops is asked for by id; one Together no longer knows (404) is dropped once', async () => {
  together.jobs.clusters = [
    gpuCluster('cluster-d', 'InstallingDrivers'),
    gpuCluster('cluster-gone', 'Ready'),
  ];
  await pollAt(T0);
  together.jobs.unlisted.add('cluster-d');
  setStatus('cluster-d', 'Ready');
  together.jobs.clusters = together.jobs.clusters.filter((c) => c.cluster_id !== 'cluster-gone');
  await pollAt(T0 + MINUTE);
  // Asked for by id, cluster-d is seen Ready: published, named by the last poll that saw it before.
  expect(h.keys()).toEqual([`cluster.ready:cluster-d:${iso(T0)}`]);
  await pollAt(T0 + 2 * MINUTE);
  await pollAt(T0 + 3 * MINUTE);
  expect(together.requests.filter((r) => r.path === '/v1/compute/clusters/cluster-gone')).toHaveLength(1);
  expect(h.logs.filter((l) => l.jobId === 'cluster-gone')).toMatchObject([
    {
      level: 'WARN',
      message: 'followed job no longer known to Together: no longer followed',
      source: 'clusters',
    },
  ]);
  together.jobs.unlisted.delete('cluster-d');
  await pollAt(T0 + 4 * MINUTE);
  expect(h.keys()).toEqual([`cluster.ready:cluster-d:${iso(T0)}`]);
  h.expectFaithful();
});

test('a failing answer costs only its cluster: the others are published, it is retried next poll', async () => {
  together.jobs.clusters = [
    gpuCluster('cluster-x', 'InstallingDrivers'),
    gpuCluster('cluster-y', 'InstallingDrivers'),
  ];
  await pollAt(T0);
  together.jobs.unlisted.add('cluster-x');
  together.jobs.unlisted.add('cluster-y');
  setStatus('cluster-x', 'Ready');
  setStatus('cluster-y', 'Ready');
  const failing = Array.from({ length: 10 }, () => ({
    status: 503,
    body: TOGETHER_ERROR('unavailable', 'server_error'),
  }));
  together.script('GET', /\/compute\/clusters\/cluster-x$/, ...failing);
  const second = await pollAt(T0 + MINUTE);
  expect(second).toMatchObject({ errors: 1 });
  expect(h.keys()).toEqual([`cluster.ready:cluster-y:${iso(T0)}`]);
  together.jobs.unlisted.clear();
  await pollAt(T0 + 2 * MINUTE);
  await pollAt(T0 + 3 * MINUTE);
  // The failed request was the last look at cluster-x before it was seen Ready: that names its transition.
  expect(h.keys()).toEqual([
    `cluster.ready:cluster-y:${iso(T0)}`,
    `cluster.ready:cluster-x:${iso(T0 + MINUTE)}`,
  ]);
});

test('off unless asked for: the default poller never calls /compute/clusters', async () => {
  together.jobs.clusters = [gpuCluster('cluster-o', 'Ready')];
  clock.t = T0;
  await h.runPoll();
  clock.t = T0 + MINUTE;
  await h.runPoll();
  expect(together.requests.filter((r) => r.path.startsWith('/v1/compute'))).toEqual([]);
});

test('a transition whose first delivery went unconfirmed keeps its outcome key on every retry', async () => {
  together.jobs.clusters = [gpuCluster('cluster-u', 'InstallingDrivers')];
  await pollAt(T0);
  setStatus('cluster-u', 'Degraded');
  h.bus.nextPutEvents(Object.assign(new Error('socket timed out'), { name: 'TimeoutError' }));
  await pollAt(T0 + MINUTE);
  await pollAt(T0 + 5 * MINUTE);
  await pollAt(T0 + 6 * MINUTE);
  expect(new Set(h.keys())).toEqual(new Set([`cluster.degraded:cluster-u:${iso(T0)}`]));
});

test('a transition EventBridge refused is retried under the same key, even after a later poll looked at it', async () => {
  together.jobs.clusters = [gpuCluster('cluster-r', 'InstallingDrivers')];
  await pollAt(T0);
  setStatus('cluster-r', 'Ready');
  h.bus.nextPutEvents({
    FailedEntryCount: 1,
    Entries: [{ ErrorCode: 'InternalFailure', ErrorMessage: 'try again' }],
  });
  await pollAt(T0 + MINUTE);
  await pollAt(T0 + 2 * MINUTE);
  await pollAt(T0 + 3 * MINUTE);
  const key = `cluster.ready:cluster-r:${iso(T0)}`;
  expect(h.keys()).toEqual([key, key]); // the refused one, then the one EventBridge took
});

test('the baseline holds when the first poll stops before its follow phase (another source stopped it)', async () => {
  together.jobs.clusters = [gpuCluster('cluster-b', 'Ready')];
  together.jobs.rlSessions = [rlTrainingSession('rl-1', 'STOPPED', T0 - MINUTE)];
  h.bus.nextPutEvents({
    FailedEntryCount: 1,
    Entries: [{ ErrorCode: 'InternalFailure', ErrorMessage: 'try again' }],
  });
  const both = () =>
    h.deps({ config: { ...h.deps().config, sources: { clusters: true, rlSessions: true } } });
  const first = await pollAt(T0, both());
  expect(first.stoppedBy).toBe('delivery'); // the fault fired: the poll stopped before following clusters
  await pollAt(T0 + MINUTE, both());
  await pollAt(T0 + 2 * MINUTE, both());
  expect(h.keys().filter((k) => k.startsWith('cluster.'))).toEqual([]);
  expect(h.keys()).toEqual(['rl_session.stopped:rl-1', 'rl_session.stopped:rl-1']); // refused, then taken
});

test('a cluster created between two polls, found Ready by a poll killed before its save, keeps its key (the last saved listing names it)', async () => {
  together.jobs.clusters = [gpuCluster('cluster-a', 'Ready')];
  await pollAt(T0); // the baseline
  together.jobs.clusters.push(gpuCluster('cluster-b', 'Ready')); // created between two polls
  await pollAt(T0 + MINUTE, h.killedBeforeSave(withClusters())).catch(() => undefined);
  await pollAt(T0 + 2 * MINUTE);
  await pollAt(T0 + 3 * MINUTE);
  h.expectFaithful();
  expect(h.keys()).toEqual([`cluster.ready:cluster-b:${iso(T0)}`]);
});
