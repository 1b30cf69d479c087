import { createHash } from 'node:crypto';
import { outcomeKey, TogetherEnvelope, TogetherEventType } from '../../lib/events';
import { deliverOnce, DeliveryOutcome, IdempotencyStore } from '../shared/idempotency';
import { errorName, Logger, LogLine, MetricsContext, withMetrics } from '../shared/log';
import {
  ApiClock,
  ApiResponse,
  errorDetail,
  togetherRequest,
  TogetherUnreachableError,
} from '../shared/together-api';
import { emptyState, PollerState, PollerStateStore } from './state';

/**
 * One poll of Together's jobs API, turned into catalogue events through the verifier's claim -> publish ->
 * complete path. Every outcome gets the same dedupe key the webhook path uses, so each reaches the bus once
 * whichever path sees it first. Anything that fails stops the poll where it is; watermarks only move past what
 * was delivered, so the next tick picks up the rest and nothing is lost.
 */

export interface PollerConfig {
  readonly apiBaseUrl: string;
  /** Named in the alert when Together refuses the key. */
  readonly apiKeySecretName: string;
  readonly watchModels: readonly string[];
  readonly modelInfo: Readonly<Record<string, { replacementModel?: string; sunsetDate?: string }>>;
  /** No status change and no new event for this long: `fine_tune.stalled`. */
  readonly stallAfterMs: number;
  /** On the very first poll, outcomes this recent are still published. */
  readonly initialLookbackMs: number;
  readonly retentionSeconds: number;
  readonly metrics: MetricsContext;
}

export interface PollerDeps {
  readonly config: PollerConfig;
  readonly store: IdempotencyStore;
  readonly state: PollerStateStore;
  readonly publish: (detailType: string, detail: string) => Promise<void>;
  readonly getApiKey: () => Promise<string>;
  /** Tells people (the alert topic). */
  readonly notify: (subject: string, message: string) => Promise<void>;
  readonly clock: ApiClock;
  readonly log: Logger;
  readonly newToken: () => string;
}

export interface PollSummary {
  outcome: 'completed' | 'stopped' | 'skipped';
  reason?: string;
  checked: { fineTunes: number; batches: number; models: number };
  published: number;
  duplicates: number;
  errors: number;
}

const FINE_TUNE_TERMINAL = new Set(['completed', 'error', 'user_error', 'cancelled']);
const BATCH_TERMINAL = new Set(['COMPLETED', 'FAILED', 'EXPIRED', 'CANCELLED']);
/** Polls a watched model must be missing before it counts as gone: one short listing is not a deprecation. */
const MISSING_POLLS_FOR_DEPRECATION = 2;
const MAX_ERROR_MESSAGE = 4_000;

/** Why a poll stopped early. Thrown inside, caught by `poll`. */
class StopPoll extends Error {
  constructor(
    readonly reason: string,
    readonly isError = true,
  ) {
    super(reason);
  }
}

interface FineTune {
  id: string;
  status: string;
  updated_at: string;
  created_at?: string;
  model_output_name?: string;
  model?: string;
}

interface FineTuneEvent {
  type?: string;
  message?: string;
  level?: string | null;
  step?: number;
  created_at?: string;
}

interface Batch {
  id: string;
  status: string;
  created_at?: string;
  completed_at?: string;
  output_file_id?: string;
  error_file_id?: string;
  error?: string;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const time = (iso: string | undefined): number => (iso ? Date.parse(iso) : NaN);

export async function poll(deps: PollerDeps, deadlineMs: number): Promise<PollSummary> {
  const nowMs = deps.clock.now();
  const summary: PollSummary = {
    outcome: 'completed',
    checked: { fineTunes: 0, batches: 0, models: 0 },
    published: 0,
    duplicates: 0,
    errors: 0,
  };
  const holder = deps.newToken();
  if (!(await deps.state.acquireLease(holder, nowMs, deadlineMs + 5_000))) {
    summary.outcome = 'skipped';
    summary.reason = 'another poll is running';
    return report(deps, summary, nowMs);
  }
  try {
    const state = (await deps.state.load()) ?? firstRun(deps.config, nowMs);
    const run = new PollRun(deps, state, summary, nowMs, deadlineMs);
    try {
      await run.all();
      await run.closeAuthIncident();
    } catch (err) {
      summary.outcome = 'stopped';
      summary.reason = err instanceof StopPoll ? err.reason : errorName(err);
      if (!(err instanceof StopPoll) || err.isError) summary.errors++;
    }
    // What was delivered so far is remembered even when the poll stopped early.
    await deps.state.save(state);
  } finally {
    await deps.state.releaseLease(holder);
  }
  return report(deps, summary, nowMs);
}

function firstRun(config: PollerConfig, nowMs: number): PollerState {
  const since = new Date(nowMs - config.initialLookbackMs).toISOString();
  return { ...emptyState(), fineTuneWatermark: since, batchWatermark: since };
}

function report(deps: PollerDeps, summary: PollSummary, startMs: number): PollSummary {
  const line: LogLine = {
    level: summary.errors > 0 ? 'ERROR' : 'INFO',
    message: 'poll',
    ...summary,
    latencyMs: deps.clock.now() - startMs,
  };
  const counters: Record<string, number> = {
    Polls: 1,
    Published: summary.published,
    PollErrors: summary.errors,
  };
  deps.log(withMetrics(line, deps.config.metrics, counters, startMs));
  return summary;
}

class PollRun {
  private apiKey?: string;

  constructor(
    private readonly deps: PollerDeps,
    private readonly state: PollerState,
    private readonly summary: PollSummary,
    private readonly nowMs: number,
    private readonly deadlineMs: number,
  ) {}

  async all(): Promise<void> {
    this.apiKey = await this.deps.getApiKey();
    await this.fineTunes();
    await this.batches();
    if (this.deps.config.watchModels.length > 0) await this.models();
  }

  async closeAuthIncident(): Promise<void> {
    if (!this.state.authIncident) return;
    this.deps.log({
      level: 'INFO',
      message: 'Together accepts the API key again',
      since: this.state.authIncident.openedAt,
    });
    this.state.authIncident = undefined;
  }

  // ---- Together calls ----

  /**
   * GETs `path`. `optional`: any failure but a rate limit or a refused key yields undefined (metrics are a nicety).
   * `notFound`: what a 404 means for this path (a job whose events are gone has none).
   */
  private async get(path: string, optional = false, notFound?: unknown): Promise<unknown> {
    if (this.deps.clock.now() >= this.deadlineMs)
      throw new StopPoll('out of time; the next poll continues', false);
    let res: ApiResponse;
    try {
      res = await togetherRequest({
        baseUrl: this.deps.config.apiBaseUrl,
        apiKey: this.apiKey!,
        method: 'GET',
        path,
        deadlineMs: this.deadlineMs,
        // No retries here: a rate limit or an outage ends this poll, the next tick resumes.
        maxAttempts: 1,
        clock: this.deps.clock,
      });
    } catch (err) {
      if (optional) return undefined;
      throw new StopPoll(err instanceof TogetherUnreachableError ? err.message : errorName(err));
    }
    if (res.status >= 200 && res.status < 300) return res.json;
    if (res.status === 404 && notFound !== undefined) return notFound;
    if (res.status === 401 || res.status === 403) await this.openAuthIncident(res);
    if (optional && res.status !== 429) return undefined;
    const { message } = errorDetail(res.json, res.status);
    if (res.status === 429) {
      const limit = res.headers.get('x-ratelimit-remaining');
      throw new StopPoll(
        `rate limited by Together (HTTP 429${limit !== null ? `, remaining ${limit}` : ''}): ${message}`,
        false,
      );
    }
    throw new StopPoll(`GET ${path}: HTTP ${res.status}: ${message}`);
  }

  private async openAuthIncident(res: ApiResponse): Promise<never> {
    const name = this.deps.config.apiKeySecretName;
    if (!this.state.authIncident) {
      const { message } = errorDetail(res.json, res.status);
      await this.deps.notify(
        'Together AI rejected the API key',
        `Together answered HTTP ${res.status} (${message}) to the job poller: the API key was rejected. ` +
          `Rotate it in the Secrets Manager secret ${name}. Polling resumes by itself once the key works; ` +
          'job outcomes in the meantime are published then, none is lost.',
      );
      // Only once the alert went out: if it did not, the next poll tries again.
      this.state.authIncident = { openedAt: new Date(this.nowMs).toISOString(), status: res.status };
    }
    throw new StopPoll(`Together rejected the API key (HTTP ${res.status}); rotate it in ${name}`);
  }

  // ---- delivery ----

  private async deliver(
    type: TogetherEventType,
    createdAt: string | undefined,
    data: Record<string, unknown>,
  ) {
    const draft: TogetherEnvelope = { id: '', type, created_at: createdAt, data };
    const envelope = { ...draft, id: outcomeKey(draft) };
    const detail = JSON.stringify(envelope);
    const result: DeliveryOutcome = await deliverOnce(
      this.deps.store,
      {
        id: envelope.id,
        deliveryId: envelope.id,
        payloadHash: createHash('sha256').update(detail).digest('hex'),
        token: this.deps.newToken(),
        nowMs: this.deps.clock.now(),
        inProgressMs: Math.max(5_000, this.deadlineMs - this.deps.clock.now() + 5_000),
        retentionSeconds: this.deps.config.retentionSeconds,
      },
      () => this.deps.publish(type, detail),
    );
    switch (result.outcome) {
      case 'published':
        this.summary.published++;
        return;
      case 'duplicate':
        this.summary.duplicates++;
        return;
      case 'in_flight':
        throw new StopPoll(
          `${envelope.id} is being delivered by another path; the next poll confirms it`,
          false,
        );
      case 'store_error':
        throw new StopPoll(`event store failed for ${envelope.id}: ${errorName(result.error)}`);
      case 'publish_error':
        throw new StopPoll(`EventBridge refused ${envelope.id}: ${errorName(result.error)}`);
    }
  }

  // ---- fine-tunes ----

  private async fineTunes(): Promise<void> {
    const answer = await this.get('/fine-tunes');
    const list = isObject(answer) && Array.isArray(answer.data) ? answer.data : undefined;
    if (!list) throw new StopPoll('GET /fine-tunes: unexpected answer (no data array)');
    const jobs = list.filter(
      (j): j is FineTune => isObject(j) && typeof j.id === 'string' && typeof j.status === 'string',
    );
    jobs.sort((a, b) => (time(a.updated_at) || 0) - (time(b.updated_at) || 0));
    this.summary.checked.fineTunes = jobs.length;
    const mark = new Watermark(this.state.fineTuneWatermark, this.state.fineTuneWatermarkIds);
    for (const job of jobs) {
      const terminal = FINE_TUNE_TERMINAL.has(job.status);
      const followed = job.id in this.state.checkpointSteps;
      if (terminal && !followed && mark.handled(time(job.updated_at), job.id)) continue;
      await this.fineTune(job, terminal);
      if (terminal) {
        mark.advance(time(job.updated_at), job.id);
        [this.state.fineTuneWatermark, this.state.fineTuneWatermarkIds] = mark.save();
      }
    }
  }

  private async fineTune(job: FineTune, terminal: boolean): Promise<void> {
    const answer = await this.get(`/fine-tunes/${encodeURIComponent(job.id)}/events`, false, { data: [] });
    const events: FineTuneEvent[] =
      isObject(answer) && Array.isArray(answer.data) ? (answer.data.filter(isObject) as FineTuneEvent[]) : [];

    const lastStep = this.state.checkpointSteps[job.id] ?? -1;
    const checkpoints = [
      ...new Set(
        events
          .filter(
            (e) => e.type === 'checkpoint_save' && Number.isInteger(e.step) && (e.step as number) > lastStep,
          )
          .map((e) => e.step as number),
      ),
    ].sort((a, b) => a - b);
    const needMetrics = checkpoints.length > 0 || job.status === 'completed';
    const metrics = needMetrics ? await this.metrics(job.id) : [];

    for (const step of checkpoints) {
      const at = events.find((e) => e.type === 'checkpoint_save' && e.step === step)?.created_at;
      await this.deliver('fine_tune.checkpoint', at, {
        fine_tune_id: job.id,
        step,
        loss: lossAt(metrics, step),
      });
      this.state.checkpointSteps[job.id] = step;
    }

    if (!terminal) {
      this.state.checkpointSteps[job.id] ??= -1;
      await this.stallCheck(job, events);
      return;
    }
    if (job.status === 'completed') {
      await this.deliver('fine_tune.completed', job.updated_at, {
        fine_tune_id: job.id,
        model_name: job.model_output_name ?? job.model ?? '',
        eval_loss: lastValue(metrics, ['eval/loss', 'eval_loss', 'validation/loss']),
      });
    } else if (job.status === 'cancelled') {
      await this.deliver('fine_tune.cancelled', job.updated_at, { fine_tune_id: job.id });
    } else {
      const failure =
        [...events].reverse().find((e) => e.type === 'job_error') ??
        [...events].reverse().find((e) => e.level === 'error' || e.level === 'legacy_ierror');
      await this.deliver('fine_tune.failed', job.updated_at, {
        fine_tune_id: job.id,
        error_message: (failure?.message || `fine-tune ended with status ${job.status}`).slice(
          0,
          MAX_ERROR_MESSAGE,
        ),
        step: Number.isInteger(failure?.step) && (failure?.step as number) > 0 ? failure?.step : null,
      });
    }
    delete this.state.checkpointSteps[job.id];
  }

  /** Loss values by step, when Together has them; never a reason to hold an outcome back. */
  private async metrics(id: string): Promise<Array<Record<string, unknown>>> {
    const answer = await this.get(`/fine-tunes/${encodeURIComponent(id)}/metrics`, true);
    return isObject(answer) && Array.isArray(answer.metrics) ? answer.metrics.filter(isObject) : [];
  }

  private async stallCheck(job: FineTune, events: FineTuneEvent[]): Promise<void> {
    const last = Math.max(time(job.updated_at) || 0, ...events.map((e) => time(e.created_at) || 0));
    if (!last || this.nowMs - last < this.deps.config.stallAfterMs) return;
    // One event per stall: the key holds the time of the last change, so a new stall gets a new key.
    await this.deliver('fine_tune.stalled', new Date(this.nowMs).toISOString(), {
      fine_tune_id: job.id,
      status: job.status,
      since: new Date(last).toISOString(),
    });
  }

  // ---- batches ----

  private async batches(): Promise<void> {
    const answer = await this.get('/batches');
    if (!Array.isArray(answer)) throw new StopPoll('GET /batches: unexpected answer (not an array)');
    const batches = answer.filter(
      (b): b is Batch => isObject(b) && typeof b.id === 'string' && typeof b.status === 'string',
    );
    this.summary.checked.batches = batches.length;
    // NaN when Together gives no time at all: such a batch is never taken as handled (the claim dedupes it).
    const ended = (b: Batch) =>
      Number.isNaN(time(b.completed_at)) ? time(b.created_at) : time(b.completed_at);
    const mark = new Watermark(this.state.batchWatermark, this.state.batchWatermarkIds);
    const done = batches
      .filter((b) => BATCH_TERMINAL.has(b.status) && !mark.handled(ended(b), b.id))
      .sort((a, b) => (ended(a) || 0) - (ended(b) || 0));
    const base = this.deps.config.apiBaseUrl.replace(/\/+$/, '');
    for (const batch of done) {
      await this.deliver('batch.done', batch.completed_at ?? batch.created_at, {
        batch_id: batch.id,
        status: batch.status,
        output_url: batch.output_file_id
          ? `${base}/files/${encodeURIComponent(batch.output_file_id)}/content`
          : null,
        output_file_id: batch.output_file_id ?? null,
        error_file_id: batch.error_file_id ?? null,
        ...(batch.error ? { error: batch.error.slice(0, MAX_ERROR_MESSAGE) } : {}),
        total_tokens: null,
      });
      mark.advance(ended(batch), batch.id);
      [this.state.batchWatermark, this.state.batchWatermarkIds] = mark.save();
    }
  }

  // ---- models ----

  private async models(): Promise<void> {
    const answer = await this.get('/models');
    if (!Array.isArray(answer)) throw new StopPoll('GET /models: unexpected answer (not an array)');
    const listed = new Set(
      answer
        .filter(isObject)
        .map((m) => m.id)
        .filter((id) => typeof id === 'string'),
    );
    this.summary.checked.models = listed.size;
    const watched = this.deps.config.watchModels;
    const wasPresent = new Set(this.state.modelsPresent);
    for (const model of watched) {
      if (listed.has(model)) {
        wasPresent.add(model);
        delete this.state.modelsMissing[model];
        continue;
      }
      if (!wasPresent.has(model)) continue;
      const missing = (this.state.modelsMissing[model] ?? 0) + 1;
      this.state.modelsMissing[model] = missing;
      if (missing < MISSING_POLLS_FOR_DEPRECATION) continue;
      const info = this.deps.config.modelInfo[model] ?? {};
      await this.deliver('model.deprecated', new Date(this.nowMs).toISOString(), {
        model_id: model,
        replacement_model: info.replacementModel ?? null,
        sunset_date: info.sunsetDate ?? null,
      });
      wasPresent.delete(model);
      delete this.state.modelsMissing[model];
    }
    this.state.modelsPresent = watched.filter((m) => wasPresent.has(m));
  }
}

/**
 * How far a list has been handled: everything that ended before `at`, and the ids handled exactly at `at`.
 * Items are handled in time order, so an item at or after the mark that is not listed is still to do.
 */
class Watermark {
  private at: number;
  private ids: Set<string>;

  constructor(at: string | undefined, ids: string[] | undefined) {
    this.at = time(at) || 0;
    this.ids = new Set(ids ?? []);
  }

  handled(when: number, id: string): boolean {
    if (Number.isNaN(when)) return false;
    return when < this.at || (when === this.at && this.ids.has(id));
  }

  advance(when: number, id: string): void {
    if (Number.isNaN(when) || when < this.at) return;
    if (when > this.at) {
      this.at = when;
      this.ids = new Set();
    }
    this.ids.add(id);
  }

  save(): [string, string[]] {
    return [new Date(this.at).toISOString(), [...this.ids]];
  }
}

/** The training loss logged at `step` (Together's metrics are flat maps like {"train/loss", "train/global_step"}). */
function lossAt(metrics: Array<Record<string, unknown>>, step: number): number | null {
  for (const m of metrics) {
    const at = m['train/global_step'] ?? m['global_step'] ?? m['step'];
    if (at === step) {
      const loss = m['train/loss'] ?? m['loss'];
      if (typeof loss === 'number' && Number.isFinite(loss)) return loss;
    }
  }
  return null;
}

function lastValue(metrics: Array<Record<string, unknown>>, names: string[]): number | null {
  for (let i = metrics.length - 1; i >= 0; i--) {
    for (const name of names) {
      const v = metrics[i][name];
      if (typeof v === 'number' && Number.isFinite(v)) return v;
    }
  }
  return null;
}
