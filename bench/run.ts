/**
 * npm run bench: the verifier's verify+parse core against the floor (bare createHmac + JSON.parse) and two
 * widely used webhook libraries, on the same payloads in one run, plus the handler bundle's size and init time.
 * Prints figures and ratios; never asserts on time (that is what tests are not for).
 */
import { execFileSync } from 'node:child_process';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import Stripe from 'stripe';
import { IdempotencyStore } from '../lambda/shared/idempotency';
import {
  decodeRequest,
  handleWebhook,
  verifyAndParse,
  VerifierDeps,
  WebhookRequest,
} from '../lambda/verifier/core';
import { SecretCache } from '../lambda/verifier/secrets';
import { secretToKey } from '../lambda/verifier/signature';
import { bundle } from '../scripts/bundle-handlers';
import { median } from './support/stats';

const SECRET = 'bench-signing-secret-0123456789abcdef';
const WHSEC = 'whsec_' + Buffer.from(SECRET).toString('base64');
const ROUNDS = 7;
const ROUND_MS = 250;

// Dated at the start of the run: the handler refuses an envelope created before its dedupe retention (7 days) as a
// possible replay. Whole seconds, so each payload has the size it had with the fixed date this replaced.
const CREATED_AT = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');

function payload(bytes: number): string {
  const base = { id: 'evt-bench', type: 'batch.done', created_at: CREATED_AT };
  const skeleton = JSON.stringify({
    ...base,
    data: { batch_id: 'b-1', output_url: null, total_tokens: 1, pad: '' },
  });
  const pad = 'x'.repeat(Math.max(0, bytes - skeleton.length));
  return JSON.stringify({ ...base, data: { batch_id: 'b-1', output_url: null, total_tokens: 1, pad } });
}

type Candidate = { name: string; run: () => unknown; async?: boolean };

/** The handler's dependencies at zero latency: what is left is the handler's own work per request. */
function zeroLatencyDeps(scheme: 'together-hmac' | 'standard-webhooks', secret: string): VerifierDeps {
  const store: IdempotencyStore = {
    claim: async () => ({ claimed: true }),
    complete: async () => undefined,
    release: async () => undefined,
  };
  let token = 0;
  return {
    config: { scheme, retentionSeconds: 7 * 86400, metrics: { namespace: 'Bench', service: 'bench' } },
    secrets: new SecretCache(async () => [secret], scheme, 3_600_000, 10_000),
    store,
    publish: async () => undefined,
    log: () => undefined,
    clock: Date.now,
    newToken: () => String(++token),
  };
}

function candidates(body: string): Candidate[] {
  const bytes = Buffer.from(body);
  const hex = createHmac('sha256', SECRET).update(bytes).digest('hex');
  const togetherKeys = [secretToKey('together-hmac', SECRET)];
  const swKeys = [secretToKey('standard-webhooks', WHSEC)];
  const request: WebhookRequest = { headers: { 'x-together-signature': hex }, body, isBase64Encoded: false };

  const stripe = new Stripe('sk_test_bench');
  const stripeHeader = stripe.webhooks.generateTestHeaderString({ payload: body, secret: SECRET });
  const wh = new Webhook(WHSEC);
  const now = new Date();
  const swHeaders = {
    'webhook-id': 'msg_bench',
    'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
    'webhook-signature': wh.sign('msg_bench', now, body),
  };
  const swRequest: WebhookRequest = { headers: swHeaders, body, isBase64Encoded: false };

  const deps = zeroLatencyDeps('together-hmac', SECRET);
  const mustBeOk = (r: { ok: boolean }) => {
    if (!r.ok) throw new Error('benchmark input did not verify');
    return r;
  };
  return [
    {
      name: 'floor: createHmac + JSON.parse',
      run: () => {
        const expected = createHmac('sha256', SECRET).update(body).digest();
        if (!timingSafeEqual(expected, Buffer.from(hex, 'hex'))) throw new Error('mismatch');
        return JSON.parse(body);
      },
    },
    {
      name: 'ours: together-hmac verify+parse',
      run: () => {
        const decoded = decodeRequest(request);
        return mustBeOk(
          decoded.ok ? verifyAndParse(decoded, 'together-hmac', togetherKeys, Date.now()) : decoded,
        );
      },
    },
    {
      name: 'ours: standard-webhooks verify+parse',
      run: () => {
        const decoded = decodeRequest(swRequest);
        return mustBeOk(
          decoded.ok ? verifyAndParse(decoded, 'standard-webhooks', swKeys, Date.now()) : decoded,
        );
      },
    },
    {
      name: 'ours: whole verifier handler (zero-latency store and bus)',
      async: true,
      run: async () => {
        const res = await handleWebhook(request, deps, 10_000);
        if (res.statusCode !== 200) throw new Error(`handler answered ${res.statusCode}: ${res.body}`);
      },
    },
    {
      name: 'stripe-node constructEvent',
      run: () => stripe.webhooks.constructEvent(body, stripeHeader, SECRET),
    },
    { name: 'standardwebhooks verify', run: () => wh.verify(body, swHeaders) },
  ];
}

/**
 * ops/s of each candidate in interleaved rounds, so drift hits all alike. Returns each candidate's rate per round;
 * the cost ratio to the floor is taken round by round, so its spread shows what is noise.
 */
async function measure(list: Candidate[]): Promise<number[][]> {
  for (const c of list) for (let i = 0; i < 200; i++) await c.run();
  const rates: number[][] = list.map(() => []);
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, c] of list.entries()) {
      let n = 0;
      const start = process.hrtime.bigint();
      const stop = start + BigInt(ROUND_MS * 1e6);
      let t = start;
      while (t < stop) {
        if (c.async) for (let k = 0; k < 20; k++) await c.run();
        else for (let k = 0; k < 20; k++) c.run();
        n += 20;
        t = process.hrtime.bigint();
      }
      rates[i].push(n / (Number(t - start) / 1e9));
    }
  }
  return rates;
}

/** Module init of a bundle in fresh node processes: all of it, and ours alone with its SDK clients preloaded. */
function initTimes(file: string, clients: string[], runs = 9): { total: number; ownCode: number } {
  const env = {
    ...process.env,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    AWS_REGION: 'us-east-1',
  };
  const time = (preload: boolean) =>
    Number(
      execFileSync(
        process.execPath,
        [
          '-e',
          `${preload ? `${JSON.stringify(clients)}.forEach(s=>require('@aws-sdk/client-'+s));` : ''}` +
            `const t=performance.now();require(${JSON.stringify(file)});process.stdout.write(String(performance.now()-t))`,
        ],
        { env, cwd: join(__dirname, '..'), encoding: 'utf8' },
      ),
    );
  const total: number[] = [];
  const own: number[] = [];
  for (let i = 0; i < runs; i++) {
    total.push(time(false));
    own.push(time(true));
  }
  return { total: median(total), ownCode: median(own) };
}

async function main() {
  const date = new Date().toISOString().slice(0, 10);
  console.log(
    `## verifier core, ${date} (node ${process.version}, ${ROUNDS} interleaved rounds of ${ROUND_MS} ms)\n`,
  );
  for (const size of [1024, 64 * 1024]) {
    const list = candidates(payload(size));
    const rates = await measure(list);
    console.log(`### ${size / 1024} KB payload\n`);
    console.log('| candidate | ops/s (median) | cost vs floor, median (min-max over rounds) |');
    console.log('| --- | ---: | ---: |');
    list.forEach((c, i) => {
      const ratios = rates[i].map((r, round) => rates[0][round] / r);
      console.log(
        `| ${c.name} | ${Math.round(median(rates[i])).toLocaleString('en-US')} | ` +
          `${median(ratios).toFixed(2)}x (${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)}) |`,
      );
    });
    console.log('');
  }

  const handlers: Array<[string, string[]]> = [
    ['verifier', ['dynamodb', 'eventbridge', 'secrets-manager']],
    ['registration', ['secrets-manager']],
    ['poller', ['dynamodb', 'eventbridge', 'secrets-manager', 'sns']],
  ];
  console.log('### handler bundles: size and cold init (fresh process, median of 9)\n');
  console.log(
    '| handler | minified (@aws-sdk external) | module init | of which our own code (SDK preloaded) |',
  );
  console.log('| --- | ---: | ---: | ---: |');
  for (const [name, clients] of handlers) {
    const { file, bytes } = bundle(name);
    const init = initTimes(file, clients);
    console.log(
      `| ${name} | ${(bytes / 1024).toFixed(1)} KB | ${init.total.toFixed(1)} ms | ${init.ownCode.toFixed(1)} ms |`,
    );
  }
}

void main();
