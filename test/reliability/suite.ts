/**
 * "Nothing lost, nothing twice", measured: signed webhooks at concurrency through a receiver process (the verifier's
 * core and claim path on dynalite), redelivered duplicates, the poller's copies of the same outcomes, faults in
 * windows and a kill between publish and confirm; then fuzzed bad requests. `npm run test:reliability` runs it at
 * full size; a jest test at CI size.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { eventSpec, outcomeKey, sampleEvent, TogetherEnvelope, WEBHOOK_EVENT_TYPES } from '../../lib/events';
import { sendHttp } from '../../lambda/shared/http';
import { deliverOnce, DynamoIdempotencyStore } from '../../lambda/shared/idempotency';
import { handleWebhook, VerifierDeps, WebhookRequest } from '../../lambda/verifier/core';
import { SecretCache } from '../../lambda/verifier/secrets';
import { signatureHeaders } from '../../lambda/verifier/signature';
import { startDynalite } from '../support/dynalite';
import { CLAIM_MS, Fault } from './faults';

export interface ReliabilityOptions {
  readonly events: number;
  readonly concurrency: number;
  readonly fuzz: number;
  readonly log?: (line: string) => void;
}

export interface ReliabilityReport {
  sent: number;
  distinctOutcomes: number;
  published: number;
  lost: string[];
  /** Outcome keys on the bus more than once. */
  twice: string[];
  /** Of those, the ones outside a named crash window (must be none). */
  twiceOutsideWindows: string[];
  crashWindowKeys: number;
  serverErrorsOutsideFaults: number;
  statuses: Record<string, number>;
  pollerCopies: { published: number; duplicate: number };
  kills: number;
  fuzz: {
    sent: number;
    statuses: Record<string, number>;
    crashes: number;
    rssBeforeMb: number;
    rssAfterMb: number;
  };
  seconds: number;
}

const SECRET = 'reliability-signing-secret';
const FAULTS: Fault[] = [
  'dynamodb',
  'putevents-5xx',
  'putevents-failed-entry',
  'putevents-timeout-after-accept',
  'secrets',
  'complete',
  'kill-after-publish',
];

class Receiver {
  url = '';
  kills = 0;
  readonly published: Array<{ key: string; detail: string; fault: string | null; pid: number; at: number }> =
    [];
  readonly windows = new Set<string>();
  /** `${pid} ${key}`: claims the publishing process confirmed. */
  readonly confirmed = new Set<string>();
  private child?: ChildProcess;
  private ready?: Promise<void>;
  private stopping = false;
  private wanted?: Fault;

  constructor(private readonly env: NodeJS.ProcessEnv) {}

  start(): Promise<void> {
    const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'receiver.ts')], {
      env: this.env,
      stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    });
    this.child = child;
    this.ready = new Promise((resolve) => {
      createInterface({ input: child.stdout! }).on('line', (line) => {
        const m = JSON.parse(line) as {
          ready?: number;
          published?: string;
          window?: string;
          completed?: string;
          fault?: string | null;
          pid?: number;
          at?: number;
        };
        if (m.ready) {
          this.url = `http://127.0.0.1:${m.ready}/webhooks/together`;
          // A kill is a one-off: the process after it starts clean.
          if (this.wanted === 'kill-after-publish') this.wanted = undefined;
          this.tell();
          resolve();
        }
        if (m.window) this.windows.add(m.window);
        if (m.completed) this.confirmed.add(`${m.pid} ${m.completed}`);
        if (m.published) {
          const detail = m.published;
          this.published.push({
            key: (JSON.parse(detail) as { outcome_key: string }).outcome_key,
            detail,
            fault: m.fault ?? null,
            pid: m.pid ?? 0,
            at: m.at ?? 0,
          });
        }
      });
    });
    child.on('exit', (_code, signal) => {
      if (this.stopping) return;
      if (signal === 'SIGKILL') this.kills++;
      this.url = '';
      void this.start(); // restarted on the same dynalite, as Lambda would start a new instance
    });
    return this.ready;
  }

  fault(f: Fault | undefined): void {
    this.wanted = f;
    this.tell();
  }

  /** The fault in force goes to the live process; a restarted one gets it once ready. */
  private tell(): void {
    if (this.child?.connected) this.child.send({ fault: this.wanted ?? null }, () => undefined);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.child?.kill('SIGTERM');
    await new Promise((resolve) => this.child?.once('exit', resolve));
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One outcome per id: a type from the catalogue with its outcome fields made unique. */
function eventFor(i: number): TogetherEnvelope {
  // Types Together sends: a receiver refuses the ones only this library produces.
  const type = WEBHOOK_EVENT_TYPES[i % WEBHOOK_EVENT_TYPES.length];
  const sample = sampleEvent(type, `evt_rel_${i}`);
  const data: Record<string, unknown> = { ...sample.data };
  // The first outcome field names the job (fine_tune_id, batch_id, model_id, workflow_id, ...).
  const field = eventSpec(type).outcomeKey[0];
  data[field] = `${field}-${i}`;
  // The receiver reads the real clock: so does created_at (one older than the retention is refused as a replay).
  return { ...sample, created_at: new Date().toISOString(), data };
}

export async function runReliability(opts: ReliabilityOptions): Promise<ReliabilityReport> {
  const log = opts.log ?? (() => undefined);
  const started = Date.now();
  const dynamo = await startDynalite();
  const table = await dynamo.createTable('reliability');
  const receiver = new Receiver({
    ...process.env,
    SECRET,
    TABLE: table,
    DYNAMO_ENDPOINT: dynamo.endpoint,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  });
  await receiver.start();

  // The plan: N sends; 5% of them resend an earlier event (half at once, half at the end); 20% of outcomes get the
  // poller's copy too.
  const distinct = Math.round(opts.events * 0.95);
  const bodies = Array.from({ length: distinct }, (_, i) => JSON.stringify(eventFor(i)));
  const sends: number[] = [...bodies.keys()];
  const late: number[] = [];
  for (let d = 0; d < opts.events - distinct; d++) {
    const which = Math.floor(Math.random() * distinct);
    if (d % 2 === 0) sends.splice(Math.floor(Math.random() * sends.length), 0, which);
    else late.push(which);
  }
  const order = [...sends, ...late];
  const pollerOutcomes = new Set(bodies.map((_, i) => i).filter(() => Math.random() < 0.2));

  // Faults in windows over the run, one at a time; a request counts as "outside" only if no fault was on from its
  // start to its answer.
  let activeFault: Fault | undefined;
  let faultEpoch = 0;
  const windowsAt = new Map(
    FAULTS.map((f, i) => [Math.floor(((i + 1) / (FAULTS.length + 2)) * order.length), f]),
  );
  const statuses: Record<string, number> = {};
  let serverErrorsOutsideFaults = 0;

  const sendOne = async (index: number) => {
    const body = bodies[index];
    for (let attempt = 0; attempt < 40; attempt++) {
      const epoch = faultEpoch;
      const faultAtStart = activeFault;
      const url = receiver.url;
      let status = 0;
      let retryAfter: number | undefined;
      if (url) {
        try {
          const res = await sendHttp({
            url,
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              ...signatureHeaders('together-hmac', SECRET, body),
            },
            body,
            connectTimeoutMs: 2_000,
            timeoutMs: 10_000,
            maxResponseBytes: 1 << 16,
          });
          status = res.status;
          const after = res.headers.get('retry-after');
          retryAfter = after === null ? undefined : Number(after) * 1000;
        } catch {
          status = 0; // the receiver was killed mid-request, or is restarting
        }
      }
      statuses[status] = (statuses[status] ?? 0) + 1;
      if (status >= 500 && faultAtStart === undefined && activeFault === undefined && epoch === faultEpoch)
        serverErrorsOutsideFaults++;
      if (status >= 200 && status < 300) return;
      if (status >= 400 && status < 500 && status !== 409 && status !== 429)
        throw new Error(`a well-formed event was refused: ${status}`);
      // Like a webhook sender: back off, as told when told, capped.
      await sleep(Math.min(2_000, retryAfter ?? 50 * 2 ** Math.min(attempt, 5)) + Math.random() * 50);
    }
    throw new Error(`gave up on event ${index}`);
  };

  // The poller's copy: the same outcome key through the same claim path, from another process's point of view.
  const pollerStore = new DynamoIdempotencyStore(dynamo.client, table);
  const pollerPublished: string[] = [];
  const pollerCopies = { published: 0, duplicate: 0 };
  const pollerCopy = async (index: number) => {
    const envelope = JSON.parse(bodies[index]) as TogetherEnvelope;
    const key = outcomeKey(envelope);
    const detail = JSON.stringify({ ...envelope, id: key, outcome_key: key });
    for (let poll = 0; poll < 40; poll++) {
      const result = await deliverOnce(
        pollerStore,
        {
          id: key,
          deliveryId: key,
          payloadHash: createHash('sha256').update(detail).digest('hex'),
          token: randomUUID(),
          nowMs: Date.now(),
          inProgressMs: CLAIM_MS,
          retentionSeconds: 3600,
        },
        async () => void pollerPublished.push(key),
      );
      if (result.outcome === 'published' || result.outcome === 'duplicate') {
        pollerCopies[result.outcome]++;
        return;
      }
      await sleep(200); // the next poll
    }
    throw new Error(`poller gave up on ${key}`);
  };

  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < order.length) {
      const n = next++;
      const fault = windowsAt.get(n);
      if (fault) {
        activeFault = fault;
        faultEpoch++;
        receiver.fault(fault);
        log(`fault on: ${fault} at send ${n}`);
        setTimeout(
          () => {
            if (activeFault !== fault) return;
            activeFault = undefined;
            faultEpoch++;
            receiver.fault(undefined);
            log(`fault off: ${fault}`);
          },
          fault === 'kill-after-publish' ? 50 : 300,
        );
      }
      const index = order[n];
      await Promise.all([
        sendOne(index),
        pollerOutcomes.has(index) && n < distinct ? pollerCopy(index) : undefined,
      ]);
      if (++done % 1000 === 0) log(`${done} of ${order.length} sent`);
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, worker));
  await sleep(200);

  // What reached a bus (the receiver's or the poller's), by outcome key.
  const counts = new Map<string, number>();
  for (const p of receiver.published) counts.set(p.key, (counts.get(p.key) ?? 0) + 1);
  for (const key of pollerPublished) counts.set(key, (counts.get(key) ?? 0) + 1);
  const expected = bodies.map((b) => outcomeKey(JSON.parse(b) as TogetherEnvelope));
  const twice = [...counts].filter(([, n]) => n > 1).map(([key]) => key);
  const kills = receiver.kills;
  // The named windows, exactly: a copy published whose claim its process never confirmed (killed, complete failing,
  // or PutEvents unanswered).
  for (const p of receiver.published)
    if (!receiver.confirmed.has(`${p.pid} ${p.key}`)) receiver.windows.add(p.key);
  const outside = twice.filter((k) => !receiver.windows.has(k));
  for (const key of outside) {
    const copies = receiver.published.filter((p) => p.key === key).map((p) => ({ ...p, detail: undefined }));
    log(
      `twice outside a window: ${key}: ${JSON.stringify(copies)} poller=${pollerPublished.filter((k) => k === key).length}`,
    );
  }
  await receiver.stop();

  const fuzz = await fuzzRun(opts.fuzz, dynamo.client, table);
  await dynamo.stop();
  return {
    sent: order.length,
    distinctOutcomes: distinct,
    published: counts.size,
    lost: expected.filter((k) => !counts.has(k)),
    twice,
    twiceOutsideWindows: outside,
    crashWindowKeys: receiver.windows.size,
    serverErrorsOutsideFaults,
    statuses,
    pollerCopies,
    kills,
    fuzz,
    seconds: (Date.now() - started) / 1000,
  };
}

/** Bad requests of every kind straight into the verifier: only 400, 401 or 413, never a crash or a 5xx. */
async function fuzzRun(
  n: number,
  client: import('@aws-sdk/client-dynamodb').DynamoDBClient,
  table: string,
): Promise<ReliabilityReport['fuzz']> {
  const deps: VerifierDeps = {
    config: { scheme: 'together-hmac', retentionSeconds: 3600, metrics: { namespace: 'T', service: 'fuzz' } },
    secrets: new SecretCache(async () => [SECRET], 'together-hmac', 3_600_000, 10_000),
    store: new DynamoIdempotencyStore(client, table),
    publish: async () => {
      throw new Error('a bad request reached the bus');
    },
    log: () => undefined,
    clock: Date.now,
    newToken: randomUUID,
  };
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)];
  const randomText = (max: number) =>
    randomBytes(Math.floor(Math.random() * max)).toString(
      pick(['utf8', 'latin1', 'hex', 'base64']) as BufferEncoding,
    );
  const bodies: Array<() => string> = [
    () => '',
    () => randomText(512),
    () => '{"id":',
    () => JSON.stringify({ id: 'x', type: 'batch.done' }),
    () => JSON.stringify({ id: 1, type: 'batch.done', data: {} }),
    () => JSON.stringify({ id: 'x'.repeat(300), type: 'batch.done', data: {} }),
    () => JSON.stringify({ id: 'x', type: 'a\nb', data: {} }),
    () => JSON.stringify({ id: 'x', type: 't', data: [] }),
    () => JSON.stringify([1, 2, 3]),
    () => 'x'.repeat(270_000),
    () => '\uFFFE\uD800',
  ];
  const signatureHeader = (body: string): Record<string, string> => {
    switch (Math.floor(Math.random() * 6)) {
      case 0:
        return {};
      case 1:
        return { 'x-together-signature': randomText(80) };
      case 2:
        return { 'x-together-signature': randomBytes(32).toString('hex') };
      case 3:
        return {
          'X-Together-Signature': signatureHeaders('together-hmac', 'wrong', body)['x-together-signature'],
        };
      case 4:
        // Rightly signed, but the body is bad: 400 (or 413).
        return signatureHeaders('together-hmac', SECRET, body);
      default:
        return {
          'webhook-signature': `v1,${randomBytes(32).toString('base64')}`,
          'webhook-id': 'x',
          'webhook-timestamp': '1',
        };
    }
  };
  const statuses: Record<string, number> = {};
  let crashes = 0;
  global.gc?.();
  const rssBeforeMb = process.memoryUsage().rss / 2 ** 20;
  for (let i = 0; i < n; i++) {
    const body = pick(bodies)();
    const base64 = Math.random() < 0.3;
    const req: WebhookRequest = {
      headers: { ...signatureHeader(body), [randomText(8) || 'x']: randomText(40) },
      body: Math.random() < 0.02 ? null : base64 ? Buffer.from(body).toString('base64') : body,
      isBase64Encoded: base64,
    };
    try {
      const res = await handleWebhook(req, deps, 10_000);
      statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
    } catch {
      crashes++;
    }
  }
  global.gc?.();
  return { sent: n, statuses, crashes, rssBeforeMb, rssAfterMb: process.memoryUsage().rss / 2 ** 20 };
}
