import type { RetryRuleSpec } from '../../lib/contract';
import { fineTuneRetryPrefix } from '../../lib/claim-keys';
import { TogetherEnvelope, withOutcomeKey } from '../../lib/events';
import { runOnce } from '../shared/claim-once';
import { isObject, nonEmptyString } from '../shared/guards';
import { IdempotencyStore } from '../shared/idempotency';
import { Logger } from '../shared/log';
import { ApiResponse, errorDetail, redact, Secret, TogetherUnreachableError } from '../shared/together-api';
import { LineageStore } from './lineage';
import { adjust, FailedJob, matchRule, readFailedJob, retryTag, suffixParts, taggedSuffix } from './rules';

/**
 * Recipe: a failed fine-tune resubmitted by the first retry rule its last error matches, at most `maxAttempts`
 * retries per lineage. One new job per failed job, whatever the redeliveries: a claim per failed job covers the
 * whole work, and before creating, the listing is searched for a job already made for it (its suffix carries a tag
 * naming the failed job), so a create whose answer was lost is adopted, never repeated. A rule that says no, or a
 * lineage out of attempts, is an alert that says why. The poller follows the new job like any other.
 */

export const RETRIED_TYPE = 'fine_tune.retried';

export interface FineTuneRetryConfig {
  readonly rules: readonly RetryRuleSpec[];
  readonly maxAttempts: number;
  readonly scope: string;
  readonly retentionSeconds: number;
}

export interface FineTuneFailed {
  readonly fine_tune_id: string;
  readonly error_message: string;
}

/** Together's API as the handler needs it: the key, the deadlines and the redaction of `secrets` are the adapter's. */
export type TogetherCall = (
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
  secrets?: readonly Secret[],
) => Promise<ApiResponse>;

export interface FineTuneRetryDeps {
  readonly config: FineTuneRetryConfig;
  readonly store: IdempotencyStore;
  readonly lineage: LineageStore;
  readonly together: TogetherCall;
  /** PutEvents of one event on the receiver's bus. */
  readonly publish: (detailType: string, detail: string) => Promise<string | void>;
  /** The alert topic; undefined when alerts are off (the reason is still logged). */
  readonly alert?: (subject: string, message: string) => Promise<void>;
  readonly nowMs: number;
  readonly remainingMs: number;
  readonly token: string;
  readonly log: Logger;
}

export interface Retried {
  readonly action: 'created' | 'adopted';
  readonly newFineTuneId: string;
  readonly originalFineTuneId: string;
  readonly attempt: number;
  readonly adjustment: string;
}

export type RetryDecision =
  Retried | { readonly action: 'not_retried'; readonly reason: string } | { readonly action: 'done_before' };

/** Reads the event's data; anything else is an error that names what is wrong. */
export function readFineTuneFailed(event: unknown): FineTuneFailed {
  const e = (event ?? {}) as { 'detail-type'?: unknown; detail?: { data?: Record<string, unknown> } };
  if (e['detail-type'] !== 'fine_tune.failed')
    throw new Error(
      `expected a fine_tune.failed event, got detail-type ${String(e['detail-type']).slice(0, 80)}`,
    );
  const data = e.detail?.data ?? {};
  const id = nonEmptyString(data.fine_tune_id);
  if (id === undefined) throw new Error('fine_tune.failed without data.fine_tune_id');
  return {
    fine_tune_id: id,
    error_message: typeof data.error_message === 'string' ? data.error_message : '',
  };
}

/** The create was sent (or the job made) and something after it failed: the job may exist; adopt it later. */
export class RetryOutcomeUnknown extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RetryOutcomeUnknown';
  }
}

export async function retryFailedFineTune(
  failed: FineTuneFailed,
  deps: FineTuneRetryDeps,
): Promise<RetryDecision> {
  const { config } = deps;
  const outcome = await runOnce(
    deps.store,
    {
      id: `${fineTuneRetryPrefix(config.scope)}:${failed.fine_tune_id}`,
      deliveryId: failed.fine_tune_id,
      payloadHash: failed.fine_tune_id,
      token: deps.token,
      nowMs: deps.nowMs,
      remainingMs: deps.remainingMs,
      retentionSeconds: config.retentionSeconds,
    },
    {
      busyMessage: `fine-tune ${failed.fine_tune_id} is being retried by another invocation; retry later`,
      work: () => decideAndRetry(failed, deps),
      // The job may exist: keep the claim until it lapses, so the retry comes late enough for the listing to show it.
      keepClaimOn: (err) => err instanceof RetryOutcomeUnknown,
    },
  );
  if (!outcome.ran) {
    deps.log({ message: 'failed fine-tune handled before', fineTuneId: failed.fine_tune_id });
    return { action: 'done_before' };
  }
  return outcome.value;
}

async function decideAndRetry(failed: FineTuneFailed, deps: FineTuneRetryDeps): Promise<RetryDecision> {
  const path = `/fine-tunes/${encodeURIComponent(failed.fine_tune_id)}`;
  const got = await deps.together('GET', path);
  if (got.status < 200 || got.status >= 300)
    throw new Error(`reading the failed job failed: ${failure(got)}`);
  const job = readFailedJob(got.json, failed.fine_tune_id, failed.error_message);
  const rule = matchRule(deps.config.rules, job.lastError);
  if (!rule) return notRetried(deps, job, 'no retry rule matches its error');
  if (rule.action === 'no_retry')
    return notRetried(deps, job, 'a retry rule says not to retry it', adviceFor(rule, job));
  const listed = await listFineTunes(deps, job);
  // GET /fine-tunes/{id} is not described with a suffix; the listing is.
  const suffix = suffixParts(job.suffix ?? listedSuffix(listed, job.id) ?? '');
  const parent = await deps.lineage.get(job.id);
  const original = parent?.original ?? job.id;
  const attempt = (parent?.attempt ?? suffix.taggedAttempt) + 1;
  if (attempt > deps.config.maxAttempts)
    return notRetried(
      deps,
      job,
      `its lineage (original ${original}) has had ${attempt - 1} of ${deps.config.maxAttempts} retries (maxAttempts)`,
    );
  const adjusted = adjust(job, rule);
  if ('refused' in adjusted)
    return notRetried(deps, job, `the rule "${rule.match}" cannot apply: ${adjusted.refused}`);
  const body = { ...adjusted.body, suffix: taggedSuffix(suffix.base, retryTag(job.id, attempt)) };
  const made = await adoptOrCreate(deps, job, listed, body);
  const retried: Retried = {
    ...made,
    originalFineTuneId: original,
    attempt,
    adjustment: adjusted.adjustment,
  };
  await afterCreate(deps, job, retried);
  return retried;
}

/** GET /fine-tunes: every job of yours, for the failed job's suffix and a retry already made. */
async function listFineTunes(deps: FineTuneRetryDeps, job: FailedJob): Promise<unknown[]> {
  const listed = await deps.together('GET', '/fine-tunes', undefined, job.secrets);
  if (listed.status < 200 || listed.status >= 300)
    throw new Error(`listing your fine-tunes failed: ${failure(listed, job.secrets)}`);
  const data = (listed.json as { data?: unknown } | undefined)?.data;
  if (!Array.isArray(data)) throw new Error('Together listed the fine-tunes without a data array');
  return data;
}

function listedSuffix(listed: readonly unknown[], id: string): string | undefined {
  const entry = listed.find((j) => isObject(j) && j.id === id);
  return isObject(entry) && typeof entry.suffix === 'string' ? entry.suffix : undefined;
}

/** Records the lineage and publishes; a failure here leaves a job made, so the claim is kept for adoption. */
async function afterCreate(deps: FineTuneRetryDeps, job: FailedJob, r: Retried): Promise<void> {
  try {
    await deps.lineage.put(
      r.newFineTuneId,
      { original: r.originalFineTuneId, attempt: r.attempt },
      deps.nowMs,
    );
    await deps.publish(RETRIED_TYPE, retriedDetail(deps, job.id, r));
  } catch (err) {
    throw new RetryOutcomeUnknown(
      `fine-tune ${r.newFineTuneId} was made for ${job.id}, then: ${(err as Error).message}`,
    );
  }
  deps.log({
    message: r.action === 'created' ? 'failed fine-tune retried' : 'retry of a failed fine-tune adopted',
    fineTuneId: job.id,
    newFineTuneId: r.newFineTuneId,
    originalFineTuneId: r.originalFineTuneId,
    attempt: r.attempt,
    adjustment: r.adjustment,
  });
}

function retriedDetail(deps: FineTuneRetryDeps, failedId: string, r: Retried): string {
  const key = `${RETRIED_TYPE}:${failedId}`;
  const envelope: TogetherEnvelope = {
    id: key,
    type: RETRIED_TYPE,
    created_at: new Date(deps.nowMs).toISOString(),
    data: {
      failed_fine_tune_id: failedId,
      new_fine_tune_id: r.newFineTuneId,
      original_fine_tune_id: r.originalFineTuneId,
      attempt: r.attempt,
      adjustment: r.adjustment,
    },
  };
  return withOutcomeKey(JSON.stringify(envelope), envelope, key);
}

type Made = Pick<Retried, 'action' | 'newFineTuneId'>;

/** A job already made for this failure (its tagged suffix) is adopted; else one POST, never repeated blindly. */
async function adoptOrCreate(
  deps: FineTuneRetryDeps,
  job: FailedJob,
  listed: readonly unknown[],
  body: Record<string, unknown>,
): Promise<Made> {
  const existing = listed.find(
    (j): j is { id: string } =>
      isObject(j) &&
      typeof j.id === 'string' &&
      j.id !== job.id &&
      j.suffix === body.suffix &&
      j.model === job.model,
  );
  if (existing) return { action: 'adopted', newFineTuneId: existing.id };
  let created: ApiResponse;
  try {
    created = await deps.together('POST', '/fine-tunes', body, job.secrets);
  } catch (err) {
    if (err instanceof TogetherUnreachableError)
      throw new RetryOutcomeUnknown(redact(err.message, job.secrets));
    throw err;
  }
  // A 5xx may come after the job was made: unknown too.
  if (created.status >= 500)
    throw new RetryOutcomeUnknown(`creating the retry: ${failure(created, job.secrets)}`);
  if (created.status < 200 || created.status >= 300)
    throw new Error(`Together refused the retry of ${job.id}: ${failure(created, job.secrets)}`);
  const id = (created.json as { id?: unknown } | undefined)?.id;
  if (typeof id !== 'string')
    throw new RetryOutcomeUnknown('Together answered the create without a fine-tune id');
  return { action: 'created', newFineTuneId: id };
}

/** The advice of a no-retry rule, `<file>` naming the job's training file. */
function adviceFor(rule: RetryRuleSpec, job: FailedJob): string | undefined {
  return rule.advice?.split('<file>').join(job.trainingFile);
}

async function notRetried(
  deps: FineTuneRetryDeps,
  job: FailedJob,
  reason: string,
  advice?: string,
): Promise<RetryDecision> {
  const error = redact(job.lastError, job.secrets).slice(0, 500);
  deps.log({ level: 'WARN', message: 'failed fine-tune not retried', fineTuneId: job.id, reason, error });
  const lines = [
    `Fine-tune ${job.id} (${job.model}) failed and was not retried: ${reason}.`,
    `Its error: ${error || '(none reported)'}`,
    ...(advice ? [advice] : []),
  ];
  await deps.alert?.(`Together fine-tune ${job.id} not retried`.slice(0, 100), lines.join('\n'));
  return { action: 'not_retried', reason };
}

function failure(res: ApiResponse, secrets: readonly Secret[] = []): string {
  return redact(`HTTP ${res.status}: ${errorDetail(res.json, res.status).message}`, secrets);
}
