import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { Webhook } from 'standardwebhooks';
import { handleWebhook, WebhookRequest } from '../../../lambda/verifier/core';
import { SecretFormatError } from '../../../lambda/shared/secret-value';
import { dynamoClient, LocalDynamo, startDynalite } from '../../support/dynalite';
import { envelope, SECRET, signedRequest, togetherSignature } from '../../support/signing';
import { BUS, CLAIM_SCOPE, harness, Harness, mockEventBridge } from '../../support/verifier-harness';

let dynamo: LocalDynamo;
const bus = mockEventBridge();
beforeAll(async () => {
  dynamo = await startDynalite();
});
afterAll(async () => {
  bus.eb.restore();
  await dynamo.stop();
});

let h: Harness;
let table: string;
beforeEach(async () => {
  bus.eb.reset();
  bus.acceptAll();
  table = await dynamo.createTable('verifier');
  h = harness({ dynamoClient: dynamo.client, table });
});

const send = (req: WebhookRequest, remainingMs = 10_000) => handleWebhook(req, h.deps, remainingMs);
const json = (res: { body: string }) => JSON.parse(res.body);

describe('a good delivery', () => {
  test('is published once with detail-type from the signed body, then remembered as COMPLETED', async () => {
    const body = envelope('evt-ok');
    const res = await send(signedRequest(body));
    expect(res.statusCode).toBe(200);
    expect(json(res)).toEqual({ received: true, id: 'evt-ok' });
    expect(res.headers['content-type']).toBe('application/json');
    // The signed bytes, untouched, with the outcome key beside the envelope's own fields.
    const detail = `${body.slice(0, -1)},"outcome_key":"fine_tune.completed:ft-123"}`;
    expect(bus.entries()).toEqual([
      { EventBusName: BUS, Source: 'together.ai', DetailType: 'fine_tune.completed', Detail: detail },
    ]);
    // Claimed under the outcome's key in this construct's scope, so a poll of the same outcome is a duplicate too.
    const key = { id: { S: `o#${CLAIM_SCOPE}#fine_tune.completed:ft-123` } };
    const item = await dynamo.client.send(new GetItemCommand({ TableName: table, Key: key }));
    expect(item.Item?.status.S).toBe('COMPLETED');
    expect(item.Item?.delivery_id.S).toBe('evt-ok');
    expect(h.logs[0]).toMatchObject({ id: 'evt-ok', key: 'fine_tune.completed:ft-123' });
  });

  test('a sender cannot name another outcome: an outcome_key in the envelope is replaced', async () => {
    const body = JSON.stringify({
      id: 'evt-spoof',
      type: 'batch.done',
      data: { batch_id: 'b-9', output_url: null, total_tokens: 1 },
      outcome_key: 'batch.done:someone-else',
    });
    expect((await send(signedRequest(body))).statusCode).toBe(200);
    const detail = JSON.parse(bus.entries()[0].Detail);
    expect(detail.outcome_key).toBe('batch.done:b-9');
    expect(bus.entries()[0].Detail.match(/outcome_key/g)).toHaveLength(1);
  });

  test('an event that fits alone but not with its outcome key is refused 413, not half-published', async () => {
    const fixed = JSON.stringify({
      id: 'evt-big',
      type: 'batch.done',
      data: { batch_id: 'b-big', pad: '' },
    }).length;
    // Fits with source and type (the step-1 and parse checks), not once the key is added.
    const pad = 256 * 1024 - 'together.ai'.length - 'batch.done'.length - fixed - 5;
    const body = JSON.stringify({
      id: 'evt-big',
      type: 'batch.done',
      data: { batch_id: 'b-big', pad: 'x'.repeat(pad) },
    });
    const res = await send(signedRequest(body));
    expect(res.statusCode).toBe(413);
    expect(json(res).error).toMatch(/with its type and key; an EventBridge entry holds at most 262144/);
    expect(bus.entries()).toEqual([]);
  });

  test('a redelivery answers 200 duplicate and is not published again', async () => {
    const req = signedRequest(envelope('evt-dup'));
    await send(req);
    h.clock.now += 60_000;
    const again = await send(req);
    expect(again.statusCode).toBe(200);
    expect(json(again)).toEqual({ received: true, id: 'evt-dup', duplicate: true });
    expect(bus.entries()).toHaveLength(1);
    expect(h.logs.map((l) => l.outcome)).toEqual(['published', 'duplicate']);
  });

  test('HTTP API base64 bodies are verified on the decoded bytes', async () => {
    const body = envelope('evt-b64', 'batch.done', { batch_id: 'b-1', output_url: null, total_tokens: 12 });
    const res = await send({
      headers: { 'x-together-signature': togetherSignature(body) },
      body: Buffer.from(body).toString('base64'),
      isBase64Encoded: true,
    });
    expect(res.statusCode).toBe(200);
    expect(bus.entries()[0]).toMatchObject({
      DetailType: 'batch.done',
      Detail: `${body.slice(0, -1)},"outcome_key":"batch.done:b-1"}`,
    });
  });

  test('REST (payload 1.0) header casing is accepted', async () => {
    const body = envelope('evt-rest');
    const res = await send({ headers: { 'X-Together-Signature': togetherSignature(body) }, body });
    expect(res.statusCode).toBe(200);
  });

  test('two deliveries of one outcome under different ids publish once', async () => {
    await send(signedRequest(envelope('evt_first')));
    const second = await send(signedRequest(envelope('evt_second')));
    expect(json(second)).toEqual({ received: true, id: 'evt_second', duplicate: true });
    expect(bus.entries()).toHaveLength(1);
    expect(h.logs[1]).toMatchObject({ outcome: 'duplicate' });
    expect(h.logs[1].PayloadMismatch).toBeUndefined();
  });

  test('detail-type is whatever the signed body says, including types not in the catalogue', async () => {
    const body = envelope('evt-new', 'fine_tune.paused', { fine_tune_id: 'ft-1' });
    const res = await send(signedRequest(body));
    expect(res.statusCode).toBe(200);
    expect(bus.entries()[0].DetailType).toBe('fine_tune.paused');
    expect(h.logs[0]).toMatchObject({ outcome: 'published', UnknownType: 1 });
  });

  test('a known type with incomplete data is still published, and the gap is logged and counted', async () => {
    const body = envelope('evt-loose', 'fine_tune.failed', { fine_tune_id: 'ft-9' });
    const res = await send(signedRequest(body));
    expect(res.statusCode).toBe(200);
    expect(bus.entries()).toHaveLength(1);
    expect(h.logs[0]).toMatchObject({
      outcome: 'published',
      IncompleteData: 1,
      problems: ['data.error_message is missing', 'data.step is missing'],
    });
  });
});

describe('one structured log line per request', () => {
  test('with id, type, outcome, latency and EMF counters, and never the secret, signature or body', async () => {
    const body = envelope('evt-log', 'model.deprecated', {
      model_id: 'm-1',
      replacement_model: 'm-2',
      sunset_date: '2027-01-01',
    });
    const req = signedRequest(body);
    h.clock.now = 1_000;
    const deps = { ...h.deps, clock: () => (h.clock.now += 7) };
    await handleWebhook(req, deps, 10_000);
    expect(h.logs).toHaveLength(1);
    const line = h.logs[0];
    expect(line).toMatchObject({
      level: 'INFO',
      message: 'webhook',
      id: 'evt-log',
      type: 'model.deprecated',
      outcome: 'published',
      status: 200,
      latencyMs: 7,
      Received: 1,
      Published: 1,
      Service: 'test',
    });
    expect(line._aws).toEqual({
      Timestamp: 1_007,
      CloudWatchMetrics: [
        {
          Namespace: 'TogetherWebhooks',
          Dimensions: [['Service']],
          Metrics: [
            { Name: 'Received', Unit: 'Count' },
            { Name: 'Published', Unit: 'Count' },
          ],
        },
      ],
    });
    const text = JSON.stringify(h.logs);
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain(req.headers!['x-together-signature']);
    expect(text).not.toContain('m-2');
  });
});

describe('refusals: 4xx with a reason, nothing published, nothing thrown', () => {
  test.each([
    ['no signature header', { body: envelope('e1') }, 401, /missing x-together-signature/],
    [
      'a wrong signature',
      { ...signedRequest(envelope('e2'), 'not-the-secret') },
      401,
      /signature does not match/,
    ],
    [
      'a short signature',
      { headers: { 'x-together-signature': 'abc' }, body: envelope('e3') },
      401,
      /64 hex/,
    ],
    ['null headers and body', { headers: null, body: null }, 401, /missing/],
    ['not JSON', signedRequest('{"id": "e4",'), 400, /not valid JSON/],
    ['a JSON array', signedRequest('[1,2]'), 400, /JSON object/],
    ['no id', signedRequest('{"type":"batch.done","data":{}}'), 400, /id must be a non-empty string/],
    [
      'an empty id',
      signedRequest('{"id":"","type":"batch.done","data":{}}'),
      400,
      /id must be a non-empty string/,
    ],
    [
      'a numeric id',
      signedRequest('{"id":42,"type":"batch.done","data":{}}'),
      400,
      /id must be a non-empty string/,
    ],
    ['a 257-char id', signedRequest(envelope('x'.repeat(257))), 400, /at most 256 characters \(got 257\)/],
    ['no type', signedRequest('{"id":"e5","data":{}}'), 400, /type must be a non-empty string/],
    ['no data', signedRequest('{"id":"e6","type":"batch.done"}'), 400, /data must be a JSON object/],
    ['bad created_at', signedRequest('{"id":"e7","type":"x","created_at":{},"data":{}}'), 400, /created_at/],
  ])('%s -> %i', async (_name, req, status, reason) => {
    const res = await send(req as WebhookRequest);
    expect(res.statusCode).toBe(status);
    expect(json(res).error).toMatch(reason);
    expect(bus.entries()).toEqual([]);
    expect(h.logs).toHaveLength(1);
    expect(h.logs[0]).toMatchObject({ status, [status === 401 ? 'Rejected' : 'Invalid']: 1 });
  });

  test('a body that is not UTF-8 -> 400', async () => {
    const bytes = Buffer.from([0x7b, 0xff, 0xfe, 0x7d]);
    const res = await send({
      headers: { 'x-together-signature': togetherSignature(bytes) },
      body: bytes.toString('base64'),
      isBase64Encoded: true,
    });
    expect(res.statusCode).toBe(400);
    expect(json(res).error).toBe('body is not valid UTF-8');
  });

  test('a body too large for one EventBridge entry -> 413 before the secret is even read', async () => {
    const body = envelope('big', 'batch.done', { pad: 'x'.repeat(256 * 1024) });
    const res = await send(signedRequest(body));
    expect(res.statusCode).toBe(413);
    expect(json(res).error).toMatch(/EventBridge entry holds at most 262144/);
    expect(h.secretFetches()).toBe(0);
  });

  test('a body that fits alone but not with its detail-type -> 413 after verification', async () => {
    const type = 't'.repeat(128);
    const skeleton = JSON.stringify({ id: 'edge', type, data: { pad: '' } });
    const pad = 256 * 1024 - 'together.ai'.length - skeleton.length - 10;
    const body = JSON.stringify({ id: 'edge', type, data: { pad: 'x'.repeat(pad) } });
    const res = await send(signedRequest(body));
    expect(res.statusCode).toBe(413);
    expect(bus.entries()).toEqual([]);
  });

  test('error bodies never reveal the expected signature', async () => {
    const body = envelope('e8');
    const res = await send({ headers: { 'x-together-signature': '0'.repeat(64) }, body });
    expect(res.body).not.toContain(togetherSignature(body));
  });
});

describe('secret rotation', () => {
  test('a signature from a newly rotated secret refreshes the stale cache once, then passes', async () => {
    h.setSecrets(['old-secret']);
    expect((await send(signedRequest(envelope('r0'), 'old-secret'))).statusCode).toBe(200);
    h.setSecrets(['new-secret', 'old-secret']);
    h.clock.now += 11_000;
    const res = await send(signedRequest(envelope('r1'), 'new-secret'));
    expect(res.statusCode).toBe(200);
    expect(h.secretFetches()).toBe(2);
    // Both stay valid during the overlap.
    expect((await send(signedRequest(envelope('r2'), 'old-secret'))).statusCode).toBe(200);
    expect(h.secretFetches()).toBe(2);
  });

  test('a burst of forged signatures costs at most one refresh per interval', async () => {
    await send(signedRequest(envelope('f0')));
    h.clock.now += 20_000;
    for (let i = 0; i < 20; i++) {
      const res = await send(signedRequest(envelope(`f${i + 1}`), 'forged'));
      expect(res.statusCode).toBe(401);
    }
    expect(h.secretFetches()).toBe(2);
  });
});

describe('Standard Webhooks scheme', () => {
  test('verifies webhook-* headers and publishes', async () => {
    const whsec = 'whsec_' + Buffer.from('standard-webhooks-test-key-32byt').toString('base64');
    h = harness({ dynamoClient: dynamo.client, table, scheme: 'standard-webhooks', secrets: [whsec] });
    const body = envelope('sw-1');
    const ts = new Date(h.clock.now);
    const headers = {
      'Webhook-Id': 'msg_1',
      'Webhook-Timestamp': String(Math.floor(ts.getTime() / 1000)),
      'Webhook-Signature': new Webhook(whsec).sign('msg_1', ts, body),
    };
    expect((await send({ headers, body })).statusCode).toBe(200);
    h.clock.now += 6 * 60_000; // replayed later: refused
    const replay = await send({ headers, body: envelope('sw-2') });
    expect(replay.statusCode).toBe(401);
    expect(bus.entries()).toHaveLength(1);
  });
});

describe('failures where the sender should retry: 5xx, and the retry delivers exactly once', () => {
  test('EventBridge reports a failed entry -> 503, claim released, the retry publishes once', async () => {
    bus.nextPutEvents({
      FailedEntryCount: 1,
      Entries: [{ ErrorCode: 'InternalFailure', ErrorMessage: 'try again' }],
    });
    const req = signedRequest(envelope('p-1'));
    const first = await send(req);
    expect(first.statusCode).toBe(503);
    expect(h.logs[0]).toMatchObject({ outcome: 'publish_error', Failed: 1, level: 'ERROR' });
    expect(String(h.logs[0].error)).toContain('InternalFailure');
    const retry = await send(req);
    expect(retry.statusCode).toBe(200);
    expect(json(retry).duplicate).toBeUndefined();
    expect(await send(req)).toMatchObject({ statusCode: 200 });
    // Two attempts reached EventBridge (one refused, one accepted); the third was a duplicate.
    expect(bus.entries()).toHaveLength(2);
    expect(h.logs.map((l) => l.outcome)).toEqual(['publish_error', 'published', 'duplicate']);
  });

  test('EventBridge unreachable (nothing sent) -> 503 and the claim is released: the retry publishes', async () => {
    bus.nextPutEvents(
      Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:443'), { code: 'ECONNREFUSED' }),
    );
    const req = signedRequest(envelope('p-2'));
    expect((await send(req)).statusCode).toBe(503);
    expect((await send(req)).statusCode).toBe(200);
  });

  test('PutEvents answer lost after sending -> 503 + Retry-After; the claim holds, retries wait; one copy after expiry', async () => {
    // EventBridge took it, but the connection dropped before the answer: it may be on the bus.
    bus.nextPutEvents(() =>
      Promise.reject(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })),
    );
    const req = signedRequest(envelope('p-3'));
    const first = await send(req, 20_000);
    expect(first.statusCode).toBe(503);
    expect(first.headers['retry-after']).toBe('20');
    expect(h.logs[0]).toMatchObject({ outcome: 'publish_unknown', PublishUnknown: 1 });
    h.clock.now += 5_000;
    const retry = await send(req);
    expect(retry.statusCode).toBe(409);
    expect(retry.headers['retry-after']).toBe('15');
    // After the claim's expiry the retry publishes. The first did land here (the mock took it), so this is the
    // README's named window: two copies, and both carry the same outcome_key for the handler to dedupe on.
    h.clock.now += 16_000;
    expect((await send(req)).statusCode).toBe(200);
    expect(bus.entries().map((e) => JSON.parse(e.Detail).outcome_key)).toEqual([
      'fine_tune.completed:ft-123',
      'fine_tune.completed:ft-123',
    ]);
  });

  test('DynamoDB unreachable -> 503 and nothing published', async () => {
    const down = dynamoClient('http://127.0.0.1:9', 1);
    h = harness({ dynamoClient: down, table });
    const res = await send(signedRequest(envelope('d-1')));
    expect(res.statusCode).toBe(503);
    expect(json(res).error).toMatch(/event store unavailable/);
    expect(bus.entries()).toEqual([]);
    down.destroy();
  });

  test('Secrets Manager down past the cache TTL: verified with the last good keys for an hour, counted', async () => {
    let failure: Error | undefined = undefined;
    h = harness({ dynamoClient: dynamo.client, table, failSecrets: () => failure });
    expect((await send(signedRequest(envelope('st-1')))).statusCode).toBe(200);
    failure = new Error('ServiceUnavailableException');
    h.clock.now += 10 * 60_000;
    expect(
      (
        await send(
          signedRequest(
            envelope('st-2', 'batch.done', { batch_id: 'b-st', output_url: null, total_tokens: 1 }),
          ),
        )
      ).statusCode,
    ).toBe(200);
    expect(h.logs.at(-1)).toMatchObject({
      outcome: 'published',
      StaleSecret: 1,
      secretError: expect.stringContaining('ServiceUnavailable'),
    });
    h.clock.now += 60 * 60_000;
    expect((await send(signedRequest(envelope('st-3')))).statusCode).toBe(503);
  });

  test('Secrets Manager failing -> 503; a malformed secret -> 500; neither publishes', async () => {
    let failure: Error | undefined = new Error('ThrottlingException');
    h = harness({ dynamoClient: dynamo.client, table, failSecrets: () => failure });
    expect((await send(signedRequest(envelope('s-1')))).statusCode).toBe(503);
    failure = new SecretFormatError('the signing secret is empty');
    expect((await send(signedRequest(envelope('s-1')))).statusCode).toBe(500);
    failure = undefined;
    expect((await send(signedRequest(envelope('s-1')))).statusCode).toBe(200);
    expect(bus.entries()).toHaveLength(1);
  });

  test('no signature header -> 401 before the secret is fetched: an outage does not turn unsigned junk into 503s', async () => {
    h = harness({ dynamoClient: dynamo.client, table, failSecrets: () => new Error('ServiceUnavailable') });
    const unsigned = {
      headers: { 'content-type': 'application/json' },
      body: envelope('u-1'),
      isBase64Encoded: false,
    };
    const res = await send(unsigned);
    expect(res.statusCode).toBe(401);
    expect(json(res).error).toBe('missing x-together-signature header');
    expect(h.secretFetches()).toBe(0);
    const sw = harness({
      dynamoClient: dynamo.client,
      table,
      scheme: 'standard-webhooks',
      failSecrets: () => new Error('down'),
    });
    expect((await handleWebhook(unsigned, sw.deps, 10_000)).statusCode).toBe(401);
    expect(sw.secretFetches()).toBe(0);
  });

  test('a duplicate arriving while the first is mid-publish -> 409 with Retry-After, never 200', async () => {
    let release!: () => void;
    let publishing!: () => void;
    const midPublish = new Promise<void>((resolve) => (publishing = resolve));
    bus.nextPutEvents(
      () =>
        new Promise((resolve) => {
          release = () => resolve({ FailedEntryCount: 0, Entries: [{ EventId: 'e' }] });
          publishing();
        }),
    );
    const req = signedRequest(envelope('inflight'));
    const first = send(req, 20_000);
    await midPublish;
    const second = await send(req);
    expect(second.statusCode).toBe(409);
    expect(second.headers['retry-after']).toBe('20');
    release();
    expect((await first).statusCode).toBe(200);
    expect(bus.entries()).toHaveLength(1);
  });

  test('the same id signed with a different body is a duplicate, flagged as a payload mismatch', async () => {
    await send(signedRequest(envelope('m-1')));
    const other = await send(
      signedRequest(
        envelope('m-1', 'fine_tune.completed', { fine_tune_id: 'ft-123', model_name: 'other', eval_loss: 1 }),
      ),
    );
    expect(json(other)).toMatchObject({ duplicate: true });
    expect(h.logs[1]).toMatchObject({ outcome: 'duplicate', PayloadMismatch: 1, payloadMismatch: true });
    expect(bus.entries()).toHaveLength(1);
  });
});
