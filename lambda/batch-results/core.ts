import { createHash } from 'node:crypto';
import { outcomeKey, TogetherEnvelope, TogetherEventType, withOutcomeKey } from '../../lib/events';
import type { BatchResultsMetric } from '../../lib/contract';
import { ClaimRequest, deliverOnce, DeliveryOutcome, IdempotencyStore } from '../shared/idempotency';
import { errorName, Logger, LogLine, MetricsContext } from '../shared/log';
import { publishOutcomeUnknown } from '../shared/publisher';
import { DYNAMODB_LIMITS, EVENTBRIDGE_LIMITS, worstCaseMs } from '../shared/sdk-config';
import { BatchDone, readBatchDone } from './batch-done';
import { BatchCollectedData, Collected, copyBatchFiles, objectKey, OUTPUT_OBJECT } from './copy';
import { OpenFile } from './download';
import { ABORT_WAIT_MS, S3_CALLS_TO_FINISH, S3_LIMITS, S3Ops } from './s3-writer';

/**
 * The batch results recipe: on `batch.done`, copy the batch's output file (and error file) from Together to S3 as
 * it streams, count its lines and tokens on the way, and publish one `batch.collected` per batch.
 *
 * The claim on `batch.collected:<batch id>` covers the whole work (download, upload, PutEvents), so a redelivered
 * `batch.done` copies nothing twice, and any failure before EventBridge took the event releases the claim for
 * Lambda's retry. Object keys are fixed per batch, so a retry after a partial failure overwrites what it left.
 */

export const COLLECTED_TYPE = 'batch.collected' satisfies TogetherEventType;
/** deliverOnce's attempts at marking the claim completed, and their jittered backoff (under a second in all). */
const COMPLETE_ATTEMPTS = 3;
const COMPLETE_BACKOFF_ALLOWANCE_MS = 1_000;
/** S3's longest object key, in bytes. */
export const MAX_KEY_BYTES = 1024;

export interface CollectLimits {
  /**
   * Downloads stop this long before the function's end, leaving time for the last part, completing the upload,
   * PutEvents and marking (or releasing) the claim at the SDK clients' worst case.
   */
  readonly finishReserveMs: number;
  /** A claim outlives the function by this much, so it never lapses while the function still runs. */
  readonly claimMarginMs: number;
  /** Below this much download time the claim is not even taken. */
  readonly minWorkMs: number;
}

export const DEFAULT_LIMITS: CollectLimits = {
  finishReserveMs: Math.max(
    // Finishing: the upload, PutEvents, marking the claim completed.
    S3_CALLS_TO_FINISH * worstCaseMs(S3_LIMITS) +
      worstCaseMs(EVENTBRIDGE_LIMITS) +
      COMPLETE_ATTEMPTS * worstCaseMs(DYNAMODB_LIMITS) +
      COMPLETE_BACKOFF_ALLOWANCE_MS,
    // Cut off at the deadline inside a write (a part settling, an upload being created), then the part just sent,
    // the abort and releasing the claim.
    3 * worstCaseMs(S3_LIMITS) + ABORT_WAIT_MS + worstCaseMs(DYNAMODB_LIMITS),
  ),
  claimMarginMs: 30_000,
  minWorkMs: 5_000,
};

export interface BatchResultsConfig {
  readonly bucket: string;
  /** Prepended to `<batch id>/output.jsonl`, e.g. `together-batches/`. */
  readonly keyPrefix: string;
  /** Together's API base; an `output_url` is only followed when it is this base's file content URL. */
  readonly apiBaseUrl: string;
  readonly retentionSeconds: number;
  readonly metrics: MetricsContext;
  readonly limits?: Partial<CollectLimits>;
}

export interface BatchResultsDeps {
  readonly config: BatchResultsConfig;
  readonly openFile: OpenFile;
  readonly s3: S3Ops;
  readonly store: IdempotencyStore;
  /** Puts one event on the bus; throws unless EventBridge accepted it. */
  /** Answers with the bus's event id, when it has one (recorded on the claim). */
  readonly publish: (detailType: string, detail: string) => Promise<string | void>;
  readonly log: Logger;
  /** Epoch ms. */
  readonly now: () => number;
  readonly newToken: () => string;
}

export type { BatchCollectedData } from './copy';

export type CollectResult =
  | { readonly outcome: 'nothing_to_collect'; readonly batchId: string }
  | {
      readonly outcome: 'published';
      readonly key: string;
      readonly data: BatchCollectedData;
      readonly tokensByModel: Readonly<Record<string, number>>;
    }
  | { readonly outcome: 'duplicate'; readonly key: string };

/**
 * Collects one `batch.done`: at most once per batch, whatever the deliveries. Returns when the batch is collected
 * and published (now or before) or has nothing to collect; throws when Lambda should retry later (another
 * invocation holds the claim, or something failed) and on an event it cannot use.
 */
export async function collectBatchResults(
  deps: BatchResultsDeps,
  event: unknown,
  remainingMs: number,
): Promise<CollectResult> {
  const limits: CollectLimits = { ...DEFAULT_LIMITS, ...deps.config.limits };
  const input = readEvent(deps, event);
  const { batchId } = input;
  if (input.outputFileId === undefined && input.errorFileId === undefined) {
    deps.log({
      level: 'INFO',
      message: 'batch has no output or error file: nothing to collect',
      batch_id: batchId,
    });
    return { outcome: 'nothing_to_collect', batchId };
  }
  checkObjectKeys(deps, batchId);
  const startMs = deps.now();
  const window: CollectWindow = {
    startMs,
    deadlineMs: downloadDeadline(batchId, startMs, remainingMs, limits),
    // Held past the function's own end: never lapses while this invocation may still publish.
    claimMs: remainingMs + limits.claimMarginMs,
  };
  const key = outcomeKey({ id: '', type: COLLECTED_TYPE, data: { batch_id: batchId } });
  deps.log({
    level: 'INFO',
    message: 'collecting batch',
    batch_id: batchId,
    output_file_id: input.outputFileId ?? null,
    error_file_id: input.errorFileId ?? null,
  });
  const attempt = await claimCopyAndPublish(deps, input, key, window);
  return settle(deps, key, attempt, window);
}

/** When this invocation started, when its downloads must stop, and how long its claim holds. */
interface CollectWindow {
  readonly startMs: number;
  readonly deadlineMs: number;
  readonly claimMs: number;
}

/** What came of the claimed work: the claim's outcome, what was copied, and whether PutEvents was under way. */
interface Attempt {
  readonly outcome: DeliveryOutcome;
  readonly collected?: Collected;
  /** Only a failed PutEvents may have published anyway; a failed download or upload certainly did not. */
  readonly publishing: boolean;
}

function readEvent(deps: BatchResultsDeps, event: unknown): BatchDone {
  try {
    return readBatchDone(event, deps.config.apiBaseUrl);
  } catch (err) {
    deps.log({ level: 'ERROR', message: 'cannot collect this event', error: errorName(err) });
    throw err;
  }
}

/** Refuses a batch whose longest object key S3 could not store, before anything is read. */
function checkObjectKeys(deps: BatchResultsDeps, batchId: string): void {
  const longestKey = objectKey(deps.config.keyPrefix, batchId, OUTPUT_OBJECT);
  if (Buffer.byteLength(longestKey) > MAX_KEY_BYTES) {
    throw fail(
      deps,
      `batch ${batchId.slice(0, 80)}: object key of ${Buffer.byteLength(longestKey)} bytes: S3 takes at most ` +
        `${MAX_KEY_BYTES}; use a shorter keyPrefix`,
    );
  }
}

/** When downloads must stop; refuses (before any claim) when that leaves too little time to work. */
function downloadDeadline(
  batchId: string,
  startMs: number,
  remainingMs: number,
  limits: CollectLimits,
): number {
  const deadlineMs = startMs + remainingMs - limits.finishReserveMs;
  if (deadlineMs - startMs < limits.minWorkMs) {
    throw new Error(
      `batch ${batchId}: ${remainingMs} ms left, too little to collect and still publish (needs over ` +
        `${limits.finishReserveMs + limits.minWorkMs} ms): give the function a longer timeout`,
    );
  }
  return deadlineMs;
}

/** Under the claim on `batch.collected:<batch id>`: copy the files, then publish `batch.collected`. */
async function claimCopyAndPublish(
  deps: BatchResultsDeps,
  input: BatchDone,
  key: string,
  window: CollectWindow,
): Promise<Attempt> {
  let collected: Collected | undefined;
  let publishing = false;
  const outcome = await deliverOnce(
    deps.store,
    claimRequest(deps, input, key, window),
    async () => {
      publishing = false;
      collected = await copyBatchFiles(deps, input, window.deadlineMs);
      const detail = collectedDetail(deps, key, collected.data);
      publishing = true;
      return deps.publish(COLLECTED_TYPE, detail);
    },
    { outcomeUnknown: (err) => publishing && publishOutcomeUnknown(err) },
  );
  return { outcome, collected, publishing };
}

function claimRequest(
  deps: BatchResultsDeps,
  input: BatchDone,
  key: string,
  window: CollectWindow,
): ClaimRequest {
  return {
    id: key,
    deliveryId: key,
    payloadHash: createHash('sha256')
      .update(JSON.stringify([input.batchId, input.outputFileId ?? null, input.errorFileId ?? null]))
      .digest('hex'),
    token: deps.newToken(),
    nowMs: window.startMs,
    inProgressMs: window.claimMs,
    retentionSeconds: deps.config.retentionSeconds,
  };
}

/** The `batch.collected` envelope as PutEvents sends it. */
function collectedDetail(deps: BatchResultsDeps, key: string, data: BatchCollectedData): string {
  const envelope: TogetherEnvelope = {
    id: key,
    type: COLLECTED_TYPE,
    created_at: new Date(deps.now()).toISOString(),
    data,
  };
  return withOutcomeKey(JSON.stringify(envelope), envelope, key);
}

/** What the claim's outcome means for Lambda: a result, or an error that has it retry later. */
function settle(deps: BatchResultsDeps, key: string, attempt: Attempt, window: CollectWindow): CollectResult {
  const result = attempt.outcome;
  switch (result.outcome) {
    case 'published':
      return reportPublished(deps, key, attempt.collected!, result.completeError);
    case 'duplicate':
      deps.log({
        level: result.payloadMismatch ? 'WARN' : 'INFO',
        message: result.payloadMismatch
          ? 'already collected, from a batch.done naming other files'
          : 'already collected: nothing to do',
        key,
      });
      return { outcome: 'duplicate', key };
    case 'in_flight':
      throw fail(
        deps,
        `${key} is being collected by another invocation; retry in about ${result.retryAfterSeconds} s`,
      );
    case 'store_error':
      throw fail(deps, `the dedupe table failed for ${key}: ${errorName(result.error)}`, result.error);
    case 'publish_error': {
      const released = result.releaseError
        ? `; the claim could not be released (${errorName(result.releaseError)}) and lapses in ` +
          `${Math.ceil(window.claimMs / 1000)} s`
        : '; the claim is released, a retry collects it again';
      const what = attempt.publishing ? 'EventBridge refused' : 'collecting';
      throw fail(deps, `${what} ${key} failed: ${errorName(result.error)}${released}`, result.error);
    }
    case 'publish_unknown':
      throw fail(
        deps,
        `EventBridge did not answer for ${key} (${errorName(result.error)}); the claim holds for ` +
          `${result.retryAfterSeconds} s, then a retry publishes it if it did not land`,
        result.error,
      );
  }
}

/** Published: the metric lines, and a warning when the claim could not be marked completed. */
function reportPublished(
  deps: BatchResultsDeps,
  key: string,
  { data, tokensByModel }: Collected,
  completeError: unknown,
): CollectResult {
  if (completeError) {
    deps.log({
      level: 'WARN',
      message: 'published, but the claim could not be marked completed',
      key,
      error: errorName(completeError),
    });
  }
  for (const line of metricLines(deps.config.metrics, data, tokensByModel, deps.now())) deps.log(line);
  return { outcome: 'published', key, data, tokensByModel: Object.fromEntries(tokensByModel) };
}

function fail(deps: BatchResultsDeps, message: string, cause?: unknown): Error {
  deps.log({ level: 'ERROR', message });
  return new Error(message, { cause });
}

/**
 * CloudWatch embedded metrics: `BatchesCollected` by `Service`, and `BatchTokens` by `Model`, one line per model
 * (a line holds one value per dimension).
 */
export function metricLines(
  metrics: MetricsContext,
  data: BatchCollectedData,
  tokensByModel: ReadonlyMap<string, number>,
  nowMs: number,
): LogLine[] {
  const emf = (dimensions: string[][], name: BatchResultsMetric) => ({
    Timestamp: nowMs,
    CloudWatchMetrics: [
      { Namespace: metrics.namespace, Dimensions: dimensions, Metrics: [{ Name: name, Unit: 'Count' }] },
    ],
  });
  return [
    {
      level: 'INFO',
      message: 'batch collected',
      ...data,
      Service: metrics.service,
      BatchesCollected: 1,
      _aws: emf([['Service']], 'BatchesCollected'),
    },
    ...[...tokensByModel].map(([model, n]) => ({
      level: 'INFO',
      message: 'batch tokens',
      batch_id: data.batch_id,
      Model: model,
      BatchTokens: n,
      _aws: emf([['Model']], 'BatchTokens'),
    })),
  ];
}
