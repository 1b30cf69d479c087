import fc from 'fast-check';
import { handleWebhook, WebhookRequest } from '../../../lambda/verifier/core';
import { LocalDynamo, startDynalite } from '../../support/dynalite';
import { SECRET, togetherSignature } from '../../support/signing';
import { harness, Harness, mockEventBridge } from '../../support/verifier-harness';

// Property: whatever arrives, the verifier answers 4xx (or 200 for a real event), never 5xx, never throws.
let dynamo: LocalDynamo;
let h: Harness;
const bus = mockEventBridge();
beforeAll(async () => {
  dynamo = await startDynalite();
  h = harness({ dynamoClient: dynamo.client, table: await dynamo.createTable('fuzz') });
});
afterAll(async () => {
  bus.eb.restore();
  await dynamo.stop();
});

const headerName = fc.constantFrom(
  'x-together-signature',
  'X-Together-Signature',
  'X-TOGETHER-SIGNATURE',
  'content-type',
  'webhook-signature',
  'x-other',
);
const signatureValue = fc.oneof(
  fc.string(),
  fc.stringMatching(/^[0-9a-fA-F]{0,70}$/),
  fc.constant(''),
  fc.constant('0'.repeat(64)),
  fc.base64String(),
  fc.string({ unit: 'grapheme' }),
);
const bodyText = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary' }),
  fc.json(),
  fc.constant('{"id":"a","type":"fine_tune.completed","data":{}}'),
  fc
    .record({ id: fc.anything(), type: fc.anything(), data: fc.anything() })
    .map((v) => JSON.stringify(v) ?? ''),
);
const request: fc.Arbitrary<WebhookRequest> = fc.record(
  {
    headers: fc.oneof(
      fc.constant(null),
      fc.dictionary(headerName, fc.oneof(signatureValue, fc.constant(undefined as unknown as string))),
    ),
    body: fc.oneof(bodyText, fc.constant(null), fc.constant(undefined as unknown as string)),
    isBase64Encoded: fc.oneof(fc.boolean(), fc.constant(undefined as unknown as boolean)),
  },
  { requiredKeys: [] },
);

test('arbitrary unsigned requests: only 400/401/413, never a throw or a 5xx', async () => {
  await fc.assert(
    fc.asyncProperty(request, async (req) => {
      const res = await handleWebhook(req, h.deps, 5_000);
      expect([400, 401, 413]).toContain(res.statusCode);
      expect(() => JSON.parse(res.body)).not.toThrow();
    }),
    { numRuns: 400 },
  );
  expect(bus.entries()).toEqual([]);
});

test('correctly signed arbitrary bytes: 200 only for a valid envelope, else 400/413, never a 5xx', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(
        bodyText.map((t) => Buffer.from(t)),
        fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
      ),
      fc.boolean(),
      async (bytes, asBase64) => {
        const req: WebhookRequest = {
          headers: { 'x-together-signature': togetherSignature(bytes, SECRET) },
          body: asBase64 ? bytes.toString('base64') : bytes.toString('utf8'),
          isBase64Encoded: asBase64,
        };
        const res = await handleWebhook(req, h.deps, 5_000);
        // A non-base64 body that is not UTF-8 changes in transit, so its signature fails: 401 is right then.
        expect([200, 400, 401, 413]).toContain(res.statusCode);
        if (asBase64) expect(res.statusCode).not.toBe(401);
      },
    ),
    { numRuns: 400 },
  );
});
