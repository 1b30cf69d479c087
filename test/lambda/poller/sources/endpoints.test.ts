import { pollerHarness } from '../../../support/poller-harness';
import { dedicatedEndpoint, HOUR, iso, MINUTE, T0 } from '../../../support/together-fixtures';

/** Issue 12, recipe 1: dedicated endpoints followed by the poller, PENDING -> STARTING -> STARTED, and ERROR. */

const h = pollerHarness();
const { together, clock } = h;
const withEndpoints = () => h.withSources({ endpoints: true });

const pollAt = (ms: number) => h.pollAt(ms, withEndpoints());

function setState(id: string, state: string) {
  const e = together.jobs.endpoints.find((x) => x.id === id)!;
  e.state = state;
}

test('PENDING -> STARTING -> STARTED is one endpoint.ready; another PENDING -> ERROR is one endpoint.failed', async () => {
  together.jobs.endpoints = [
    dedicatedEndpoint('endpoint-a', 'PENDING', T0 - MINUTE),
    dedicatedEndpoint('endpoint-b', 'PENDING', T0 - MINUTE, { model: 'acme/other-model' }),
  ];
  await pollAt(T0);
  setState('endpoint-a', 'STARTING');
  await pollAt(T0 + MINUTE);
  expect(h.keys()).toEqual([]);
  setState('endpoint-a', 'STARTED');
  setState('endpoint-b', 'ERROR');
  await pollAt(T0 + 2 * MINUTE);
  await pollAt(T0 + 3 * MINUTE);
  expect(h.keys().sort()).toEqual([
    `endpoint.failed:endpoint-b:${iso(T0)}`,
    `endpoint.ready:endpoint-a:${iso(T0)}`,
  ]);
  const byType = Object.fromEntries(h.published().map((p) => [p.type, p.detail.data]));
  expect(byType['endpoint.ready']).toEqual({
    endpoint_id: 'endpoint-a',
    endpoint_name: dedicatedEndpoint('endpoint-a', 'STARTED', T0).name,
    model: 'acme/Meta-Llama-3.1-8B-Instruct-ft-1',
    since: iso(T0),
  });
  expect(byType['endpoint.failed']).toMatchObject({ endpoint_id: 'endpoint-b', state: 'ERROR' });
  expect(together.requests.find((r) => r.path === '/v1/endpoints')?.search).toBe('?type=dedicated&mine=true');
  h.expectFaithful();
});

test('one created and started between two polls is published, dated by its creation; old running ones are not', async () => {
  together.jobs.endpoints = [dedicatedEndpoint('endpoint-old', 'STARTED', T0 - 30 * 24 * HOUR)];
  await pollAt(T0);
  together.jobs.endpoints.push(dedicatedEndpoint('endpoint-new', 'STARTED', T0 + 20_000));
  await pollAt(T0 + MINUTE);
  expect(h.keys()).toEqual([`endpoint.ready:endpoint-new:${iso(T0 + 20_000)}`]);
});

test('a restart is a new start: ready again under a new key; a stop publishes nothing', async () => {
  together.jobs.endpoints = [dedicatedEndpoint('endpoint-r', 'STARTING', T0 - MINUTE)];
  await pollAt(T0);
  setState('endpoint-r', 'STARTED');
  await pollAt(T0 + MINUTE);
  setState('endpoint-r', 'STOPPING');
  await pollAt(T0 + 2 * MINUTE);
  setState('endpoint-r', 'STOPPED');
  await pollAt(T0 + 3 * MINUTE);
  setState('endpoint-r', 'STARTING');
  await pollAt(T0 + 4 * HOUR);
  setState('endpoint-r', 'STARTED');
  await pollAt(T0 + 4 * HOUR + MINUTE);
  expect(h.keys()).toEqual([
    `endpoint.ready:endpoint-r:${iso(T0)}`,
    `endpoint.ready:endpoint-r:${iso(T0 + 4 * HOUR)}`,
  ]);
});

test('stopped before it was ready: no outcome; endpoints of other owners are not listed', async () => {
  together.jobs.endpoints = [
    dedicatedEndpoint('endpoint-s', 'PENDING', T0 - MINUTE),
    dedicatedEndpoint('endpoint-theirs', 'PENDING', T0 - MINUTE, { owner: 'someone-else' }),
  ];
  await pollAt(T0);
  setState('endpoint-s', 'STOPPED');
  setState('endpoint-theirs', 'STARTED');
  await pollAt(T0 + MINUTE);
  expect(h.keys()).toEqual([]);
});

test('a followed endpoint the listing drops is asked for by id', async () => {
  together.jobs.endpoints = [dedicatedEndpoint('endpoint-d', 'PENDING', T0 - MINUTE)];
  await pollAt(T0);
  together.jobs.unlisted.add('endpoint-d');
  setState('endpoint-d', 'STARTED');
  await pollAt(T0 + MINUTE);
  await pollAt(T0 + 2 * MINUTE);
  expect(h.keys()).toEqual([`endpoint.ready:endpoint-d:${iso(T0)}`]);
  expect(together.requests.some((r) => r.path === '/v1/endpoints/endpoint-d')).toBe(true);
  h.expectFaithful();
});

test('off unless asked for: the default poller never calls /endpoints', async () => {
  together.jobs.endpoints = [dedicatedEndpoint('endpoint-x', 'STARTED', T0 - MINUTE)];
  clock.t = T0;
  await h.runPoll();
  expect(together.requests.filter((r) => r.path.startsWith('/v1/endpoints'))).toEqual([]);
});

test('one start whose first delivery went unconfirmed keeps its outcome key on every retry', async () => {
  await pollAt(T0);
  // Created and STARTED between two polls: named by its created_at.
  together.jobs.endpoints.push(dedicatedEndpoint('endpoint-n', 'STARTED', T0 + 20_000));
  h.bus.nextPutEvents(Object.assign(new Error('socket timed out'), { name: 'TimeoutError' }));
  await pollAt(T0 + MINUTE);
  // Later polls, after the claim lapsed: the retry must name the same start, or the dedupe cannot catch it.
  await pollAt(T0 + 5 * MINUTE);
  await pollAt(T0 + 6 * MINUTE);
  expect(new Set(h.keys())).toEqual(new Set([`endpoint.ready:endpoint-n:${iso(T0 + 20_000)}`]));
});

test('a state the spec does not list (one Together may add) is still starting: STARTED after it is one endpoint.ready', async () => {
  together.jobs.endpoints = [dedicatedEndpoint('endpoint-u', 'PENDING', T0 - MINUTE)];
  await pollAt(T0);
  together.jobs.endpoints[0].state = 'PROVISIONING'; // deliberately outside the spec's enum
  await pollAt(T0 + MINUTE);
  together.jobs.endpoints[0].state = 'STARTED';
  await pollAt(T0 + 2 * MINUTE);
  await pollAt(T0 + 3 * MINUTE);
  expect(h.keys()).toEqual([`endpoint.ready:endpoint-u:${iso(T0)}`]);
});

test('a start whose delivery failed, then a stop before the next poll: the start is still published once', async () => {
  together.jobs.endpoints = [dedicatedEndpoint('endpoint-s', 'PENDING', T0 - MINUTE)];
  await pollAt(T0);
  setState('endpoint-s', 'STARTED');
  // EventBridge refuses the entry: not published, the claim released, the endpoint still followed.
  h.bus.nextPutEvents({
    FailedEntryCount: 1,
    Entries: [{ ErrorCode: 'InternalFailure', ErrorMessage: 'try again' }],
  });
  await pollAt(T0 + MINUTE);
  const key = `endpoint.ready:endpoint-s:${iso(T0)}`;
  expect(h.keys()).toEqual([key]); // sent, refused
  setState('endpoint-s', 'STOPPED');
  await pollAt(T0 + 2 * MINUTE);
  await pollAt(T0 + 3 * MINUTE);
  expect(h.keys()).toEqual([key, key]); // the refused one, then the one EventBridge took
});
