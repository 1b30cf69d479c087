import { randomUUID } from 'node:crypto';
import {
  AliasDeps,
  AliasSpec,
  applyAliases,
  planAliases,
  readAliasEvent,
} from '../../../lambda/model-aliases/core';
import { DynamoAliasState } from '../../../lambda/model-aliases/state';
import { DynamoIdempotencyStore, IdempotencyStore } from '../../../lambda/shared/idempotency';
import { LogLine } from '../../../lambda/shared/log';
import { LocalDynamo, startDynalite } from '../../support/dynalite';
import { deprecated, NEW_MODEL as NEW, OLD_MODEL as OLD, ready } from '../../support/recipe-events';

/** Issue 12, recipe 2: model aliases in SSM, moved on a deprecation (opt-in) and on a new deployment. */

const ALIASES: AliasSpec[] = [
  { alias: 'chat', parameter: '/together/models/chat' },
  { alias: 'summarize', parameter: '/together/models/summarize' },
  { alias: 'support-bot', parameter: '/together/models/support-bot', follow: 'acme/support-' },
];

/** The claims' clock: fixture time, a while after the events below, never the real clock. */
const NOW = Date.parse('2026-11-26T12:00:00Z');

describe('planAliases', () => {
  const current = {
    '/together/models/chat': OLD,
    '/together/models/summarize': NEW,
    '/together/models/support-bot': OLD,
  };
  test('a deprecation with a replacement, opted in: every alias on the model moves, the others stay', () => {
    const plan = planAliases(readAliasEvent(deprecated(NEW)), ALIASES, current, true);
    expect(plan.alerts).toEqual([]);
    expect(plan.changes.map((c) => [c.alias, c.from, c.to])).toEqual([
      ['chat', OLD, NEW],
      ['support-bot', OLD, NEW],
    ]);
    expect(plan.changes[0].reason).toBe(
      `${OLD} is deprecated (sunset 2027-03-01); Together names ${NEW} to replace it`,
    );
  });

  test('not opted in, or no replacement: an alert per alias, no change', () => {
    const off = planAliases(readAliasEvent(deprecated(NEW)), ALIASES, current, false);
    expect(off.changes).toEqual([]);
    expect(off.alerts.map((a) => a.alias)).toEqual(['chat', 'support-bot']);
    expect(off.alerts[0].reason).toMatch(/Switching aliases on deprecation is off/);
    const none = planAliases(readAliasEvent(deprecated(null)), ALIASES, current, true);
    expect(none.changes).toEqual([]);
    expect(none.alerts[0].reason).toMatch(/Together names no replacement: point \/together\/models\/chat/);
  });

  test('endpoint.ready moves only the aliases that follow that model, to the endpoint name', () => {
    const plan = planAliases(
      readAliasEvent(ready('acme/support-v7', 'devuser/acme/support-v7-1a2b')),
      ALIASES,
      current,
      false,
    );
    expect(plan.changes.map((c) => [c.alias, c.from, c.to])).toEqual([
      ['support-bot', OLD, 'devuser/acme/support-v7-1a2b'],
    ]);
    expect(planAliases(readAliasEvent(ready('acme/other', 'x')), ALIASES, current, false).changes).toEqual(
      [],
    );
  });
});

describe('applyAliases (dynalite claims, SSM and SNS at their boundary)', () => {
  let dynamo: LocalDynamo;
  let table: string;
  let params: Map<string, string>;
  let writes: Array<[string, string]>;
  let told: Array<{ subject: string; message: string }>;
  let logs: LogLine[];
  beforeAll(async () => {
    dynamo = await startDynalite();
  });
  afterAll(() => dynamo.stop());
  beforeEach(async () => {
    table = await dynamo.createTable('aliases');
    params = new Map([
      ['/together/models/chat', OLD],
      ['/together/models/summarize', NEW],
      ['/together/models/support-bot', 'acme/support-v6'],
    ]);
    writes = [];
    told = [];
    logs = [];
  });

  const deps = (overrides: Partial<AliasDeps> = {}): AliasDeps => ({
    aliases: ALIASES,
    switchOnDeprecation: true,
    readParameters: async (names) => Object.fromEntries(names.map((n) => [n, params.get(n)])),
    writeParameter: async (name, value) => {
      writes.push([name, value]);
      params.set(name, value);
    },
    announce: async (subject, message) => void told.push({ subject, message }),
    store: new DynamoIdempotencyStore(dynamo.client, table),
    state: new DynamoAliasState(dynamo.client, table, 'test'),
    scope: 'test',
    token: randomUUID(),
    nowMs: NOW,
    remainingMs: 30_000,
    retentionSeconds: 86400,
    log: (l) => logs.push(l),
    ...overrides,
  });

  test('each change is written, logged and announced with its old and new value; a redelivery does nothing', async () => {
    await applyAliases(readAliasEvent(deprecated(NEW)), deps());
    expect(writes).toEqual([['/together/models/chat', NEW]]);
    expect(told).toEqual([
      {
        subject: 'Together model alias chat changed',
        message: `/together/models/chat: ${OLD} -> ${NEW}\nWhy: ${OLD} is deprecated (sunset 2027-03-01); Together names ${NEW} to replace it`,
      },
    ]);
    expect(logs).toContainEqual(
      expect.objectContaining({ message: 'model alias changed', from: OLD, to: NEW }),
    );
    expect(await applyAliases(readAliasEvent(deprecated(NEW)), deps())).toBe('done_before');
    expect(writes).toHaveLength(1);
    expect(told).toHaveLength(1);
  });

  test('a failed write frees the event for the retry, which completes it once', async () => {
    let fail = true;
    const flaky = deps({
      writeParameter: async (name, value) => {
        if (fail) throw new Error('ThrottlingException');
        writes.push([name, value]);
        params.set(name, value);
      },
    });
    await expect(
      applyAliases(readAliasEvent(ready('acme/support-v7', 'devuser/acme/support-v7-1a2b')), flaky),
    ).rejects.toThrow('ThrottlingException');
    fail = false;
    await applyAliases(readAliasEvent(ready('acme/support-v7', 'devuser/acme/support-v7-1a2b')), flaky);
    expect(writes).toEqual([['/together/models/support-bot', 'devuser/acme/support-v7-1a2b']]);
  });

  test('a PutParameter that landed but whose answer was lost: the retry still logs and announces that change', async () => {
    // Review D1. SSM applied the write, the client saw a timeout; Lambda's retry finds the alias moved already.
    let first = true;
    const lossy = deps({
      aliases: [ALIASES[0], { alias: 'other', parameter: '/together/models/other' }],
      writeParameter: async (name, value) => {
        writes.push([name, value]);
        params.set(name, value);
        if (first) {
          first = false;
          throw new Error('TimeoutError');
        }
      },
    });
    params.set('/together/models/other', OLD);
    await expect(applyAliases(readAliasEvent(deprecated(NEW)), lossy)).rejects.toThrow('TimeoutError');
    expect(told).toEqual([]);
    await applyAliases(readAliasEvent(deprecated(NEW)), { ...lossy, token: randomUUID() });
    expect(params.get('/together/models/chat')).toBe(NEW);
    expect(told.map((t) => t.subject)).toEqual([
      'Together model alias chat changed',
      'Together model alias other changed',
    ]);
    expect(told[0].message).toBe(
      `/together/models/chat: ${OLD} -> ${NEW}\nWhy: ${OLD} is deprecated (sunset 2027-03-01); Together names ${NEW} to replace it`,
    );
    expect(
      logs.filter((l) => l.message === 'model alias changed').map((l) => [l.alias, l.from, l.to]),
    ).toEqual([
      ['chat', OLD, NEW],
      ['other', OLD, NEW],
    ]);
    // The landed write is not made again, and a later event that finds an alias already in place announces nothing.
    expect(writes.map(([n]) => n)).toEqual(['/together/models/chat', '/together/models/other']);
  });

  test('a write that failed on the second alias: the retry moves only the rest and repeats no announcement', async () => {
    let failOther = true;
    const flaky = deps({
      aliases: [ALIASES[0], { alias: 'other', parameter: '/together/models/other' }],
      writeParameter: async (name, value) => {
        if (name === '/together/models/other' && failOther) {
          failOther = false;
          throw new Error('ThrottlingException');
        }
        writes.push([name, value]);
        params.set(name, value);
      },
    });
    params.set('/together/models/other', OLD);
    await expect(applyAliases(readAliasEvent(deprecated(NEW)), flaky)).rejects.toThrow('ThrottlingException');
    await applyAliases(readAliasEvent(deprecated(NEW)), { ...flaky, token: randomUUID() });
    expect(writes.map(([n]) => n)).toEqual(['/together/models/chat', '/together/models/other']);
    expect(told.map((t) => t.subject)).toEqual([
      'Together model alias chat changed',
      'Together model alias other changed',
    ]);
    expect(await applyAliases(readAliasEvent(deprecated(NEW)), flaky)).toBe('done_before');
  });

  test('an alias already on the target before the event is not announced as a change', async () => {
    params.set('/together/models/chat', NEW);
    const plan = await applyAliases(readAliasEvent(deprecated(NEW)), deps());
    expect(plan).toEqual({ changes: [], alerts: [] });
    expect(told).toEqual([]);
  });

  test('a late retry of an older endpoint.ready does not move the alias back past a newer deployment', async () => {
    // Review D2. endpoint-1 (10:00) failed its first try; endpoint-2 (10:05) moved the alias; endpoint-1's retry.
    const newer = ready('acme/support-v7', 'me/support-v7-new', 'endpoint-2', '2026-11-26T10:05:00Z');
    const older = ready('acme/support-v7', 'me/support-v7-old', 'endpoint-1', '2026-11-26T10:00:00Z');
    await applyAliases(readAliasEvent(newer), deps());
    const late = await applyAliases(readAliasEvent(older), deps());
    expect(params.get('/together/models/support-bot')).toBe('me/support-v7-new');
    expect(late).toEqual({ changes: [], alerts: [] });
    expect(writes).toEqual([['/together/models/support-bot', 'me/support-v7-new']]);
    expect(told).toHaveLength(1);
    expect(logs).toContainEqual(
      expect.objectContaining({
        level: 'WARN',
        message: 'older deployment not followed',
        alias: 'support-bot',
        endpoint: 'me/support-v7-old',
        since: '2026-11-26T10:00:00Z',
      }),
    );
    // A later deployment still moves it.
    const later = ready('acme/support-v8', 'me/support-v8', 'endpoint-3', '2026-11-26T11:00:00Z');
    await applyAliases(readAliasEvent(later), deps());
    expect(params.get('/together/models/support-bot')).toBe('me/support-v8');
  });

  test('the retry of the deployment the alias last followed goes through (its write had failed)', async () => {
    let fail = true;
    const flaky = deps({
      writeParameter: async (name, value) => {
        if (fail) {
          fail = false;
          throw new Error('ThrottlingException');
        }
        writes.push([name, value]);
        params.set(name, value);
      },
    });
    const e = ready('acme/support-v7', 'me/support-v7', 'endpoint-2', '2026-11-26T10:05:00Z');
    await expect(applyAliases(readAliasEvent(e), flaky)).rejects.toThrow('ThrottlingException');
    await applyAliases(readAliasEvent(e), { ...flaky, token: randomUUID() });
    expect(params.get('/together/models/support-bot')).toBe('me/support-v7');
    expect(told.map((t) => t.subject)).toEqual(['Together model alias support-bot changed']);
  });

  describe('switch off: alerts are sent once though marking the claim complete fails', () => {
    // Review D4.
    const failing = (times: number): IdempotencyStore => {
      const real = new DynamoIdempotencyStore(dynamo.client, table);
      let left = times;
      return {
        claim: (r) => real.claim(r),
        release: (r) => real.release(r),
        complete: async (r) => {
          if (left-- > 0) throw new Error('ProvisionedThroughputExceededException');
          return real.complete(r);
        },
      };
    };

    test('a failed attempt at marking it is tried again, and the event is then done', async () => {
      const store = failing(1);
      const d = () => deps({ store, switchOnDeprecation: false });
      await applyAliases(readAliasEvent(deprecated(NEW)), d());
      expect(await applyAliases(readAliasEvent(deprecated(NEW)), d())).toBe('done_before');
      expect(told.map((t) => t.subject)).toEqual(['Together model alias chat points at a deprecated model']);
    });

    test('every attempt failing: logged, not thrown, so Lambda does not retry and alert again', async () => {
      const store = failing(100);
      const d = () => deps({ store, switchOnDeprecation: false });
      const plan = await applyAliases(readAliasEvent(deprecated(NEW)), d());
      expect(plan).not.toBe('done_before');
      expect(logs).toContainEqual(
        expect.objectContaining({
          level: 'ERROR',
          message: 'marking the event done failed; its work is done',
          error: 'Error: ProvisionedThroughputExceededException',
        }),
      );
      // A redelivery while the claim holds is refused without alerting.
      await expect(applyAliases(readAliasEvent(deprecated(NEW)), d())).rejects.toThrow('being applied');
      expect(told).toHaveLength(1);
    });
  });

  test('an announcement that fails does not undo or repeat the change; it is logged', async () => {
    await applyAliases(
      readAliasEvent(deprecated(NEW)),
      deps({
        announce: async () => {
          throw new Error('SNS down');
        },
      }),
    );
    expect(writes).toHaveLength(1);
    expect(logs).toContainEqual(
      expect.objectContaining({ level: 'ERROR', message: 'announcing an alias change failed' }),
    );
  });

  test('anything but model.deprecated or endpoint.ready is refused by name', () => {
    expect(() => readAliasEvent({ 'detail-type': 'batch.done', detail: {} })).toThrow(
      'expected model.deprecated or endpoint.ready, got detail-type batch.done',
    );
  });
});
