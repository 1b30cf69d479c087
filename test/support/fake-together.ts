import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { createFineTune } from './fake-fine-tunes';

/**
 * Together's API, faked on 127.0.0.1 for tests: Bearer auth, Together's error shapes, the webhooks contract from
 * the design (POST /v1/webhooks, DELETE /v1/webhooks/{id}), and scripted answers (429, 500, ...) that take
 * precedence, in order, for a method and path. Every request is recorded.
 */

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  /** The query string, `?` included (or empty). */
  readonly search: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: unknown;
}

export interface ScriptedAnswer {
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
  /** A non-JSON body (file content), sent as text/plain. */
  readonly text?: string;
  /** Close the connection without answering (a reset). */
  readonly drop?: boolean;
  /** Hold the answer this long (real time): a hung or slow server. */
  readonly delayMs?: number;
  /** Do what the request asks (e.g. create the webhook), then close the connection: an answer lost on the way. */
  readonly handledThenLost?: boolean;
  /** The body made from the request (a server that reflects what it was sent); takes the place of `body`. */
  readonly reply?: (req: RecordedRequest) => unknown;
}

export interface Webhook {
  readonly id: string;
  readonly url: string;
  readonly events: string[];
  readonly secret: string;
}

export const TOGETHER_ERROR = (message: string, type = 'invalid_request_error', code?: string) => ({
  error: { message, type, code: code ?? null, param: null },
});

/** Jobs as Together reports them; the fixtures in together-fixtures.ts build them to the spec's schemas. */
export interface FakeJobs {
  fineTunes: Array<Record<string, unknown>>;
  events: Map<string, Array<Record<string, unknown>>>;
  metrics: Map<string, Array<Record<string, number>>>;
  batches: Array<Record<string, unknown>>;
  models: Array<Record<string, unknown>>;
  /** File contents by file id (GET /files/{id}/content). */
  files: Map<string, string>;
  /** Jobs left out of the listings (a listing that lags or drops them) but still answered by id. */
  unlisted: Set<string>;
  /** Evaluation jobs, newest first as Together lists them (GET /evaluation honours `status`, `limit` 1-100). */
  evaluations: Array<Record<string, unknown>>;
  /**
   * Dedicated endpoints as GET /endpoints/{id} shows them (DedicatedEndpoint); POST /endpoints adds one in PENDING,
   * owned by `FAKE_OWNER`. A test moves one on by setting its `state`.
   */
  endpoints: Array<Record<string, unknown>>;
  /** Together's jobs (model uploads, ...) as GET /jobs/{jobId} shows them (JobInfoSuccessResponse), by `job_id`. */
  jobs: Array<Record<string, unknown>>;
  /** Custom container deployments as GET /deployments/{id} shows them (DeploymentResponseItem). */
  deployments: Array<Record<string, unknown>>;
  /** GPU clusters as GET /compute/clusters/{id} shows them (GPUClusterInfo); a test moves one on by its `status`. */
  clusters: Array<Record<string, unknown>>;
  /**
   * RL training sessions (RL.TrainingSession), listed in this order (the spec states none), `limit` 1-100 (default
   * 20) a page, `after` the id of the previous page's last session.
   */
  rlSessions: Array<Record<string, unknown>>;
  /** Video generations as GET /v2/videos/{id} shows them (VideoJob); none is listed (Together lists none). */
  videos: Array<Record<string, unknown>>;
  /** Queued jobs as GET /v1/queue/status shows them (QueueJobStatusResponse), found by request_id and model. */
  queueJobs: Array<Record<string, unknown>>;
}

/** The account the fake's API key belongs to: `mine=true` lists its endpoints only. */
export const FAKE_OWNER = 'devuser';

export class FakeTogether {
  apiKey = 'tgp_test_key_0123456789abcdef';
  webhooksSupported = true;
  /** GET /v1/webhooks (listing) answers; false: 404, as on an API that can create but not list. */
  webhooksListSupported = true;
  /** GET /v1/rl/training-sessions answers without `meta.next_cursor` (the spec makes it optional). */
  rlSessionsWithoutCursor = false;
  readonly jobs: FakeJobs = {
    fineTunes: [],
    events: new Map(),
    metrics: new Map(),
    batches: [],
    models: [],
    files: new Map(),
    unlisted: new Set(),
    evaluations: [],
    endpoints: [],
    jobs: [],
    deployments: [],
    clusters: [],
    rlSessions: [],
    videos: [],
    queueJobs: [],
  };
  /** Every answer given, for checking against the OpenAPI spec. */
  readonly answers: Array<{ method: string; path: string; status: number; body: unknown }> = [];
  readonly requests: RecordedRequest[] = [];
  readonly webhooks = new Map<string, Webhook>();
  private readonly scripts: Array<{ method: string; path: RegExp; answers: ScriptedAnswer[] }> = [];
  /**
   * Runs before every answer: a test's virtual clock advances here to model latency, a benchmark sleeps.
   * Scripted answers and authentication come after it.
   */
  latency?: (req: RecordedRequest) => Promise<void> | void;
  /** The fake's clock (created_at of what it creates); a test with a virtual clock sets it. */
  now: () => number = () => Date.now();
  private server?: Server;
  private nextId = 1;
  baseUrl = '';

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.baseUrl = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** The next requests matching `method` and `path` get these answers, one each, before normal handling resumes. */
  script(method: string, path: RegExp, ...answers: ScriptedAnswer[]): void {
    this.scripts.push({ method, path, answers: [...answers] });
  }

  reset(): void {
    this.requests.length = 0;
    this.answers.length = 0;
    this.jobs.fineTunes = [];
    this.jobs.events.clear();
    this.jobs.metrics.clear();
    this.jobs.batches = [];
    this.jobs.models = [];
    this.jobs.files.clear();
    this.jobs.unlisted.clear();
    this.jobs.evaluations = [];
    this.jobs.endpoints = [];
    this.jobs.jobs = [];
    this.jobs.deployments = [];
    this.jobs.clusters = [];
    this.jobs.rlSessions = [];
    this.jobs.videos = [];
    this.jobs.queueJobs = [];
    this.webhooks.clear();
    this.scripts.length = 0;
    this.webhooksSupported = true;
    this.webhooksListSupported = true;
    this.latency = undefined;
    this.now = () => Date.now();
    this.nextId = 1;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    let body: unknown;
    try {
      body = raw ? JSON.parse(raw) : undefined;
    } catch {
      body = raw;
    }
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const recorded: RecordedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      search: url.search,
      headers: req.headers,
      body,
    };
    this.requests.push(recorded);
    await this.latency?.(recorded);
    const answer = this.answer(recorded);
    if (answer.delayMs) await new Promise((resolve) => setTimeout(resolve, answer.delayMs));
    if (answer.drop) {
      req.socket.destroy();
      return;
    }
    this.answers.push({
      method: recorded.method,
      path: recorded.path,
      status: answer.status,
      body: answer.body,
    });
    if (answer.text !== undefined) {
      res.writeHead(answer.status, { 'content-type': 'text/plain', ...(answer.headers ?? {}) });
      res.end(answer.text);
      return;
    }
    res.writeHead(answer.status, { 'content-type': 'application/json', ...(answer.headers ?? {}) });
    res.end(answer.body === undefined ? '' : JSON.stringify(answer.body));
  }

  private answer(req: RecordedRequest): ScriptedAnswer {
    const script = this.scripts.find(
      (s) => s.method === req.method && s.path.test(req.path) && s.answers.length > 0,
    );
    if (script) {
      const scripted = script.answers.shift()!;
      if (scripted.handledThenLost) return { ...this.handled(req), drop: true };
      return scripted.reply ? { ...scripted, body: scripted.reply(req) } : scripted;
    }
    return this.handled(req);
  }

  private handled(req: RecordedRequest): ScriptedAnswer {
    if (req.headers.authorization !== `Bearer ${this.apiKey}`) {
      return {
        status: 401,
        body: TOGETHER_ERROR('Invalid API key provided', 'invalid_request_error', 'invalid_api_key'),
      };
    }
    const hook = /^\/v1\/webhooks(?:\/([^/]+))?$/.exec(req.path);
    if (hook) return this.webhooksRoute(req, hook[1]);
    if (/^\/v1\/endpoints(?:\/[^/]+)?$/.test(req.path)) return this.endpointsRoute(req);
    if (req.method === 'POST' && req.path === '/v1/fine-tunes')
      return createFineTune(this.jobs, req.body, this.now(), this.nextId++);
    const jobs = req.method === 'GET' ? this.jobsRoute(req.path, req.search) : undefined;
    if (jobs) return jobs;
    const more = req.method === 'GET' ? this.clustersAndSessionsRoute(req.path, req.search) : undefined;
    if (more) return more;
    const tracked = req.method === 'GET' ? this.trackedRoute(req.path, req.search) : undefined;
    if (tracked) return tracked;
    return { status: 404, body: TOGETHER_ERROR(`Unknown path ${req.path}`) };
  }

  private jobsRoute(path: string, search = ''): ScriptedAnswer | undefined {
    if (path === '/v1/evaluation') {
      const query = new URLSearchParams(search);
      const limit = Number(query.get('limit') ?? 10);
      const status = query.get('status');
      const listed = this.jobs.evaluations
        .filter((e) => !this.jobs.unlisted.has(e.workflow_id as string))
        .filter((e) => status === null || e.status === status);
      // Together's CLI: "max 100".
      if (!Number.isInteger(limit) || limit < 1 || limit > 100)
        return { status: 400, body: TOGETHER_ERROR(`limit must be 1-100, got ${query.get('limit')}`) };
      return { status: 200, body: listed.slice(0, limit) };
    }
    const evaluation = /^\/v1\/evaluation\/([^/]+)$/.exec(path);
    if (evaluation && evaluation[1] !== 'model-list') {
      const id = decodeURIComponent(evaluation[1]);
      const job = this.jobs.evaluations.find((e) => e.workflow_id === id);
      return job
        ? { status: 200, body: job }
        : { status: 404, body: TOGETHER_ERROR(`Evaluation ${id} not found`) };
    }
    const listed = (jobs: Array<Record<string, unknown>>) =>
      jobs.filter((j) => !this.jobs.unlisted.has(j.id as string));
    if (path === '/v1/fine-tunes') return { status: 200, body: { data: listed(this.jobs.fineTunes) } };
    const one = /^\/v1\/(fine-tunes|batches)\/([^/]+)$/.exec(path);
    if (one) {
      const id = decodeURIComponent(one[2]);
      const job = (one[1] === 'batches' ? this.jobs.batches : this.jobs.fineTunes).find((j) => j.id === id);
      if (job) return { status: 200, body: job };
      return one[1] === 'batches'
        ? { status: 404, body: { error: `Batch ${id} not found` } }
        : { status: 404, body: TOGETHER_ERROR(`Fine-tune job ${id} not found`) };
    }
    const ft = /^\/v1\/fine-tunes\/([^/]+)\/(events|metrics)$/.exec(path);
    if (ft) {
      const id = decodeURIComponent(ft[1]);
      if (!this.jobs.fineTunes.some((j) => j.id === id)) {
        return { status: 404, body: TOGETHER_ERROR(`Fine-tune job ${id} not found`) };
      }
      return ft[2] === 'events'
        ? { status: 200, body: { data: this.jobs.events.get(id) ?? [] } }
        : { status: 200, body: { metrics: this.jobs.metrics.get(id) ?? [] } };
    }
    if (path === '/v1/batches') return { status: 200, body: listed(this.jobs.batches) };
    const file = /^\/v1\/files\/([^/]+)\/content$/.exec(path);
    if (file) {
      const content = this.jobs.files.get(decodeURIComponent(file[1]));
      return content === undefined
        ? { status: 404, body: TOGETHER_ERROR(`File ${file[1]} not found`) }
        : { status: 200, text: content };
    }
    if (path === '/v1/models') return { status: 200, body: this.jobs.models };
    return this.jobsAndDeploymentsRoute(path);
  }

  /** GET /jobs, /jobs/{jobId} (JobsInfoSuccessResponse), /deployments, /deployments/{id} (DeploymentListResponse). */
  private jobsAndDeploymentsRoute(path: string): ScriptedAnswer | undefined {
    const shown = (all: Array<Record<string, unknown>>, id: string) =>
      all.filter((j) => !this.jobs.unlisted.has(j[id] as string));
    if (path === '/v1/jobs') return { status: 200, body: { data: shown(this.jobs.jobs, 'job_id') } };
    if (path === '/v1/deployments')
      return { status: 200, body: { object: 'list', data: shown(this.jobs.deployments, 'id') } };
    const one = /^\/v1\/(jobs|deployments)\/([^/]+)$/.exec(path);
    if (!one || one[2] === 'secrets' || one[2] === 'storage') return undefined;
    const id = decodeURIComponent(one[2]);
    const found =
      one[1] === 'jobs'
        ? this.jobs.jobs.find((j) => j.job_id === id)
        : this.jobs.deployments.find((d) => d.id === id);
    if (found) return { status: 200, body: found };
    return {
      status: 404,
      body: TOGETHER_ERROR(`${one[1] === 'jobs' ? 'Job' : 'Deployment'} ${id} not found`),
    };
  }

  private endpointsRoute(req: RecordedRequest): ScriptedAnswer {
    const id = /^\/v1\/endpoints\/([^/]+)$/.exec(req.path)?.[1];
    if (req.method === 'GET' && id === undefined) {
      const query = new URLSearchParams(req.search);
      const shown = this.jobs.endpoints
        .filter((e) => !this.jobs.unlisted.has(e.id as string))
        .filter((e) => !query.get('type') || e.type === query.get('type'))
        .filter((e) => query.get('mine') !== 'true' || e.owner === FAKE_OWNER)
        // ListEndpoint: the listing shows less than GET /endpoints/{id}.
        .map(({ object, id: eid, name, model, type, owner, state, created_at }) => ({
          object,
          id: eid,
          name,
          model,
          type,
          owner,
          state,
          created_at,
        }));
      return { status: 200, body: { object: 'list', data: shown } };
    }
    if (req.method === 'GET') {
      const found = this.jobs.endpoints.find((e) => e.id === decodeURIComponent(id!));
      return found
        ? { status: 200, body: found }
        : { status: 404, body: TOGETHER_ERROR(`Endpoint ${id} not found`) };
    }
    if (req.method === 'POST' && id === undefined) {
      const b = req.body as Record<string, unknown> | undefined;
      const scaling = b?.autoscaling as Record<string, unknown> | undefined;
      if (
        typeof b?.model !== 'string' ||
        typeof b.hardware !== 'string' ||
        !Number.isInteger(scaling?.min_replicas) ||
        !Number.isInteger(scaling?.max_replicas)
      ) {
        return { status: 400, body: TOGETHER_ERROR('model, hardware and autoscaling are required') };
      }
      const n = this.nextId++;
      const created = {
        object: 'endpoint',
        id: `endpoint-00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
        name: `${FAKE_OWNER}/${b.model}-${n.toString(16).padStart(8, '0')}`,
        display_name: typeof b.display_name === 'string' ? b.display_name : `${b.model} endpoint`,
        model: b.model,
        hardware: b.hardware,
        type: 'dedicated',
        owner: FAKE_OWNER,
        state: 'PENDING',
        autoscaling: { min_replicas: scaling!.min_replicas, max_replicas: scaling!.max_replicas },
        created_at: new Date(this.now()).toISOString(),
      };
      this.jobs.endpoints.push(created);
      return { status: 200, body: created };
    }
    return { status: 405, body: TOGETHER_ERROR(`${req.method} not allowed`) };
  }

  private webhooksRoute(req: RecordedRequest, id: string | undefined): ScriptedAnswer {
    if (!this.webhooksSupported) return { status: 404, body: TOGETHER_ERROR('Not found') };
    if (req.method === 'GET' && id === undefined) {
      if (!this.webhooksListSupported) return { status: 404, body: TOGETHER_ERROR('Not found') };
      return {
        status: 200,
        body: { data: [...this.webhooks.values()].map((w) => ({ id: w.id, url: w.url, events: w.events })) },
      };
    }
    if (req.method === 'POST' && id === undefined) {
      const b = req.body as Partial<Webhook> | undefined;
      if (
        typeof b?.url !== 'string' ||
        typeof b.secret !== 'string' ||
        !Array.isArray(b.events) ||
        b.events.some((e) => typeof e !== 'string')
      ) {
        return { status: 400, body: TOGETHER_ERROR('url, events and secret are required') };
      }
      const webhook: Webhook = { id: `wh_${this.nextId++}`, url: b.url, events: b.events, secret: b.secret };
      this.webhooks.set(webhook.id, webhook);
      const shown = { id: webhook.id, url: webhook.url, events: webhook.events };
      return { status: 200, body: { ...shown, object: 'webhook', created_at: '2026-11-23T12:00:00Z' } };
    }
    if (req.method === 'DELETE' && id !== undefined) {
      if (!this.webhooks.delete(id)) return { status: 404, body: TOGETHER_ERROR(`Webhook ${id} not found`) };
      return { status: 200, body: { id, object: 'webhook', deleted: true } };
    }
    return { status: 405, body: TOGETHER_ERROR(`${req.method} not allowed`) };
  }

  /** GET /compute/clusters(/{id}) and GET /rl/training-sessions(/{id}). */
  private clustersAndSessionsRoute(path: string, search = ''): ScriptedAnswer | undefined {
    const shown = (list: Array<Record<string, unknown>>, id: string) =>
      list.filter((j) => !this.jobs.unlisted.has(j[id] as string));
    if (path === '/v1/compute/clusters')
      return { status: 200, body: { clusters: shown(this.jobs.clusters, 'cluster_id') } };
    const clusterId = /^\/v1\/compute\/clusters\/([^/]+)$/.exec(path)?.[1];
    if (clusterId !== undefined) {
      const id = decodeURIComponent(clusterId);
      const found = this.jobs.clusters.find((c) => c.cluster_id === id);
      return found
        ? { status: 200, body: found }
        : { status: 404, body: TOGETHER_ERROR(`Cluster ${id} not found`) };
    }
    if (path === '/v1/rl/training-sessions') {
      const query = new URLSearchParams(search);
      const limit = Number(query.get('limit') ?? 20);
      if (!Number.isInteger(limit) || limit < 1 || limit > 100)
        return { status: 400, body: TOGETHER_ERROR(`limit must be 1-100, got ${query.get('limit')}`) };
      const all = shown(this.jobs.rlSessions, 'id');
      const after = query.get('after');
      const start = after === null ? 0 : all.findIndex((s) => s.id === after) + 1;
      const page = all.slice(start, start + limit);
      const hasMore = start + limit < all.length;
      const next_cursor = hasMore ? (page[page.length - 1].id as string) : '';
      const meta = this.rlSessionsWithoutCursor
        ? { limit, has_more: hasMore }
        : { limit, has_more: hasMore, next_cursor };
      return { status: 200, body: { data: page, meta } };
    }
    const sessionId = /^\/v1\/rl\/training-sessions\/([^/]+)$/.exec(path)?.[1];
    if (sessionId !== undefined) {
      const id = decodeURIComponent(sessionId);
      const found = this.jobs.rlSessions.find((x) => x.id === id);
      return found
        ? { status: 200, body: found }
        : { status: 404, body: TOGETHER_ERROR(`Training session ${id} not found`) };
    }
    return undefined;
  }

  /** GET /v2/videos/{id} (Together's v2 API) and GET /v1/queue/status?request_id=&model=. */
  private trackedRoute(path: string, search: string): ScriptedAnswer | undefined {
    const videoId = /^\/v2\/videos\/([^/]+)$/.exec(path)?.[1];
    if (videoId !== undefined) {
      const found = this.jobs.videos.find((v) => v.id === decodeURIComponent(videoId));
      // The spec describes the 404 with no body.
      return found ? { status: 200, body: found } : { status: 404 };
    }
    if (path !== '/v1/queue/status') return undefined;
    const query = new URLSearchParams(search);
    const [requestId, model] = [query.get('request_id'), query.get('model')];
    if (!requestId || !model) {
      const param = requestId ? 'model' : 'request_id';
      return {
        status: 400,
        body: {
          code: 'missing_param',
          message: `${param} is required`,
          param,
          type: 'invalid_request_error',
        },
      };
    }
    const found = this.jobs.queueJobs.find((j) => j.request_id === requestId && j.model === model);
    return found
      ? { status: 200, body: found }
      : {
          status: 404,
          body: { code: 'not_found', message: `request ${requestId} not found`, type: 'not_found_error' },
        };
  }
}
