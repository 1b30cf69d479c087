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
import { CAUSE_HEADER, CLAIM_MS, Fault, FAULTS_HEADER, RECEIVER_HEADER, ReceiverCommand } from './faults';

export interface ReliabilityOptions {
  readonly events: number;
  readonly concurrency: number;
  readonly fuzz: number;
  readonly log?: (line: string) => void;
}

/** One fault's window, from the receiver's side: how often it injected the fault, and what it answered under it. */
export interface FaultReport {
  /** Times the receiver process injected it (a refused call, or the kill). */
  fired: number;
  /** Answers the receiver tagged with it (in force at some moment while it handled the request). */
  answered: number;
  serverErrors: number;
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
  /**
   * 5xx answers the receiver gave with no fault in force while it handled the request, none of them the local
   * engine's failing (must be none): each the verifier's `<outcome>:<error>`.
   */
  serverErrorsOutsideFaults: string[];
  /**
   * 5xx answers with no fault in force because the suite's own DynamoDB engine (dynalite, on a loaded machine)
   * failed or was too slow: a dependency failure, which the verifier rightly answers 5xx to (the sender retries).
   */
  storeErrorsOutsideFaults: string[];
  statuses: Record<string, number>;
  pollerCopies: { published: number; duplicate: number };
  kills: number;
  /** Receiver exits the suite did not cause (neither the kill fault nor the stop): must be none. */
  crashes: number;
  faults: Record<Fault, FaultReport>;
  fuzz: {
    sent: number;
    statuses: Record<string, number>;
    crashes: number;
    rssBeforeMb: number;
    rssAfterMb: number;
  };
  seconds: number;
}

// This run's own: a request that reached another run's receiver (a reused port) is refused there, not published.
const SECRET = `reliability-${randomUUID()}`;
const RECEIVER_ID = randomUUID();
export const FAULTS: Fault[] = [
  'dynamodb',
  'putevents-5xx',
  'putevents-failed-entry',
  'putevents-timeout-after-accept',
  'secrets',
  'complete',
  'kill-after-publish',
];
/**
 * Fresh events each window sends itself, one at a time, while its fault is confirmed on: nothing else sends them or
 * holds their claims, so each reaches the faulty call (two cover a Secrets Manager load another request had begun).
 */
const WINDOW_EVENTS = 3;

class Receiver {
  url = '';
  kills = 0;
  crashes = 0;
  readonly published: Array<{ key: string; detail: string; fault: string | null; pid: number }> = [];
  readonly windows = new Set<string>();
  /** `${pid} ${key}`: claims the publishing process confirmed. */
  readonly confirmed = new Set<string>();
  /** Each fault's injections, as the receiver reported them. */
  readonly fired = new Map<Fault, number>();
  private child?: ChildProcess;
  private closed: Promise<void> = Promise.resolve();
  private stopping = false;
  private wanted?: Fault;
  private seq = 0;
  private acked = 0;
  private syncs = 0;
  private synced = 0;
  private waiters: Array<{ done: () => boolean; resolve: () => void }> = [];

  constructor(private readonly env: NodeJS.ProcessEnv) {}

  start(): Promise<void> {
    const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'receiver.ts')], {
      env: this.env,
      stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    });
    this.child = child;
    // 'close' comes once the child's stdout has ended: every line it wrote has been read by then.
    this.closed = new Promise((resolve) => child.once('close', () => resolve()));
    child.on('exit', () => {
      this.url = '';
    });
    child.once('close', (_code, signal) => {
      if (this.stopping) return;
      if (signal === 'SIGKILL') {
        this.kills++;
        // A kill is a one-off: the process after it starts clean.
        if (this.wanted === 'kill-after-publish') this.wanted = undefined;
      } else this.crashes++;
      void this.start(); // restarted on the same dynalite, as Lambda would start a new instance
    });
    return new Promise((resolve) => {
      createInterface({ input: child.stdout! }).on('line', (line) => {
        const m = JSON.parse(line) as {
          ready?: number;
          ack?: number;
          synced?: number;
          fired?: Fault;
          published?: string;
          window?: string;
          completed?: string;
          fault?: string | null;
          pid?: number;
        };
        if (m.ready) {
          this.url = `http://127.0.0.1:${m.ready}/webhooks/together`;
          this.tell();
          if (this.synced < this.syncs) this.askSync();
          resolve();
        }
        if (m.ack !== undefined) this.acked = Math.max(this.acked, m.ack);
        if (m.synced !== undefined) this.synced = Math.max(this.synced, m.synced);
        if (m.fired) this.fired.set(m.fired, (this.fired.get(m.fired) ?? 0) + 1);
        if (m.window) this.windows.add(m.window);
        if (m.completed) this.confirmed.add(`${m.pid} ${m.completed}`);
        if (m.published) {
          const detail = m.published;
          this.published.push({
            key: (JSON.parse(detail) as { outcome_key: string }).outcome_key,
            detail,
            fault: m.fault ?? null,
            pid: m.pid ?? 0,
          });
        }
        this.wake();
      });
    });
  }

  /** Resolves once the receiver process confirmed it holds `f` (undefined: none); a restarted one is told on start. */
  fault(f: Fault | undefined): Promise<void> {
    this.wanted = f;
    const seq = ++this.seq;
    this.tell();
    return this.until(() => this.acked >= seq);
  }

  /** Resolves once every line the receiver wrote before now has been read (a killed one's included). */
  sync(): Promise<void> {
    const n = ++this.syncs;
    this.askSync();
    return this.until(() => this.synced >= n);
  }

  /** Sends to the live process; one not up yet is told when it is ready. */
  private send(command: ReceiverCommand): void {
    if (this.child?.connected) this.child.send(command, () => undefined);
  }

  private tell(): void {
    this.send({ fault: this.wanted ?? null, seq: this.seq });
  }

  private askSync(): void {
    this.send({ sync: this.syncs });
  }

  private until(done: () => boolean): Promise<void> {
    return new Promise((resolve) => {
      if (done()) resolve();
      else this.waiters.push({ done, resolve });
    });
  }

  private wake(): void {
    this.waiters = this.waiters.filter((w) => (w.done() ? (w.resolve(), false) : true));
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.child?.kill('SIGTERM');
    await this.closed;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One outcome per id: a type from the catalogue with its outcome fields made unique. */
function eventFor(i: number, createdAt: string): TogetherEnvelope {
  // Types Together sends: a receiver refuses the ones only this library produces.
  const type = WEBHOOK_EVENT_TYPES[i % WEBHOOK_EVENT_TYPES.length];
  // Dated by the run's clock (the receiver's too), not the catalogue sample's fixed date.
  const sample = { ...sampleEvent(type, `evt_rel_${i}`), created_at: createdAt };
  const data: Record<string, unknown> = { ...sample.data };
  // The first outcome field names the job (fine_tune_id, batch_id, model_id, workflow_id, ...).
  const field = eventSpec(type).outcomeKey[0];
  data[field] = `${field}-${i}`;
  return { ...sample, data };
}

export async function runReliability(opts: ReliabilityOptions): Promise<ReliabilityReport> {
  const log = opts.log ?? (() => undefined);
  const started = Date.now();
  const dynamo = await startDynalite();
  const table = await dynamo.createTable('reliability');
  const receiver = new Receiver({
    ...process.env,
    SECRET,
    RECEIVER_ID,
    TABLE: table,
    DYNAMO_ENDPOINT: dynamo.endpoint,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  });
  try {
    await receiver.start();
    return await run(opts, log, receiver, dynamo.client, table, started);
  } finally {
    await receiver.stop();
    await dynamo.stop();
  }
}

async function run(
  opts: ReliabilityOptions,
  log: (line: string) => void,
  receiver: Receiver,
  client: import('@aws-sdk/client-dynamodb').DynamoDBClient,
  table: string,
  started: number,
): Promise<ReliabilityReport> {
  // The plan: N sends; 5% of them resend an earlier event (half at once, half at the end); 20% of outcomes get the
  // poller's copy too. Each fault window's own events are set aside: sent once, in the window, with no copy.
  const distinct = Math.round(opts.events * 0.95);
  const createdAt = new Date().toISOString();
  const bodies = Array.from({ length: distinct }, (_, i) => JSON.stringify(eventFor(i, createdAt)));
  const windowEvents = FAULTS.map((_, w) =>
    Array.from({ length: WINDOW_EVENTS }, (_, j) => distinct - 1 - w * WINDOW_EVENTS - j),
  );
  const setAside = new Set(windowEvents.flat());
  const sends: number[] = [...bodies.keys()].filter((i) => !setAside.has(i));
  const resendable = [...sends];
  const late: number[] = [];
  for (let d = 0; d < opts.events - distinct; d++) {
    const which = resendable[Math.floor(Math.random() * resendable.length)];
    if (d % 2 === 0) sends.splice(Math.floor(Math.random() * sends.length), 0, which);
    else late.push(which);
  }
  const order = [...sends, ...late];
  const pollerOutcomes = new Set(resendable.filter(() => Math.random() < 0.2));

  // Faults in windows over the run, one at a time. Whether an answer came under a fault is the receiver's tag on it.
  const windowsAt = FAULTS.map((_, i) => Math.floor(((i + 1) / (FAULTS.length + 2)) * order.length));
  const faults = Object.fromEntries(
    FAULTS.map((f) => [f, { fired: 0, answered: 0, serverErrors: 0 }]),
  ) as Record<Fault, FaultReport>;
  const statuses: Record<string, number> = {};
  const serverErrorsOutsideFaults: string[] = [];
  const storeErrorsOutsideFaults: string[] = [];
  let sent = 0;
  let abandoned = false;

  const sendOne = async (index: number, firstAnswer?: () => void) => {
    sent++;
    const body = bodies[index];
    for (let attempt = 0; attempt < 40 && !abandoned; attempt++) {
      const url = receiver.url;
      let status = 0;
      let retryAfter: number | undefined;
      let inForce: Fault[] | undefined;
      let text = '';
      let cause = '';
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
          // Another process's server on the receiver's old port: no answer from the receiver.
          if (res.headers.get(RECEIVER_HEADER) !== RECEIVER_ID)
            throw new Error(`not the receiver: ${res.status}`);
          status = res.status;
          text = res.text;
          const after = res.headers.get('retry-after');
          retryAfter = after === null ? undefined : Number(after) * 1000;
          cause = res.headers.get(CAUSE_HEADER) ?? '';
          const tag = res.headers.get(FAULTS_HEADER);
          inForce = tag ? (tag.split(',') as Fault[]) : [];
        } catch {
          status = 0; // the receiver was killed mid-request, or is restarting
        }
      }
      if (attempt === 0) firstAnswer?.();
      statuses[status] = (statuses[status] ?? 0) + 1;
      for (const f of inForce ?? []) {
        faults[f].answered++;
        if (status >= 500) faults[f].serverErrors++;
      }
      if (status >= 500 && inForce?.length === 0) {
        (cause.startsWith('store_error:') ? storeErrorsOutsideFaults : serverErrorsOutsideFaults).push(cause);
        log(`${status} with no fault in force: event ${index}: ${cause}`);
      }
      if (status >= 200 && status < 300) return;
      if (status >= 400 && status < 500 && status !== 409 && status !== 429)
        throw new Error(`a well-formed event was refused: ${status} ${text.slice(0, 200)}`);
      // Like a webhook sender: back off, as told when told, capped.
      await sleep(Math.min(2_000, retryAfter ?? 50 * 2 ** Math.min(attempt, 5)) + Math.random() * 50);
    }
    if (!abandoned) throw new Error(`gave up on event ${index}`);
  };

  // The poller's copy: the same outcome key through the same claim path, from another process's point of view.
  const pollerStore = new DynamoIdempotencyStore(client, table);
  const pollerPublished: string[] = [];
  /** Poller copies published whose claim it could not confirm: a named window, as for the receiver. */
  const pollerWindows = new Set<string>();
  const pollerCopies = { published: 0, duplicate: 0 };
  const pollerCopy = async (index: number) => {
    const envelope = JSON.parse(bodies[index]) as TogetherEnvelope;
    const key = outcomeKey(envelope);
    const detail = JSON.stringify({ ...envelope, id: key, outcome_key: key });
    for (let poll = 0; poll < 40 && !abandoned; poll++) {
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
        if (result.outcome === 'published' && result.completeError) pollerWindows.add(key);
        pollerCopies[result.outcome]++;
        return;
      }
      await sleep(200); // the next poll
    }
    if (!abandoned) throw new Error(`poller gave up on ${key}`);
  };

  let next = 0;
  let done = 0;
  let reachedWaiters: Array<{ n: number; resolve: () => void }> = [];
  /** Resolves once a worker has taken send `n` of the order. */
  const reached = (n: number) =>
    new Promise<void>((resolve) => {
      if (next > n) resolve();
      else reachedWaiters.push({ n, resolve });
    });
  const worker = async () => {
    while (next < order.length && !abandoned) {
      const n = next++;
      reachedWaiters = reachedWaiters.filter((w) => (next > w.n ? (w.resolve(), false) : true));
      const index = order[n];
      await Promise.all([
        sendOne(index),
        pollerOutcomes.has(index) && n < distinct ? pollerCopy(index) : undefined,
      ]);
      if (++done % 1000 === 0) log(`${done} of ${order.length} sent`);
    }
  };

  // Each window opens once the receiver confirms the fault is on, and closes only after the receiver reported
  // injecting it: its own events go one at a time, each answered (and the receiver's reports read) before the next.
  const windowDeliveries: Array<Promise<void>> = [];
  const windows = async () => {
    for (const [w, fault] of FAULTS.entries()) {
      await reached(windowsAt[w]);
      await receiver.fault(fault);
      log(`fault on: ${fault} at send ${next}`);
      const after: number[] = [];
      for (const index of windowEvents[w]) {
        // A kill is a one-off: once it fired, the rest go to the restarted process after the window.
        if (fault === 'kill-after-publish' && receiver.fired.has(fault)) {
          after.push(index);
          continue;
        }
        let answered!: () => void;
        const first = new Promise<void>((resolve) => (answered = resolve));
        windowDeliveries.push(sendOne(index, answered));
        await first;
        await receiver.sync();
      }
      if (!receiver.fired.has(fault)) throw new Error(`fault ${fault} was on but never fired`);
      await receiver.fault(undefined);
      log(`fault off: ${fault}, fired ${receiver.fired.get(fault)} times`);
      for (const index of after) windowDeliveries.push(sendOne(index));
    }
  };

  try {
    await Promise.all([windows(), ...Array.from({ length: opts.concurrency }, worker)]);
    await Promise.all(windowDeliveries);
  } catch (err) {
    abandoned = true; // the others stop at their next attempt
    throw err;
  }
  // Every report the receiver wrote is read once it has stopped.
  await receiver.stop();

  // What reached a bus (the receiver's or the poller's), by outcome key.
  const counts = new Map<string, number>();
  for (const p of receiver.published) counts.set(p.key, (counts.get(p.key) ?? 0) + 1);
  for (const key of pollerPublished) counts.set(key, (counts.get(key) ?? 0) + 1);
  const expected = bodies.map((b) => outcomeKey(JSON.parse(b) as TogetherEnvelope));
  const twice = [...counts].filter(([, n]) => n > 1).map(([key]) => key);
  // The named windows, exactly: a copy published whose claim its process never confirmed (killed, complete failing,
  // PutEvents unanswered, or its claim outlived: the time a Lambda would have been stopped at). The poller's too.
  for (const p of receiver.published)
    if (!receiver.confirmed.has(`${p.pid} ${p.key}`)) receiver.windows.add(p.key);
  for (const key of pollerWindows) receiver.windows.add(key);
  const outside = twice.filter((k) => !receiver.windows.has(k));
  for (const key of outside) {
    const copies = receiver.published.filter((p) => p.key === key).map((p) => ({ ...p, detail: undefined }));
    log(
      `twice outside a window: ${key}: ${JSON.stringify(copies)} poller=${pollerPublished.filter((k) => k === key).length}`,
    );
  }
  for (const f of FAULTS) faults[f].fired = receiver.fired.get(f) ?? 0;

  const fuzz = await fuzzRun(opts.fuzz, client, table);
  return {
    sent,
    distinctOutcomes: distinct,
    published: counts.size,
    lost: expected.filter((k) => !counts.has(k)),
    twice,
    twiceOutsideWindows: outside,
    crashWindowKeys: receiver.windows.size,
    serverErrorsOutsideFaults,
    storeErrorsOutsideFaults,
    statuses,
    pollerCopies,
    kills: receiver.kills,
    crashes: receiver.crashes,
    faults,
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
