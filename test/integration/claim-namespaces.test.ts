import { GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { randomUUID } from 'node:crypto';
import { autoDeployClaimPrefix, outcomeClaimId } from '../../lib/claim-keys';
import { EVENT_TYPES, eventSpec, sampleEvent } from '../../lib/events';
import { stateKey } from '../../lambda/poller/state';
import { DynamoIdempotencyStore, outcomeClaimKeys, RAW_CLAIM_KEYS } from '../../lambda/shared/idempotency';
import { handleWebhook } from '../../lambda/verifier/core';
import { pollerHarness } from '../support/poller-harness';
import { signedRequest } from '../support/signing';
import { fineTune, HOUR, iso, MINUTE, T0 } from '../support/together-fixtures';
import { CLAIM_SCOPE, harness } from '../support/verifier-harness';

/**
 * Issue 16, defects 2 and 3: claim keys in namespaces no webhook can reach, producer-only types refused on the
 * webhook path, claims scoped per construct, and an upgrade from the unscoped keys that publishes nothing twice.
 */

const h = pollerHarness();
const { together, clock } = h;

/** The verifier of the construct with `scope`, on the poller's table and clock. */
function verifierOf(scope = CLAIM_SCOPE) {
  const v = harness({ dynamoClient: h.dynamo.client, table: h.table, claimScope: scope });
  v.clock.now = clock.t;
  return v;
}

function body(id: string, type: string, data: Record<string, unknown>, createdAt: number | null = clock.t) {
  return JSON.stringify({ id, type, ...(createdAt === null ? {} : { created_at: iso(createdAt) }), data });
}

const completed = (ft: string) => ({ fine_tune_id: ft, model_name: `acme/${ft}`, eval_loss: 0.3 });

async function item(id: string) {
  return (
    await h.dynamo.client.send(
      new GetItemCommand({ TableName: h.table, Key: { id: { S: id } }, ConsistentRead: true }),
    )
  ).Item;
}

describe('no envelope reaches a key that is not its own outcome claim', () => {
  test("an envelope id naming the poller's lease does not stop the poller", async () => {
    const lease = stateKey('test-scope', 'lease');
    const v = verifierOf();
    const res = await handleWebhook(signedRequest(body(lease, 'custom.unknown', {})), v.deps, 10_000);
    expect(res.statusCode).toBe(200); // a type outside the catalogue is still published
    expect(await item(lease)).toBeUndefined();
    expect(await item(outcomeClaimId(CLAIM_SCOPE, `delivery:${lease}`))).toMatchObject({
      status: { S: 'COMPLETED' },
    });
    together.jobs.fineTunes = [fineTune('ft-1', 'completed', T0 - MINUTE)];
    const summary = await h.runPoll();
    expect(summary.outcome).toBe('completed');
    expect(h.keys()).toContain('fine_tune.completed:ft-1');
  });

  test("nor a recipe's claim", async () => {
    const recipeKey = `${autoDeployClaimPrefix('c8recipe')}ft-2`;
    const v = verifierOf();
    expect(
      (await handleWebhook(signedRequest(body(recipeKey, 'custom.unknown', {})), v.deps, 10_000)).statusCode,
    ).toBe(200);
    const recipeStore = new DynamoIdempotencyStore(h.dynamo.client, h.table, RAW_CLAIM_KEYS);
    const claim = await recipeStore.claim({
      id: recipeKey,
      deliveryId: 'ft-2',
      payloadHash: 'acme/ft-2',
      token: randomUUID(),
      nowMs: clock.t,
      inProgressMs: 10_000,
      retentionSeconds: 86400,
    });
    expect(claim).toEqual({ claimed: true });
  });

  test("nor a real outcome's key: an envelope of another type whose id is that key is its own outcome", async () => {
    const v = verifierOf();
    const decoy = await handleWebhook(
      signedRequest(body('fine_tune.completed:ft-3', 'custom.unknown', {})),
      v.deps,
      10_000,
    );
    expect(JSON.parse(decoy.body)).toEqual({ received: true, id: 'fine_tune.completed:ft-3' });
    const real = await handleWebhook(
      signedRequest(body('evt_real', 'fine_tune.completed', completed('ft-3'))),
      v.deps,
      10_000,
    );
    expect(JSON.parse(real.body)).toEqual({ received: true, id: 'evt_real' });
    expect(h.published().map((p) => (p.detail as { outcome_key?: string }).outcome_key)).toEqual([
      'delivery:fine_tune.completed:ft-3',
      'fine_tune.completed:ft-3',
    ]);
  });
});

describe('types only this library produces are refused on the webhook path', () => {
  const produced = EVENT_TYPES.filter((t) => eventSpec(t).producer);

  test('the catalogue has them (poller and recipe types)', () => {
    expect(produced).toEqual(
      expect.arrayContaining([
        'fine_tune.stalled',
        'endpoint.ready',
        'evaluation.completed',
        'batch.collected',
        'fine_tune.retried',
      ]),
    );
  });

  test.each(produced)('%s: 400 with the reason, counted, nothing claimed or published', async (type) => {
    const v = verifierOf();
    const sample = sampleEvent(type, `evt_forged_${type}`);
    const res = await handleWebhook(
      signedRequest(body(sample.id, type, sample.data as Record<string, unknown>)),
      v.deps,
      10_000,
    );
    expect(res.statusCode).toBe(400);
    expect(JSON.parse(res.body).error).toBe(
      `type ${type} is published by this library (${eventSpec(type).producer}), never sent by Together: refused`,
    );
    expect(v.logs[0]).toMatchObject({ outcome: 'invalid', status: 400, ReservedType: 1, Invalid: 1 });
    expect(h.bus.entries()).toEqual([]);
  });

  test('a forged batch.collected does not make the real one "already collected"', async () => {
    const v = verifierOf();
    const forged = body('evt_forged', 'batch.collected', {
      ...sampleEvent('batch.collected').data,
      batch_id: 'b-1',
      s3_uri: 's3://attacker/x',
    });
    expect((await handleWebhook(signedRequest(forged), v.deps, 10_000)).statusCode).toBe(400);
    // The recipe's claim on the same outcome is free.
    const recipe = new DynamoIdempotencyStore(h.dynamo.client, h.table, outcomeClaimKeys(CLAIM_SCOPE));
    const claim = await recipe.claim({
      id: 'batch.collected:b-1',
      deliveryId: 'batch.collected:b-1',
      payloadHash: 'x',
      token: randomUUID(),
      nowMs: clock.t,
      inProgressMs: 10_000,
      retentionSeconds: 86400,
    });
    expect(claim).toEqual({ claimed: true });
  });
});

describe('two constructs sharing one table (defect 3)', () => {
  test('each receives every outcome: a webhook to one is no duplicate to the other', async () => {
    const staging = verifierOf('c8staging');
    const prod = verifierOf('c8prod');
    const pushed = body('evt_1', 'fine_tune.completed', completed('ft-s'));
    const answers = [
      await handleWebhook(signedRequest(pushed), staging.deps, 10_000),
      await handleWebhook(signedRequest(pushed), prod.deps, 10_000),
      await handleWebhook(signedRequest(pushed), prod.deps, 10_000),
    ].map((r) => JSON.parse(r.body));
    expect(answers).toEqual([
      { received: true, id: 'evt_1' },
      { received: true, id: 'evt_1' },
      { received: true, id: 'evt_1', duplicate: true },
    ]);
  });

  test("two pollers watching one account each publish every outcome once, on each one's own claims", async () => {
    together.jobs.fineTunes = [
      fineTune('ft-a', 'completed', T0 - MINUTE),
      fineTune('ft-b', 'error', T0 - MINUTE),
    ];
    const seen: Record<string, string[]> = { staging: [], prod: [] };
    const pollerOf = (name: string) =>
      h.deps(
        {
          store: new DynamoIdempotencyStore(h.dynamo.client, h.table, outcomeClaimKeys(`c8${name}`)),
          publish: async (_type, detail) => void seen[name].push(JSON.parse(detail).outcome_key),
        },
        `c8poller${name}`,
      );
    for (const minute of [0, 1, 2]) {
      clock.t = T0 + minute * MINUTE;
      await h.runPoll(pollerOf('staging'));
      await h.runPoll(pollerOf('prod'));
    }
    expect(seen.staging.sort()).toEqual(['fine_tune.completed:ft-a', 'fine_tune.failed:ft-b']);
    expect(seen.prod.sort()).toEqual(['fine_tune.completed:ft-a', 'fine_tune.failed:ft-b']);
  });

  test("a construct's webhook and its poller still share one claim per outcome", async () => {
    const v = verifierOf(CLAIM_SCOPE);
    const pushed = body('evt_w', 'fine_tune.completed', completed('ft-w'));
    expect((await handleWebhook(signedRequest(pushed), v.deps, 10_000)).statusCode).toBe(200);
    together.jobs.fineTunes = [fineTune('ft-w', 'completed', T0 - MINUTE)];
    expect(await h.runPoll()).toMatchObject({ published: 0, duplicates: 1 });
  });
});

describe('upgrading from the unscoped claims publishes nothing twice', () => {
  /** A claim as the release before wrote it: the outcome key itself, no namespace. */
  async function legacyClaim(key: string, status: string, fields: Record<string, string> = {}) {
    await h.dynamo.client.send(
      new PutItemCommand({
        TableName: h.table,
        Item: {
          id: { S: key },
          status: { S: status },
          expiration: { N: String(Math.floor(clock.t / 1000) + 7 * 86400) },
          delivery_id: { S: 'evt_old' },
          payload_hash: { S: 'old' },
          claim_token: { S: 'old-token' },
          ...Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, { N: v }])),
        },
      }),
    );
  }

  test('an outcome the old release published is a duplicate to the webhook and to the poller', async () => {
    await legacyClaim('fine_tune.completed:ft-old', 'COMPLETED');
    await legacyClaim('fine_tune.failed:ft-old2', 'COMPLETED');
    const v = verifierOf();
    const res = await handleWebhook(
      signedRequest(body('evt_again', 'fine_tune.completed', completed('ft-old'))),
      v.deps,
      10_000,
    );
    expect(JSON.parse(res.body)).toMatchObject({ duplicate: true });
    // Recorded in the new namespace too: the next copy needs no second look.
    expect(await item(outcomeClaimId(CLAIM_SCOPE, 'fine_tune.completed:ft-old'))).toMatchObject({
      status: { S: 'COMPLETED' },
    });
    together.jobs.fineTunes = [fineTune('ft-old2', 'error', T0 - MINUTE)];
    expect(await h.runPoll()).toMatchObject({ published: 0, duplicates: 1 });
    expect(h.bus.entries()).toEqual([]);
  });

  test('one the old release is still publishing is in flight (409); once it lapses it is published, once', async () => {
    await legacyClaim('fine_tune.completed:ft-mid', 'INPROGRESS', {
      in_progress_expiry: String(clock.t + 5_000),
    });
    const v = verifierOf();
    const pushed = signedRequest(body('evt_mid', 'fine_tune.completed', completed('ft-mid')));
    const busy = await handleWebhook(pushed, v.deps, 10_000);
    expect(busy.statusCode).toBe(409);
    expect(busy.headers['retry-after']).toBe('5');
    expect(await item(outcomeClaimId(CLAIM_SCOPE, 'fine_tune.completed:ft-mid'))).toBeUndefined();
    v.clock.now = clock.t + 6_000;
    expect((await handleWebhook(pushed, v.deps, 10_000)).statusCode).toBe(200);
    expect((await handleWebhook(pushed, v.deps, 10_000)).body).toContain('"duplicate":true');
    expect(h.bus.entries()).toHaveLength(1);
  });

  test('an old claim past its retention no longer counts', async () => {
    await legacyClaim('fine_tune.completed:ft-gone', 'COMPLETED');
    const v = verifierOf();
    clock.t += 8 * 86400_000;
    v.clock.now = clock.t;
    const res = await handleWebhook(
      signedRequest(body('evt_gone', 'fine_tune.completed', completed('ft-gone'))),
      v.deps,
      10_000,
    );
    expect(JSON.parse(res.body)).toEqual({ received: true, id: 'evt_gone' });
  });
});

describe('a captured request replayed after the dedupe retention (together-hmac signs no time)', () => {
  test('an envelope created before the retention began is refused (400, TooOld); within it, a duplicate', async () => {
    const v = verifierOf();
    const pushed = signedRequest(body('evt_cap', 'fine_tune.completed', completed('ft-cap'), T0));
    expect((await handleWebhook(pushed, v.deps, 10_000)).statusCode).toBe(200);
    v.clock.now = T0 + 6 * 86400_000;
    expect((await handleWebhook(pushed, v.deps, 10_000)).body).toContain('"duplicate":true');
    v.clock.now = T0 + 7 * 86400_000 + HOUR;
    const late = await handleWebhook(pushed, v.deps, 10_000);
    expect(late.statusCode).toBe(400);
    expect(JSON.parse(late.body).error).toBe(
      `created_at ${iso(T0)} is older than the dedupe retention (7 days): refused as a possible replay`,
    );
    expect(v.logs.at(-1)).toMatchObject({ TooOld: 1, Invalid: 1 });
    expect(h.bus.entries()).toHaveLength(1);
  });

  test('created_at in epoch seconds is read too; one that is absent or unreadable cannot be judged', async () => {
    const v = verifierOf();
    v.clock.now = T0 + 30 * 86400_000;
    const asSeconds = JSON.stringify({
      id: 'evt_s',
      type: 'fine_tune.cancelled',
      created_at: Math.floor(T0 / 1000),
      data: { fine_tune_id: 'ft-s' },
    });
    expect((await handleWebhook(signedRequest(asSeconds), v.deps, 10_000)).statusCode).toBe(400);
    const undated = body('evt_u', 'fine_tune.cancelled', { fine_tune_id: 'ft-u' }, null);
    expect((await handleWebhook(signedRequest(undated), v.deps, 10_000)).statusCode).toBe(200);
    const garbled = JSON.stringify({
      id: 'evt_g',
      type: 'fine_tune.cancelled',
      created_at: 'soon',
      data: { fine_tune_id: 'ft-g' },
    });
    expect((await handleWebhook(signedRequest(garbled), v.deps, 10_000)).statusCode).toBe(200);
    const absurd = JSON.stringify({
      id: 'evt_a',
      type: 'fine_tune.cancelled',
      created_at: -1e300,
      data: { fine_tune_id: 'ft-a' },
    });
    expect((await handleWebhook(signedRequest(absurd), v.deps, 10_000)).statusCode).toBe(200);
  });
});
