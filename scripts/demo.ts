/**
 * The local pipeline, end to end on loopback: signed webhooks -> the verifier's core -> a real DynamoDB engine
 * (dynalite) for the claim -> a local bus that prints what EventBridge would receive. No AWS, no network.
 *   npm run demo
 */
import { createHmac, randomUUID } from 'node:crypto';
import { EVENT_TYPES, sampleEvent } from '../lib/events';
import { DynamoIdempotencyStore } from '../lambda/shared/idempotency';
import { handleWebhook, WebhookRequest } from '../lambda/verifier/core';
import { SecretCache } from '../lambda/verifier/secrets';
import { startDynalite } from '../test/support/dynalite';

const SECRET = 'demo-signing-secret';
const sign = (body: string) => createHmac('sha256', SECRET).update(body).digest('hex');
const request = (body: string, signature = sign(body)): WebhookRequest => ({
  headers: { 'x-together-signature': signature },
  body,
});

async function main(): Promise<number> {
  const dynamo = await startDynalite();
  try {
    const table = await dynamo.createTable('demo-dedupe');
    const published: string[] = [];
    const deps = {
      config: {
        scheme: 'together-hmac' as const,
        retentionSeconds: 7 * 86400,
        metrics: { namespace: 'TogetherWebhooks', service: 'demo' },
      },
      secrets: new SecretCache(async () => [SECRET], 'together-hmac', 300_000, 10_000),
      store: new DynamoIdempotencyStore(dynamo.client, table),
      publish: async (detailType: string, detail: string) => {
        published.push(detailType);
        console.log(`  bus <- detail-type=${detailType} detail=${detail.slice(0, 90)}...`);
      },
      log: () => undefined,
      clock: Date.now,
      newToken: randomUUID,
    };

    const first = JSON.stringify(sampleEvent('fine_tune.completed', 'evt-demo-0'));
    const cases: Array<[string, WebhookRequest, number]> = [
      ...EVENT_TYPES.map((type, i): [string, WebhookRequest, number] => [
        type,
        request(JSON.stringify(sampleEvent(type, `evt-demo-${i}`))),
        200,
      ]),
      ['redelivery of the first', request(first), 200],
      ['forged signature', request(first, sign('something else')), 401],
      ['not JSON', request('{"id":'), 400],
      ['too large', request('x'.repeat(300_000)), 413],
    ];
    let wrong = 0;
    for (const [name, req, expected] of cases) {
      const res = await handleWebhook(req, deps, 10_000);
      const ok = res.statusCode === expected;
      if (!ok) wrong++;
      console.log(`${ok ? 'ok ' : 'BAD'} ${name.padEnd(26)} -> ${res.statusCode} ${res.body}`);
    }
    console.log(
      `\n${published.length} events published for ${EVENT_TYPES.length} distinct ids; ${wrong} unexpected answers`,
    );
    return wrong === 0 && published.length === EVENT_TYPES.length ? 0 : 1;
  } finally {
    await dynamo.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
