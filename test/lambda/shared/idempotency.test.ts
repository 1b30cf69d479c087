import { ConditionalCheckFailedException, GetItemCommand } from '@aws-sdk/client-dynamodb';
import {
  ClaimRequest,
  deliverOnce,
  DynamoIdempotencyStore,
  STATUS_COMPLETED,
  STATUS_IN_PROGRESS,
} from '../../../lambda/shared/idempotency';
import { PublishError, publishOutcomeUnknown } from '../../../lambda/shared/publisher';
import { dynamoClient, LocalDynamo, startDynalite } from '../../support/dynalite';

let dynamo: LocalDynamo;
beforeAll(async () => {
  dynamo = await startDynalite();
});
afterAll(() => dynamo.stop());

const NOW = Date.UTC(2026, 10, 23, 12, 0, 0);
const RETENTION = 7 * 86400;
let tokens = 0;

function request(id: string, overrides: Partial<ClaimRequest> = {}): ClaimRequest {
  return {
    id,
    deliveryId: id,
    payloadHash: 'hash-a',
    token: `token-${++tokens}`,
    nowMs: NOW,
    inProgressMs: 30_000,
    retentionSeconds: RETENTION,
    ...overrides,
  };
}

async function readRecord(table: string, id: string) {
  const out = await dynamo.client.send(new GetItemCommand({ TableName: table, Key: { id: { S: id } } }));
  return out.Item;
}

/** A bus stand-in that records every publish and can be told to fail. */
function recordingBus(opts: { failTimes?: number } = {}) {
  const published: string[] = [];
  let failures = opts.failTimes ?? 0;
  return {
    published,
    publish: (id: string) => async () => {
      if (failures > 0) {
        failures--;
        throw new Error('EventBridge said no');
      }
      published.push(id);
    },
  };
}

describe('deliverOnce against DynamoDB (dynalite)', () => {
  let table: string;
  let store: DynamoIdempotencyStore;
  beforeEach(async () => {
    table = await dynamo.createTable('dedupe');
    store = new DynamoIdempotencyStore(dynamo.client, table);
  });

  test('first delivery publishes and leaves a COMPLETED record with a TTL', async () => {
    const bus = recordingBus();
    const result = await deliverOnce(store, request('evt-1'), bus.publish('evt-1'));
    expect(result).toEqual({ outcome: 'published' });
    expect(bus.published).toEqual(['evt-1']);
    const item = await readRecord(table, 'evt-1');
    expect(item?.status.S).toBe(STATUS_COMPLETED);
    expect(Number(item?.expiration.N)).toBe(Math.floor(NOW / 1000) + RETENTION);
    expect(item?.in_progress_expiry).toBeUndefined();
    expect(item?.payload_hash.S).toBe('hash-a');
  });

  test("the completed claim records the bus's event id and the delivery's time (trace reads them)", async () => {
    const result = await deliverOnce(
      store,
      request('evt-receipt', { nowMs: NOW + 1_234 }),
      async () => 'eb-event-7f3a',
    );
    expect(result).toEqual({ outcome: 'published' });
    const item = await readRecord(table, 'evt-receipt');
    expect([item?.status.S, item?.event_id?.S, item?.published_at?.N]).toEqual([
      STATUS_COMPLETED,
      'eb-event-7f3a',
      String(NOW + 1_234),
    ]);
    // A publisher that gives no id: the time alone.
    await deliverOnce(store, request('evt-no-id'), async () => undefined);
    const bare = await readRecord(table, 'evt-no-id');
    expect([bare?.event_id, bare?.published_at?.N]).toEqual([undefined, String(NOW)]);
  });

  test('a completed duplicate is not published again', async () => {
    const bus = recordingBus();
    await deliverOnce(store, request('evt-2'), bus.publish('evt-2'));
    const again = await deliverOnce(store, request('evt-2', { nowMs: NOW + 60_000 }), bus.publish('evt-2'));
    expect(again).toEqual({ outcome: 'duplicate', payloadMismatch: false });
    expect(bus.published).toEqual(['evt-2']);
  });

  test('the same delivery id with another payload is flagged as a mismatch and still not published', async () => {
    const bus = recordingBus();
    await deliverOnce(store, request('evt-3'), bus.publish('evt-3'));
    const other = await deliverOnce(store, request('evt-3', { payloadHash: 'hash-b' }), bus.publish('evt-3'));
    expect(other).toEqual({ outcome: 'duplicate', payloadMismatch: true });
    expect(bus.published).toHaveLength(1);
  });

  test('the same outcome under another delivery id (the other path) is a plain duplicate', async () => {
    const bus = recordingBus();
    await deliverOnce(
      store,
      request('outcome-1', { deliveryId: 'evt_from_webhook' }),
      bus.publish('outcome-1'),
    );
    const polled = await deliverOnce(
      store,
      request('outcome-1', { deliveryId: 'outcome-1', payloadHash: 'hash-poller' }),
      bus.publish('outcome-1'),
    );
    expect(polled).toEqual({ outcome: 'duplicate', payloadMismatch: false });
    expect(bus.published).toHaveLength(1);
  });

  test('50 concurrent deliveries of one id publish exactly once; the other 49 are told to retry', async () => {
    // The winner holds its publish until every other delivery has answered, so all of them race a live claim.
    let others = 0;
    let allAnswered!: () => void;
    const othersDone = new Promise<void>((resolve) => (allAnswered = resolve));
    const published: string[] = [];
    const deliveries = Array.from({ length: 50 }, () =>
      deliverOnce(store, request('evt-race'), async () => {
        await othersDone;
        published.push('evt-race');
      }).then((result) => {
        if (result.outcome !== 'published' && ++others === 49) allAnswered();
        return result;
      }),
    );
    const results = await Promise.all(deliveries);
    expect(published).toEqual(['evt-race']);
    const outcomes = results.map((r) => r.outcome);
    expect(outcomes.filter((o) => o === 'published')).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'in_flight')).toHaveLength(49);
    for (const r of results) {
      if (r.outcome === 'in_flight') expect(r.retryAfterSeconds).toBe(30);
    }
    const again = await deliverOnce(store, request('evt-race'), async () => {
      published.push('late');
    });
    expect(again.outcome).toBe('duplicate');
    expect(published).toEqual(['evt-race']);
  });

  test('a duplicate while the first is still in flight is told when to retry, never accepted', async () => {
    let releasePublish!: () => void;
    let publishing!: () => void;
    const gate = new Promise<void>((resolve) => (releasePublish = resolve));
    const claimed = new Promise<void>((resolve) => (publishing = resolve));
    const published: string[] = [];
    const first = deliverOnce(store, request('evt-4'), async () => {
      publishing();
      await gate;
      published.push('first');
    });
    await claimed; // the first holds the claim and is mid-publish
    const second = await deliverOnce(store, request('evt-4', { nowMs: NOW + 5_000 }), async () => {
      published.push('second');
    });
    expect(second).toEqual({ outcome: 'in_flight', retryAfterSeconds: 25, payloadMismatch: false });
    releasePublish();
    expect(await first).toEqual({ outcome: 'published' });
    expect(published).toEqual(['first']);
  });

  test('a failed publish releases the claim, and the retry publishes exactly once', async () => {
    const bus = recordingBus({ failTimes: 1 });
    const failed = await deliverOnce(store, request('evt-5'), bus.publish('evt-5'));
    expect(failed.outcome).toBe('publish_error');
    expect(await readRecord(table, 'evt-5')).toBeUndefined();
    const retry = await deliverOnce(store, request('evt-5', { nowMs: NOW + 1_000 }), bus.publish('evt-5'));
    expect(retry).toEqual({ outcome: 'published' });
    const third = await deliverOnce(store, request('evt-5', { nowMs: NOW + 2_000 }), bus.publish('evt-5'));
    expect(third.outcome).toBe('duplicate');
    expect(bus.published).toEqual(['evt-5']);
  });

  test('an abandoned in-progress claim is taken over once its expiry has passed', async () => {
    // A verifier that died mid-publish: its claim is there, never completed.
    expect(await store.claim(request('evt-6'))).toEqual({ claimed: true });
    const bus = recordingBus();
    const early = await deliverOnce(store, request('evt-6', { nowMs: NOW + 29_000 }), bus.publish('evt-6'));
    expect(early.outcome).toBe('in_flight');
    const late = await deliverOnce(store, request('evt-6', { nowMs: NOW + 31_000 }), bus.publish('evt-6'));
    expect(late).toEqual({ outcome: 'published' });
    expect(bus.published).toEqual(['evt-6']);
  });

  test('a late owner cannot release or complete a claim that was taken over', async () => {
    const stale = request('evt-7');
    await store.claim(stale);
    const taker = request('evt-7', { nowMs: NOW + 31_000 });
    expect(await store.claim(taker)).toEqual({ claimed: true });
    await store.release(stale); // condition fails quietly: not ours any more
    expect((await readRecord(table, 'evt-7'))?.claim_token.S).toBe(taker.token);
    await expect(store.complete(stale)).rejects.toThrow();
    expect((await readRecord(table, 'evt-7'))?.status.S).toBe(STATUS_IN_PROGRESS);
  });

  test('a record past its retention (TTL not yet swept) no longer blocks the id', async () => {
    const bus = recordingBus();
    await deliverOnce(store, request('evt-8'), bus.publish('evt-8'));
    const afterRetention = NOW + (RETENTION + 1) * 1000;
    const again = await deliverOnce(store, request('evt-8', { nowMs: afterRetention }), bus.publish('evt-8'));
    expect(again).toEqual({ outcome: 'published' });
    expect(bus.published).toEqual(['evt-8', 'evt-8']);
  });

  test('the in-progress record carries its expiry and a TTL, so an abandoned claim is swept too', async () => {
    await store.claim(request('evt-9', { inProgressMs: 12_345 }));
    const item = await readRecord(table, 'evt-9');
    expect(item?.status.S).toBe(STATUS_IN_PROGRESS);
    expect(Number(item?.in_progress_expiry.N)).toBe(NOW + 12_345);
    expect(Number(item?.expiration.N)).toBe(Math.floor(NOW / 1000) + RETENTION);
  });

  test('DynamoDB unreachable: store_error and nothing published', async () => {
    const down = dynamoClient('http://127.0.0.1:9', 1);
    const bus = recordingBus();
    const result = await deliverOnce(
      new DynamoIdempotencyStore(down, table),
      request('evt-10'),
      bus.publish('evt-10'),
    );
    expect(result.outcome).toBe('store_error');
    expect(bus.published).toEqual([]);
    down.destroy();
  });

  test('a missing table (misconfiguration) is a store error, not a publish', async () => {
    const bus = recordingBus();
    const result = await deliverOnce(
      new DynamoIdempotencyStore(dynamo.client, 'no-such-table'),
      request('evt-11'),
      bus.publish('evt-11'),
    );
    expect(result.outcome).toBe('store_error');
    expect(bus.published).toEqual([]);
  });

  test('completion failing after a publish still reports published (the event is on the bus)', async () => {
    const bus = recordingBus();
    const flaky = new DynamoIdempotencyStore(dynamo.client, table);
    flaky.complete = async () => {
      throw new Error('throttled');
    };
    const result = await deliverOnce(flaky, request('evt-12'), bus.publish('evt-12'));
    expect(result.outcome).toBe('published');
    expect(result.outcome === 'published' && String(result.completeError)).toContain('throttled');
    expect(bus.published).toEqual(['evt-12']);
  });

  test('complete is retried, bounded and jittered: a second failure in a row still ends COMPLETED', async () => {
    const bus = recordingBus();
    const flaky = new DynamoIdempotencyStore(dynamo.client, table);
    const real = flaky.complete.bind(flaky);
    let calls = 0;
    flaky.complete = async (req) => {
      if (++calls <= 2) throw new Error('ProvisionedThroughputExceededException');
      return real(req);
    };
    const sleeps: number[] = [];
    const result = await deliverOnce(flaky, request('evt-13'), bus.publish('evt-13'), {
      sleep: async (ms) => void sleeps.push(ms),
      random: () => 0.999,
    });
    expect(result).toEqual({ outcome: 'published' });
    expect(calls).toBe(3);
    // Full jitter below 50 ms, then below 100 ms.
    expect(sleeps).toEqual([49, 99]);
    expect((await readRecord(table, 'evt-13'))?.status.S).toBe(STATUS_COMPLETED);
  });

  test('complete gives up after three attempts, and never retries a claim it lost', async () => {
    const bus = recordingBus();
    const flaky = new DynamoIdempotencyStore(dynamo.client, table);
    let calls = 0;
    flaky.complete = async () => {
      calls++;
      throw new Error('throttled');
    };
    const noWait = { sleep: async () => undefined, random: () => 0 };
    const result = await deliverOnce(flaky, request('evt-14'), bus.publish('evt-14'), noWait);
    expect(result.outcome === 'published' && String(result.completeError)).toContain('throttled');
    expect(calls).toBe(3);

    // Taken over meanwhile: the conditional check fails, and trying again cannot help.
    const lost = new DynamoIdempotencyStore(dynamo.client, table);
    let lostCalls = 0;
    lost.complete = async () => {
      lostCalls++;
      throw new ConditionalCheckFailedException({ message: 'not yours', $metadata: {} });
    };
    await deliverOnce(lost, request('evt-15'), bus.publish('evt-15'), noWait);
    expect(lostCalls).toBe(1);
  });

  test('a publish whose outcome is unknown keeps the claim until it expires: retries wait, then one goes through', async () => {
    const accepted: string[] = [];
    const timeout = Object.assign(new Error('no answer within 3000 ms'), { name: 'TimeoutError' });
    // EventBridge took the entry, but the answer never came.
    const lostAnswer = async () => {
      accepted.push('evt-16');
      throw timeout;
    };
    const first = await deliverOnce(store, request('evt-16'), lostAnswer, { outcomeUnknown: () => true });
    expect(first).toEqual({ outcome: 'publish_unknown', error: timeout, retryAfterSeconds: 30 });
    expect((await readRecord(table, 'evt-16'))?.status.S).toBe(STATUS_IN_PROGRESS);
    // The sender's retry meanwhile: told to come back, not published a second time.
    const retry = await deliverOnce(store, request('evt-16', { nowMs: NOW + 10_000 }), async () => {
      accepted.push('evt-16 again');
    });
    expect(retry).toMatchObject({ outcome: 'in_flight', retryAfterSeconds: 20 });
    expect(accepted).toEqual(['evt-16']);
    // After the claim's expiry the retry goes through: the copy carries the same outcome key (the named window).
    const late = await deliverOnce(store, request('evt-16', { nowMs: NOW + 31_000 }), async () => {
      accepted.push('evt-16 again');
    });
    expect(late.outcome).toBe('published');
  });

  test('a publish EventBridge refused releases the claim at once (its outcome is known)', async () => {
    const refused = async () => {
      throw new PublishError('EventBridge rejected the event: InternalFailure');
    };
    const result = await deliverOnce(store, request('evt-17'), refused, {
      outcomeUnknown: publishOutcomeUnknown,
    });
    expect(result.outcome).toBe('publish_error');
    expect(await readRecord(table, 'evt-17')).toBeUndefined();
  });
});

describe('publishOutcomeUnknown: which PutEvents failures may have put the event on the bus', () => {
  test('an answer that refused it: known; no answer, or a server fault: unknown', () => {
    expect(publishOutcomeUnknown(new PublishError('FailedEntryCount 1'))).toBe(false);
    expect(
      publishOutcomeUnknown({
        name: 'ValidationException',
        $fault: 'client',
        $metadata: { httpStatusCode: 400 },
      }),
    ).toBe(false);
    expect(
      publishOutcomeUnknown({
        name: 'ThrottlingException',
        $fault: 'client',
        $metadata: { httpStatusCode: 400 },
      }),
    ).toBe(false);
    expect(
      publishOutcomeUnknown({
        name: 'InternalException',
        $fault: 'server',
        $metadata: { httpStatusCode: 500 },
      }),
    ).toBe(true);
    expect(publishOutcomeUnknown(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }))).toBe(
      true,
    );
    expect(publishOutcomeUnknown(Object.assign(new Error('timed out'), { name: 'TimeoutError' }))).toBe(true);
  });
});
