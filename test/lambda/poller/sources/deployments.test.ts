import { EVENT_CATALOGUE } from '../../../../lib/events';
import { PollerDeps } from '../../../../lambda/poller/core';
import { TOGETHER_ERROR } from '../../../support/fake-together';
import { pollerHarness } from '../../../support/poller-harness';
import { deployment, HOUR, iso, MINUTE, rlTrainingSession, T0 } from '../../../support/together-fixtures';

/**
 * Issue 19: custom container deployments (GET /deployments) followed by the poller, with `deployments` on. The rule:
 * one event per transition into Ready or Failed, named by `since` (when the poller first saw it Updating or
 * Scaling, or, for a change between two polls, its updated_at); a stay in its state with the same definition
 * (image, resources, ...) publishes nothing, whatever its replicas or updated_at do.
 */

const h = pollerHarness();
const { together, clock } = h;
const withDeployments = (more: Partial<PollerDeps> = {}) => h.withSources({ deployments: true }, more);

const pollAt = (ms: number, deps = withDeployments()) => h.pollAt(ms, deps);

function move(id: string, status: string, at: number, readyReplicas?: number) {
  const d = together.jobs.deployments.find((x) => x.id === id)!;
  Object.assign(d, deployment(id, status, at, { readyReplicas }));
}

test('Updating -> Scaling -> Ready is one deployment.ready; another Updating -> Failed one deployment.failed', async () => {
  together.jobs.deployments = [
    deployment('dep-a', 'Updating', T0 - MINUTE),
    deployment('dep-b', 'Updating', T0 - MINUTE),
  ];
  await pollAt(T0);
  move('dep-a', 'Scaling', T0 + 30_000, 1);
  await pollAt(T0 + MINUTE);
  expect(h.keys()).toEqual([]);
  move('dep-a', 'Ready', T0 + 90_000);
  move('dep-b', 'Failed', T0 + 100_000);
  await pollAt(T0 + 2 * MINUTE);
  // Unchanged: nothing more, however often listed.
  await pollAt(T0 + 3 * MINUTE);
  await pollAt(T0 + 2 * HOUR);
  expect(h.keys().sort()).toEqual([
    `deployment.failed:dep-b:${iso(T0)}`,
    `deployment.ready:dep-a:${iso(T0)}`,
  ]);
  const byType = Object.fromEntries(h.published().map((p) => [p.type, p.detail.data]));
  expect(byType['deployment.ready']).toEqual({
    deployment_id: 'dep-a',
    deployment_name: 'dep-a-name',
    image: 'registry.together.ai/acme/server:1.2',
    ready_replicas: 2,
    desired_replicas: 2,
    since: iso(T0),
  });
  expect(byType['deployment.failed']).toMatchObject({ deployment_id: 'dep-b', ready_replicas: 0 });
  expect(EVENT_CATALOGUE['deployment.failed']).toHaveProperty('alert');
  expect(EVENT_CATALOGUE['deployment.ready']).not.toHaveProperty('alert');
  h.expectFaithful();
});

test('Ready -> Updating -> Ready seen by the poller is two deployment.ready, each named by its episode', async () => {
  together.jobs.deployments = [deployment('dep-r', 'Updating', T0 - MINUTE)];
  await pollAt(T0);
  move('dep-r', 'Ready', T0 + 30_000);
  await pollAt(T0 + MINUTE);
  move('dep-r', 'Updating', T0 + 4 * MINUTE);
  await pollAt(T0 + 5 * MINUTE);
  await pollAt(T0 + 6 * MINUTE);
  move('dep-r', 'Ready', T0 + 6 * MINUTE + 30_000);
  await pollAt(T0 + 7 * MINUTE);
  await pollAt(T0 + 8 * MINUTE);
  expect(h.keys()).toEqual([
    `deployment.ready:dep-r:${iso(T0)}`,
    `deployment.ready:dep-r:${iso(T0 + 5 * MINUTE)}`,
  ]);
});

test('ready before the poller started is history; a new deployment or a redeploy between two polls is one event, dated by updated_at', async () => {
  together.jobs.deployments = [deployment('dep-old', 'Ready', T0 - 3 * HOUR)];
  await pollAt(T0);
  await pollAt(T0 + MINUTE);
  expect(h.keys()).toEqual([]);
  // Created and Ready between two polls; and, two hours later, the old one updated and Ready again between two polls.
  together.jobs.deployments.push(deployment('dep-new', 'Ready', T0 + MINUTE + 20_000));
  await pollAt(T0 + 2 * MINUTE);
  move('dep-old', 'Ready', T0 + 2 * HOUR + 10_000);
  together.jobs.deployments[0].image = 'registry.together.ai/acme/server:2.0';
  await pollAt(T0 + 2 * HOUR + MINUTE);
  await pollAt(T0 + 2 * HOUR + 2 * MINUTE);
  expect(h.keys()).toEqual([
    `deployment.ready:dep-new:${iso(T0 + MINUTE + 20_000)}`,
    `deployment.ready:dep-old:${iso(T0 + 2 * HOUR + 10_000)}`,
  ]);
});

test('a restart in the middle: the state not saved, reloaded at the next poll, still one event', async () => {
  together.jobs.deployments = [deployment('dep-k', 'Updating', T0 - MINUTE)];
  await pollAt(T0);
  move('dep-k', 'Ready', T0 + 30_000);
  const crashing = h.killedBeforeSave(withDeployments());
  await pollAt(T0 + MINUTE, crashing).catch(() => undefined);
  await pollAt(T0 + 2 * MINUTE);
  await pollAt(T0 + 3 * MINUTE);
  expect(h.keys()).toEqual([`deployment.ready:dep-k:${iso(T0)}`]);
});

test('a followed deployment Together no longer knows (404) is dropped once, with a warning', async () => {
  together.jobs.deployments = [deployment('dep-gone', 'Updating', T0 - MINUTE)];
  await pollAt(T0);
  together.jobs.deployments = [];
  await pollAt(T0 + MINUTE);
  await pollAt(T0 + 2 * MINUTE);
  expect(h.keys()).toEqual([]);
  expect(together.requests.filter((r) => r.path === '/v1/deployments/dep-gone').length).toBe(1);
  expect(h.logs.filter((l) => String(l.message).includes('no longer known'))).toHaveLength(1);
  h.expectFaithful();
});

test('a failing answer costs only its deployment: retried next poll, the other published meanwhile', async () => {
  together.jobs.deployments = [
    deployment('dep-flaky', 'Updating', T0 - MINUTE),
    deployment('dep-fine', 'Updating', T0 - MINUTE),
  ];
  await pollAt(T0);
  together.jobs.unlisted.add('dep-flaky');
  move('dep-flaky', 'Ready', T0 + 20_000);
  move('dep-fine', 'Ready', T0 + 30_000);
  together.script('GET', /^\/v1\/deployments\/dep-flaky$/, {
    status: 500,
    body: TOGETHER_ERROR('internal error', 'server_error'),
  });
  const first = await pollAt(T0 + MINUTE);
  expect(h.keys()).toEqual([`deployment.ready:dep-fine:${iso(T0)}`]);
  expect(first.errors).toBe(1);
  await pollAt(T0 + 2 * MINUTE);
  await pollAt(T0 + 3 * MINUTE);
  expect(h.keys()).toEqual([`deployment.ready:dep-fine:${iso(T0)}`, `deployment.ready:dep-flaky:${iso(T0)}`]);
});

test('off unless asked for: the default poller never calls /deployments', async () => {
  together.jobs.deployments = [deployment('dep-x', 'Ready', T0 - MINUTE)];
  clock.t = T0;
  await h.runPoll();
  await pollAt(T0 + MINUTE, h.deps());
  expect(together.requests.filter((r) => r.path.startsWith('/v1/deployments'))).toEqual([]);
});

test('Ready straight to Failed between two polls, within the hour after its Ready event: deployment.failed, dated by updated_at', async () => {
  together.jobs.deployments = [deployment('dep-l', 'Updating', T0 - MINUTE)];
  await pollAt(T0);
  move('dep-l', 'Ready', T0 + 30_000);
  await pollAt(T0 + MINUTE);
  move('dep-l', 'Failed', T0 + 90_000);
  await pollAt(T0 + 2 * MINUTE);
  await pollAt(T0 + 3 * MINUTE);
  await pollAt(T0 + 3 * HOUR);
  expect(h.keys()).toEqual([
    `deployment.ready:dep-l:${iso(T0)}`,
    `deployment.failed:dep-l:${iso(T0 + 90_000)}`,
  ]);
});

test('a redeploy of a new image rolled out whole between two polls is a second deployment.ready, within the hour or not', async () => {
  together.jobs.deployments = [deployment('dep-i', 'Updating', T0 - MINUTE)];
  await pollAt(T0);
  move('dep-i', 'Ready', T0 + 30_000);
  await pollAt(T0 + MINUTE);
  move('dep-i', 'Ready', T0 + 4 * MINUTE);
  together.jobs.deployments[0].image = 'registry.together.ai/acme/server:1.3';
  await pollAt(T0 + 5 * MINUTE);
  await pollAt(T0 + 6 * MINUTE);
  move('dep-i', 'Ready', T0 + 3 * HOUR);
  together.jobs.deployments[0].image = 'registry.together.ai/acme/server:1.4';
  await pollAt(T0 + 3 * HOUR + MINUTE);
  await pollAt(T0 + 3 * HOUR + 2 * MINUTE);
  expect(h.keys()).toEqual([
    `deployment.ready:dep-i:${iso(T0)}`,
    `deployment.ready:dep-i:${iso(T0 + 4 * MINUTE)}`,
    `deployment.ready:dep-i:${iso(T0 + 3 * HOUR)}`,
  ]);
  expect(h.published().map((p) => p.detail.data.image)).toEqual([
    'registry.together.ai/acme/server:1.2',
    'registry.together.ai/acme/server:1.3',
    'registry.together.ai/acme/server:1.4',
  ]);
});

test('a deployment that stays Ready while its replicas and updated_at move publishes nothing more, however late', async () => {
  together.jobs.deployments = [deployment('dep-s', 'Updating', T0 - MINUTE)];
  await pollAt(T0);
  move('dep-s', 'Ready', T0 + 30_000);
  await pollAt(T0 + MINUTE);
  move('dep-s', 'Ready', T0 + 10 * MINUTE, 1); // a replica restarts within the hour
  await pollAt(T0 + 11 * MINUTE);
  await pollAt(T0 + 2 * HOUR);
  move('dep-s', 'Ready', T0 + 2 * HOUR + 10_000, 2); // and again, hours later
  await pollAt(T0 + 2 * HOUR + MINUTE);
  await pollAt(T0 + 2 * HOUR + 2 * MINUTE);
  expect(h.keys()).toEqual([`deployment.ready:dep-s:${iso(T0)}`]);
});

test('a deployment first seen Ready whose publish was refused is retried under the same key after updated_at moves', async () => {
  await pollAt(T0);
  together.jobs.deployments = [deployment('dep-n', 'Ready', T0 + 20_000)];
  h.bus.nextPutEvents({
    FailedEntryCount: 1,
    Entries: [{ ErrorCode: 'InternalFailure', ErrorMessage: 'try again' }],
  });
  await pollAt(T0 + MINUTE);
  move('dep-n', 'Ready', T0 + 90_000, 1); // a replica restart moves updated_at before the retry
  await pollAt(T0 + 2 * MINUTE);
  await pollAt(T0 + 3 * MINUTE);
  const key = `deployment.ready:dep-n:${iso(T0 + 20_000)}`;
  expect(h.keys()).toEqual([key, key]); // the refused one, then the one EventBridge took
});

test('Ready long before deploy is the baseline, even when the first poll stopped before following anything', async () => {
  together.jobs.deployments = [
    deployment('dep-b', 'Ready', T0 - 3 * HOUR),
    deployment('dep-c', 'Ready', T0 - 5 * MINUTE), // within the first run's lookback: still published
  ];
  together.jobs.rlSessions = [rlTrainingSession('rl-1', 'STOPPED', T0 - MINUTE)];
  h.bus.nextPutEvents({
    FailedEntryCount: 1,
    Entries: [{ ErrorCode: 'InternalFailure', ErrorMessage: 'x' }],
  });
  const both = () =>
    h.deps({ config: { ...h.deps().config, sources: { deployments: true, rlSessions: true } } });
  const first = await pollAt(T0, both());
  expect(first.stoppedBy).toBe('delivery'); // the fault fired: the poll stopped before following deployments
  await pollAt(T0 + MINUTE, both());
  await pollAt(T0 + 2 * MINUTE, both());
  expect(h.keys().filter((k) => k.startsWith('deployment.'))).toEqual([
    `deployment.ready:dep-c:${iso(T0 - 5 * MINUTE)}`,
  ]);
});

test('a new deployment with no updated_at, found Ready by a poll killed before its save, keeps its key (the last saved listing names it)', async () => {
  const d = withDeployments();
  together.jobs.deployments = [deployment('dep-a', 'Ready', T0 - 3 * 3600_000)];
  await h.pollAt(T0, d); // the baseline
  const undated: Record<string, unknown> = { ...deployment('dep-b', 'Ready', T0) };
  delete undated.updated_at;
  together.jobs.deployments.push(undated as never);
  await h.pollAt(T0 + MINUTE, h.killedBeforeSave(d)).catch(() => undefined);
  await h.pollAt(T0 + 2 * MINUTE, d);
  await h.pollAt(T0 + 3 * MINUTE, d);
  h.expectFaithful(); // an undated deployment is a valid answer
  expect(h.keys()).toEqual([`deployment.ready:dep-b:${iso(T0)}`]);
});
