import { DynamoPollerStateStore, PollerState } from '../../../lambda/poller/state';
import { deadlineTime, eventTime, pastTime } from '../../../lambda/poller/sources/common';
import { pollerHarness } from '../../support/poller-harness';
import {
  batch,
  dedicatedEndpoint,
  evaluation,
  fineTune,
  fineTuneEvent,
  HOUR,
  iso,
  MINUTE,
  T0,
} from '../../support/together-fixtures';

/**
 * Times Together's answers may carry that are no time at all: unreadable text, placeholders (Go's zero time,
 * epoch 0), the 1890s of a spec-driven mock, the far future. Each is read as unknown: no event carries one, none
 * becomes epoch 0, and a stall is dated by what the poller itself saw.
 */

const h = pollerHarness();
const { together, clock } = h;
const YEAR = 365 * 24 * HOUR;
const B1 = '0b7c3a52-1d2e-4f60-8a9b-0c1d2e3f4a5b';
const B2 = '1c8d4b63-2e3f-4071-9bac-1d2e3f4a5b6c';
const EP = 'endpoint-00000000-0000-4000-8000-000000000001';

const pollAt = (t: number, d = h.deps()) => {
  clock.t = t;
  return h.runPoll(d);
};
const withSources = () =>
  h.deps({ config: { ...h.deps().config, sources: { evaluations: true, endpoints: true } } });
const store = () => new DynamoPollerStateStore(h.dynamo.client, h.table, 'test-scope');
const loadState = () => store().load();

/** A time an event may carry: ISO 8601, from this decade, not later than the poll that published it. */
function isRealTime(value: unknown): boolean {
  if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(value)) return false;
  const ms = Date.parse(value);
  return ms >= Date.UTC(2020, 0, 1) && ms <= clock.t;
}

/** Every time field of every published event (created_at, since, missing_since). */
function eventTimes(): Array<{ key: string; field: string; value: unknown }> {
  return h.bus.entries().flatMap((e) => {
    const detail = JSON.parse(e.Detail) as {
      id: string;
      created_at?: unknown;
      data: Record<string, unknown>;
    };
    const fields: Array<[string, unknown]> = [['created_at', detail.created_at]];
    for (const name of ['since', 'missing_since'])
      if (name in detail.data) fields.push([`data.${name}`, detail.data[name]]);
    return fields
      .filter(([field, value]) => !(field === 'created_at' && value === undefined))
      .map(([field, value]) => ({ key: detail.id, field, value }));
  });
}

const notRealTimes = () => eventTimes().filter((t) => !isRealTime(t.value));

describe('a stall is dated by what the poller saw when Together gives no real time', () => {
  test('dates from the 1890s: no stall on first sight, then one dated by when it was first seen, never 1970', async () => {
    together.jobs.fineTunes = [fineTune('ft-old', 'running', T0, { updated_at: '1890-03-12T03:58:32.0Z' })];
    together.jobs.events.set('ft-old', [
      { ...fineTuneEvent('job_start', T0), created_at: '1896-03-12T03:58:32.0Z' },
    ]);
    await pollAt(T0);
    expect(h.keys()).toEqual([]);
    await pollAt(T0 + 6 * HOUR + MINUTE);
    expect(h.keys()).toEqual([`fine_tune.stalled:ft-old:${iso(T0)}`]);
    expect(h.published()[0].detail.data).toMatchObject({ since: iso(T0) });
  });

  test('unreadable dates: a checkpoint carries no made-up time, and the stall counts from first sight', async () => {
    together.jobs.fineTunes = [fineTune('ft-u', 'running', T0, { updated_at: 'qui velit' })];
    together.jobs.events.set('ft-u', [
      { ...fineTuneEvent('job_start', T0), created_at: 'Excepteur 5 ut' }, // V8 reads this as 2001-05-01
      { ...fineTuneEvent('checkpoint_save', T0, { step: 40 }), created_at: 'dolor' },
      { ...fineTuneEvent('epoch_complete', T0), created_at: '0' }, // and this as 2000-01-01
    ]);
    await pollAt(T0);
    expect(h.keys()).toEqual(['fine_tune.checkpoint:ft-u:40']);
    await pollAt(T0 + 6 * HOUR + MINUTE);
    expect(h.keys()).toEqual(['fine_tune.checkpoint:ft-u:40', `fine_tune.stalled:ft-u:${iso(T0)}`]);
    expect(notRealTimes()).toEqual([]);
  });

  test('a date in the far future neither postpones the stall for decades nor dates it', async () => {
    together.jobs.fineTunes = [fineTune('ft-f', 'running', T0 + 60 * YEAR)];
    together.jobs.events.set('ft-f', [fineTuneEvent('job_start', T0 + 70 * YEAR)]);
    await pollAt(T0);
    await pollAt(T0 + 6 * HOUR + MINUTE);
    expect(h.keys()).toEqual([`fine_tune.stalled:ft-f:${iso(T0)}`]);
    const state = await loadState();
    expect(state.fineTunes?.open['ft-f'].changed).toBe(T0);
  });

  test('a stall remembered as epoch 0 by an earlier version is dated by first sight instead', async () => {
    const seen = T0 - 7 * HOUR;
    const legacy: PollerState = {
      fineTunes: {
        v: 2,
        since: seen - HOUR,
        horizon: seen - HOUR,
        listed: T0 - MINUTE,
        open: { 'ft-l': { status: 'running', seen, changed: 0, visited: T0 - MINUTE } },
        done: {},
      },
    };
    await store().save(legacy);
    together.jobs.fineTunes = [fineTune('ft-l', 'running', T0, { updated_at: 'qui velit' })];
    await pollAt(T0);
    expect(h.keys()).toEqual([`fine_tune.stalled:ft-l:${iso(seen)}`]);
  });
});

describe('finished jobs whose end time is no time are published as undated, never dropped as history', () => {
  test("Go's zero time, epoch 0, the 1890s and unreadable text: each published once, with no made-up time", async () => {
    const d = withSources();
    await pollAt(T0, d); // the baseline: nothing listed yet
    together.jobs.fineTunes = [fineTune('ft-done', 'completed', T0, { updated_at: 'qui velit' })];
    together.jobs.batches = [
      batch(B1, 'COMPLETED', { output: 'file-out-1' }),
      // Without completed_at, dated only by a deadline from the 1890s: it cannot be known to be old.
      { ...batch(B2, 'FAILED'), job_deadline: '1896-04-18T02:06:01.0Z' },
    ];
    together.jobs.batches[0].completed_at = '0001-01-01T00:00:00Z';
    together.jobs.evaluations = [evaluation('eval-1', 'completed', T0, { results: { pass_percentage: 80 } })];
    together.jobs.evaluations[0].updated_at = '1970-01-01T00:00:00Z';
    together.jobs.endpoints = [{ ...dedicatedEndpoint(EP, 'STARTED', T0), created_at: 'sunt' }];
    await pollAt(T0 + MINUTE, d);
    expect(h.keys().sort()).toEqual(
      [
        'fine_tune.completed:ft-done',
        `batch.done:${B1}`,
        `batch.done:${B2}`,
        'evaluation.completed:eval-1',
        `endpoint.ready:${EP}:${iso(T0 + MINUTE)}`,
      ].sort(),
    );
    expect(notRealTimes()).toEqual([]);
    await pollAt(T0 + 2 * MINUTE, d);
    expect(h.keys()).toHaveLength(5);
  });

  test('a finished job dated decades ahead: published without that date, and not remembered until then', async () => {
    await pollAt(T0);
    together.jobs.fineTunes = [fineTune('ft-later', 'completed', T0 + 50 * YEAR)];
    await pollAt(T0 + MINUTE);
    expect(h.keys()).toEqual(['fine_tune.completed:ft-later']);
    expect(notRealTimes()).toEqual([]);
    const done = (await loadState()).fineTunes!.done;
    expect(Math.abs(done['ft-later'])).toBeLessThanOrEqual(T0 + MINUTE);
  });

  test('real times are kept as Together wrote them', async () => {
    await pollAt(T0);
    together.jobs.fineTunes = [fineTune('ft-real', 'completed', T0 + 30_000)];
    together.jobs.fineTunes[0].updated_at = '2026-11-23T12:00:30Z';
    await pollAt(T0 + MINUTE);
    expect(h.published()[0].detail).toMatchObject({ created_at: '2026-11-23T12:00:30Z' });
  });
});

describe('reading a time Together reports', () => {
  const now = T0;
  test.each([
    ['absent', undefined],
    ['not text', 1795435200],
    ['empty', ''],
    ['words', 'qui velit'],
    ['words V8 would read as 2001', 'ut 2'],
    ['a number as text', '0'],
    ['epoch 0', '1970-01-01T00:00:00Z'],
    ["Go's zero time", '0001-01-01T00:00:00Z'],
    ['the 1890s', '1890-03-12T03:58:32.0Z'],
    ['no such day', '2026-02-30T00:00:00Z'],
    ['later than the clock skew allows', iso(T0 + 16 * MINUTE)],
    ['the far future', '2090-01-01T00:00:00Z'],
  ])('%s is unknown', (_, value) => {
    expect(pastTime(value, now)).toBeNaN();
    expect(eventTime(value, now)).toBeUndefined();
  });

  test('a real time is kept; one a little ahead (clock skew) counts as now; other ISO forms are normalized', () => {
    expect(pastTime('2026-11-23T11:00:00Z', now)).toBe(T0 - HOUR);
    expect(eventTime('2026-11-23T11:00:00Z', now)).toBe('2026-11-23T11:00:00Z');
    expect(eventTime('2026-11-23T13:00:00+02:00', now)).toBe('2026-11-23T13:00:00+02:00');
    expect(eventTime('2026-11-23 11:00:00.123456', now)).toBe('2026-11-23T11:00:00.123Z');
    expect(pastTime(iso(T0 + 10 * MINUTE), now)).toBe(T0);
    expect(eventTime(iso(T0 + 10 * MINUTE), now)).toBe(iso(T0));
  });

  test('a deadline may lie ahead, but not decades ahead nor in the 1890s', () => {
    expect(deadlineTime(iso(T0 + 24 * HOUR), now)).toBe(T0 + 24 * HOUR);
    expect(deadlineTime('2090-01-01T00:00:00Z', now)).toBeNaN();
    expect(deadlineTime('1896-04-18T02:06:01.0Z', now)).toBeNaN();
  });
});
