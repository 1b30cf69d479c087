/**
 * `together-webhooks/track` (TypeScript only): hands the poller an operation Together cannot list, so it follows it
 * to its outcome event. Video generations (`video.completed` / `video.failed`) and queued inference jobs
 * (`queue_job.done` / `queue_job.failed`).
 *
 *   import { trackVideo } from 'together-webhooks/track';
 *   const video = await together.videos.create({ ... });
 *   await trackVideo(video.id); // in a function given `poller.addTrackingEnvironment(fn)` and `grantTrack(fn)`
 *
 * Where ids go: one item of the dedupe table per poller, `poller#<scope>#track` (its inbox), one top-level
 * attribute per operation. Each write is one `UpdateItem SET #a = if_not_exists(#a, :v)`: atomic, it creates the
 * item when missing, concurrent writers never overwrite each other, and tracking the same id twice changes nothing.
 * The poller reads the item once a poll and removes an entry once its outcome is delivered, Together no longer
 * knows it, or it expired (`trackingExpiry`).
 *
 * Needs `@aws-sdk/client-dynamodb` (in every Lambda Node.js runtime; elsewhere install it). Imported by the poller
 * and the CLI too, so every writer writes the same entry.
 */
import { AttributeValue, DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { CLAIM_SCOPE_PATTERN, TRACK_ENV } from './contract';
import { trackInboxKey } from './claim-keys';

/** `video`: GET /videos/{id} (Together's v2 API); `queue`: GET /queue/status?request_id=&model=. */
export type TrackKind = 'video' | 'queue';
export const TRACK_KINDS: readonly TrackKind[] = ['video', 'queue'];

export interface TrackRequest {
  readonly kind: TrackKind;
  /** The video id, or the queued job's request_id (no ':' in it: the keys split at their last ':'). */
  readonly id: string;
  /** The model a queued job was submitted to (queue only: Together asks for it). */
  readonly model?: string;
}

/** One entry of the inbox, as the poller reads it. */
export interface TrackedEntry extends TrackRequest {
  /** Its attribute name in the inbox: `video:<id>`, `queue:<model>:<request_id>`. */
  readonly key: string;
  /** Epoch ms it was first tracked (a second write keeps the first). */
  readonly trackedAt: number;
}

/** The longest id or model accepted: what bounds one entry, and so the inbox's capacity. */
export const MAX_TRACKED_ID_LENGTH = 256;
/**
 * About how many operations the inbox holds (DynamoDB's 400 KB item limit), measured on dynalite: 3,700 videos
 * with 36-character ids, 2,100 queue jobs with 36-character ids and 40-character models, 380 of the longest ids and
 * models allowed. Entries leave as their outcomes are delivered or they expire.
 */
export const TRACK_CAPACITY = 2_000;

/** The inbox attribute of one operation: what makes tracking it twice the same write. */
export function trackedKey(request: TrackRequest): string {
  return request.kind === 'video' ? `video:${request.id}` : `queue:${request.model}:${request.id}`;
}

/** The request, checked; throws saying what is wrong with the value received. */
export function checkTrackRequest(input: unknown): TrackRequest {
  const r = (typeof input === 'object' && input !== null ? input : {}) as Record<string, unknown>;
  if (!TRACK_KINDS.includes(r.kind as TrackKind))
    throw new Error(`track: kind must be 'video' or 'queue', got ${shown(r.kind)}`);
  const kind = r.kind as TrackKind;
  const id = checkText(r.id, kind === 'video' ? 'a video id' : 'a request_id');
  if (kind === 'video') {
    if (r.model !== undefined) throw new Error(`track: a video takes no model, got ${shown(r.model)}`);
    return { kind, id };
  }
  // The inbox key `queue:<model>:<request_id>` and the outcome key `queue_job.done:<model>:<request_id>` split at
  // their last ':': a model may hold one (Together's names hold '/'), a request_id (a uuid) must not.
  if (id.includes(':')) throw new Error(`track: a request_id must not contain ':', got ${shown(id)}`);
  return { kind, id, model: checkText(r.model, "the queued job's model") };
}

function checkText(value: unknown, what: string): string {
  // Printable, no spaces: ids and model names are; anything else is a mistake (a whole answer, a newline).
  if (typeof value !== 'string' || !/^[\x21-\x7e]+$/.test(value) || value.length > MAX_TRACKED_ID_LENGTH)
    throw new Error(
      `track: ${what} must be 1-${MAX_TRACKED_ID_LENGTH} printable characters without spaces, got ${shown(value)}`,
    );
  return value;
}

const shown = (v: unknown) => (typeof v === 'string' ? JSON.stringify(v.slice(0, 100)) : String(v));

/** The stored value of an entry: what it is, and when it was tracked. */
export function entryValue(request: TrackRequest, nowMs: number): AttributeValue {
  return {
    M: {
      kind: { S: request.kind },
      id: { S: request.id },
      ...(request.model !== undefined ? { model: { S: request.model } } : {}),
      tracked_at: { N: String(nowMs) },
    },
  };
}

export interface TrackResult {
  /** The inbox attribute. */
  readonly key: string;
  /** False: it was tracked already (nothing changed). */
  readonly added: boolean;
}

/** The one write every writer makes: the entry, unless it is there already. */
export async function writeTracked(
  client: DynamoDBClient,
  tableName: string,
  scope: string,
  request: TrackRequest,
  nowMs: number,
): Promise<TrackResult> {
  const checked = checkTrackRequest(request);
  if (!CLAIM_SCOPE_PATTERN.test(scope))
    throw new Error(
      `track: the poller's scope must be 1-100 letters, digits, '_', '.' or '-', got ${shown(scope)}`,
    );
  const key = trackedKey(checked);
  const inbox = trackInboxKey(scope);
  try {
    const out = await client.send(
      new UpdateItemCommand({
        TableName: tableName,
        Key: { id: { S: inbox } },
        UpdateExpression: 'SET #a = if_not_exists(#a, :v)',
        ExpressionAttributeNames: { '#a': key },
        ExpressionAttributeValues: { ':v': entryValue(checked, nowMs) },
        // The old value, if there was one: tells a first write from a repeat, in the same atomic request.
        ReturnValues: 'UPDATED_OLD',
      }),
    );
    return { key, added: out.Attributes?.[key] === undefined };
  } catch (err) {
    const e = err as { name?: string; message?: string };
    if (e.name === 'ValidationException' && /size/i.test(e.message ?? '')) {
      throw new Error(
        `track: the tracking inbox ${inbox} in ${tableName} is full (DynamoDB's 400 KB item limit, about ` +
          `${TRACK_CAPACITY} tracked operations): ${key} was not tracked. Entries leave as their outcomes are ` +
          'delivered or they expire (trackingExpiry); track fewer at once, or use a second poller',
        { cause: err },
      );
    }
    throw err;
  }
}

export interface TrackOptions {
  /** @default - the environment's TOGETHER_TRACK_TABLE (`addTrackingEnvironment`) */
  readonly tableName?: string;
  /** The poller's state scope. @default - the environment's TOGETHER_TRACK_SCOPE */
  readonly scope?: string;
  /** @default - one client of this module, with the timeouts below */
  readonly client?: DynamoDBClient;
  /** @default process.env */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Epoch ms. @default Date.now */
  readonly now?: () => number;
}

/** As the handlers' DynamoDB clients (lambda/shared/sdk-config.ts): no SDK default leaves a call unbounded. */
export const TRACK_CLIENT_CONFIG = {
  maxAttempts: 3,
  requestHandler: {
    connectionTimeout: 1_000,
    requestTimeout: 2_000,
    throwOnRequestTimeout: true,
    socketTimeout: 2_000,
  },
};

let defaultClient: DynamoDBClient | undefined;

/** Tracks one operation: the poller follows it from its next poll. */
export async function track(request: TrackRequest, options: TrackOptions = {}): Promise<TrackResult> {
  const checked = checkTrackRequest(request);
  const env = options.env ?? process.env;
  const tableName = options.tableName ?? env[TRACK_ENV.table];
  const scope = options.scope ?? env[TRACK_ENV.scope];
  if (!tableName || !scope) {
    throw new Error(
      `track: no tracking inbox: set ${TRACK_ENV.table} and ${TRACK_ENV.scope} ` +
        "(the poller's addTrackingEnvironment(fn) does), or pass tableName and scope",
    );
  }
  const client = options.client ?? (defaultClient ??= new DynamoDBClient(TRACK_CLIENT_CONFIG));
  return writeTracked(client, tableName, scope, checked, (options.now ?? Date.now)());
}

/** `track({ kind: 'video', id })`. */
export function trackVideo(id: string, options?: TrackOptions): Promise<TrackResult> {
  return track({ kind: 'video', id }, options);
}

/** `track({ kind: 'queue', id: requestId, model })`. */
export function trackQueueJob(
  requestId: string,
  model: string,
  options?: TrackOptions,
): Promise<TrackResult> {
  return track({ kind: 'queue', id: requestId, model }, options);
}
