import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { legacyOutcomeClaimId, outcomeClaimId } from '../../lib/claim-keys';

/**
 * The one claim -> publish -> complete path. The verifier and the poller both deliver through `deliverOnce`, so an
 * event id reaches the bus once whichever path sees it first.
 *
 * Record (partition key `id`: the claim's id as given, or, for outcome claims, `o#<scope>#<outcome key>`):
 *   status              INPROGRESS | COMPLETED
 *   expiration          epoch seconds; the table's TTL attribute (retention window of the dedupe)
 *   in_progress_expiry  epoch ms after which an INPROGRESS claim is abandoned and may be taken over
 *   delivery_id         the sender's id for this delivery (the envelope id)
 *   payload_hash        sha256 of what was delivered, to spot one delivery id reused for another payload
 *   claim_token         who holds the claim, so a late owner never releases or completes someone else's claim
 */

export const STATUS_IN_PROGRESS = 'INPROGRESS';
export const STATUS_COMPLETED = 'COMPLETED';

export interface ClaimRequest {
  /** The dedupe key: one per outcome. */
  readonly id: string;
  /** The sender's id for this delivery; the same outcome may arrive under several (webhook and poller). */
  readonly deliveryId: string;
  readonly payloadHash: string;
  readonly token: string;
  readonly nowMs: number;
  /** How long the claim holds while we publish; from the Lambda's remaining time. */
  readonly inProgressMs: number;
  /** How long a completed id is remembered. */
  readonly retentionSeconds: number;
}

export interface ExistingRecord {
  readonly status: string;
  readonly inProgressExpiryMs?: number;
  readonly expirationSeconds?: number;
  readonly deliveryId?: string;
  readonly payloadHash?: string;
}

export type ClaimResult =
  { readonly claimed: true } | { readonly claimed: false; readonly existing?: ExistingRecord };

/** The storage half of the protocol. `DynamoIdempotencyStore` is the real one. */
export interface IdempotencyStore {
  claim(req: ClaimRequest): Promise<ClaimResult>;
  complete(req: ClaimRequest, receipt?: PublishReceipt): Promise<void>;
  release(req: ClaimRequest): Promise<void>;
}

/** Where a claim's id is stored, and where an older release may have claimed the same thing. */
export interface ClaimKeys {
  item(id: string): string;
  /** The key an earlier release used for this claim, honoured while it lives; undefined: none to look at. */
  legacy?(id: string): string | undefined;
}

/** Ids are item keys as they are (a recipe's own claims, which carry their namespace). */
export const RAW_CLAIM_KEYS: ClaimKeys = { item: (id) => id };

/**
 * Ids are outcome keys of the construct with this scope: stored under `o#<scope>#`, where no sender's id can name
 * another construct's claim or anything that is not a claim; a claim made before namespaces (the bare outcome
 * key) still counts until it expires.
 */
export function outcomeClaimKeys(scope: string): ClaimKeys {
  outcomeClaimId(scope, ''); // refuses a scope that is not a safe key part, at once
  return { item: (id) => outcomeClaimId(scope, id), legacy: legacyOutcomeClaimId };
}

export class DynamoIdempotencyStore implements IdempotencyStore {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    private readonly keys: ClaimKeys = RAW_CLAIM_KEYS,
  ) {}

  async claim(req: ClaimRequest): Promise<ClaimResult> {
    const put = await this.put(req);
    if (put !== true) return put;
    const taken: ClaimResult = { claimed: true };
    const legacyId = this.keys.legacy?.(req.id);
    if (legacyId === undefined) return taken;
    let legacy: ExistingRecord | undefined;
    try {
      legacy = await this.read(legacyId);
    } catch (err) {
      // Nothing was published under our claim: free it, so the retry is not told to wait for it.
      await this.release(req).catch(() => undefined);
      throw err;
    }
    if (!legacy || !isLive(legacy, req.nowMs)) return taken;
    // The same outcome, claimed by the release before this one: it decides, as it would have.
    if (legacy.status === STATUS_COMPLETED) await this.complete(req);
    else await this.release(req);
    return { claimed: false, existing: legacy };
  }

  /** The conditional put; true when taken, else what holds the id (none: released between our put and read). */
  private async put(req: ClaimRequest): Promise<true | ClaimResult> {
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: {
            id: { S: this.keys.item(req.id) },
            status: { S: STATUS_IN_PROGRESS },
            expiration: { N: String(Math.floor(req.nowMs / 1000) + req.retentionSeconds) },
            in_progress_expiry: { N: String(req.nowMs + req.inProgressMs) },
            delivery_id: { S: req.deliveryId },
            payload_hash: { S: req.payloadHash },
            claim_token: { S: req.token },
          },
          // Free, or remembered past its retention (TTL deletes lazily), or an abandoned claim.
          ConditionExpression:
            'attribute_not_exists(id) OR expiration < :nowSeconds OR (#status = :inProgress AND in_progress_expiry < :nowMs)',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':nowSeconds': { N: String(Math.floor(req.nowMs / 1000)) },
            ':nowMs': { N: String(req.nowMs) },
            ':inProgress': { S: STATUS_IN_PROGRESS },
          },
        }),
      );
      return true;
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
    }
    // ReturnValuesOnConditionCheckFailure would save this read, but not every engine supports it.
    const existing = await this.read(this.keys.item(req.id));
    return existing ? { claimed: false, existing } : { claimed: false };
  }

  private async read(key: string): Promise<ExistingRecord | undefined> {
    const got = await this.client.send(
      new GetItemCommand({ TableName: this.tableName, Key: { id: { S: key } }, ConsistentRead: true }),
    );
    const item = got.Item;
    if (!item) return undefined;
    return {
      status: item.status?.S ?? 'UNKNOWN',
      inProgressExpiryMs: item.in_progress_expiry?.N ? Number(item.in_progress_expiry.N) : undefined,
      expirationSeconds: item.expiration?.N ? Number(item.expiration.N) : undefined,
      deliveryId: item.delivery_id?.S,
      payloadHash: item.payload_hash?.S,
    };
  }

  async complete(req: ClaimRequest, receipt?: PublishReceipt): Promise<void> {
    // The event id and the publish time answer "where did it go?" (together-webhooks trace).
    const sets = ['#status = :completed', 'expiration = :expiration'];
    const values: Record<string, { S: string } | { N: string }> = {
      ':completed': { S: STATUS_COMPLETED },
      ':expiration': { N: String(Math.floor(req.nowMs / 1000) + req.retentionSeconds) },
      ':token': { S: req.token },
    };
    if (receipt) {
      sets.push('published_at = :publishedAt');
      values[':publishedAt'] = { N: String(receipt.publishedAtMs) };
      if (receipt.eventId) {
        sets.push('event_id = :eventId');
        values[':eventId'] = { S: receipt.eventId };
      }
    }
    await this.client.send(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: { id: { S: this.keys.item(req.id) } },
        UpdateExpression: `SET ${sets.join(', ')} REMOVE in_progress_expiry`,
        ConditionExpression: 'claim_token = :token',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: values,
      }),
    );
  }

  async release(req: ClaimRequest): Promise<void> {
    try {
      await this.client.send(
        new DeleteItemCommand({
          TableName: this.tableName,
          Key: { id: { S: this.keys.item(req.id) } },
          ConditionExpression: 'claim_token = :token AND #status = :inProgress',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':token': { S: req.token },
            ':inProgress': { S: STATUS_IN_PROGRESS },
          },
        }),
      );
    } catch (err) {
      // Someone else holds the id now: theirs to finish, nothing of ours to release.
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
    }
  }
}

/** A claim that still decides: remembered and not past its retention, and if in progress, not abandoned. */
function isLive(record: ExistingRecord, nowMs: number): boolean {
  if (record.status !== STATUS_COMPLETED && record.status !== STATUS_IN_PROGRESS) return false;
  if (record.expirationSeconds !== undefined && record.expirationSeconds < Math.floor(nowMs / 1000))
    return false;
  return record.status === STATUS_COMPLETED || (record.inProgressExpiryMs ?? 0) >= nowMs;
}

/** Publishes one event; throws when the bus did not accept it. */
/** Publishes; may answer with the bus's event id, which the completed claim then records (`trace` shows it). */
export type Publish = () => Promise<string | void>;

/** What the completed claim records of the publish: the bus's event id (when the publisher gave one), and when. */
export interface PublishReceipt {
  readonly eventId?: string;
  readonly publishedAtMs: number;
}

export type DeliveryOutcome =
  | { readonly outcome: 'published'; readonly completeError?: unknown }
  | { readonly outcome: 'duplicate'; readonly payloadMismatch: boolean }
  | { readonly outcome: 'in_flight'; readonly retryAfterSeconds: number; readonly payloadMismatch: boolean }
  | { readonly outcome: 'store_error'; readonly error: unknown }
  | { readonly outcome: 'publish_error'; readonly error: unknown; readonly releaseError?: unknown }
  | { readonly outcome: 'publish_unknown'; readonly error: unknown; readonly retryAfterSeconds: number };

export interface DeliveryOptions {
  /**
   * True for a publish failure after which the event may be on the bus anyway (a timeout after sending): the claim
   * is then kept until it expires rather than released, so a retry does not publish it again at once.
   * @default - every failure is taken as not published
   */
  readonly outcomeUnknown?: (error: unknown) => boolean;
  /** Attempts at marking the claim completed. @default 3 */
  readonly completeAttempts?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  /** In [0, 1): jitter. */
  readonly random?: () => number;
}

const COMPLETE_BACKOFF_MS = 50;

/**
 * Claim the id, publish, mark it completed (retried, bounded, jittered). A publish EventBridge refused releases
 * the claim so the sender's retry goes through; one whose outcome is unknown keeps it until it expires; a store
 * failure publishes nothing. Never throws.
 */
export async function deliverOnce(
  store: IdempotencyStore,
  req: ClaimRequest,
  publish: Publish,
  options: DeliveryOptions = {},
): Promise<DeliveryOutcome> {
  let claim: ClaimResult;
  try {
    claim = await store.claim(req);
    // The holder released between our put and our read: one more try, then let the sender come back.
    if (!claim.claimed && !claim.existing) claim = await store.claim(req);
  } catch (error) {
    return { outcome: 'store_error', error };
  }

  if (!claim.claimed) {
    const existing = claim.existing;
    // One delivery id with two bodies is suspicious; one outcome under two delivery ids is the other path's copy.
    const payloadMismatch =
      existing?.deliveryId === req.deliveryId &&
      existing.payloadHash !== undefined &&
      existing.payloadHash !== req.payloadHash;
    if (existing?.status === STATUS_COMPLETED) return { outcome: 'duplicate', payloadMismatch };
    const waitMs = (existing?.inProgressExpiryMs ?? req.nowMs) - req.nowMs;
    return {
      outcome: 'in_flight',
      retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)),
      payloadMismatch,
    };
  }

  let eventId: string | void;
  try {
    eventId = await publish();
  } catch (error) {
    if (options.outcomeUnknown?.(error)) {
      // It may be on the bus: releasing now would let the sender's retry publish a second copy at once.
      return {
        outcome: 'publish_unknown',
        error,
        retryAfterSeconds: Math.max(1, Math.ceil(req.inProgressMs / 1000)),
      };
    }
    try {
      await store.release(req);
    } catch (releaseError) {
      // The claim then lapses at in_progress_expiry and the retry after that goes through.
      return { outcome: 'publish_error', error, releaseError };
    }
    return { outcome: 'publish_error', error };
  }

  const receipt: PublishReceipt = {
    ...(typeof eventId === 'string' && eventId !== '' ? { eventId } : {}),
    // The delivery's own time (its clock, injected): the publish follows the claim within its window.
    publishedAtMs: req.nowMs,
  };
  const attempts = options.completeAttempts ?? 3;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const random = options.random ?? Math.random;
  for (let attempt = 1; ; attempt++) {
    try {
      await store.complete(req, receipt);
      return { outcome: 'published' };
    } catch (completeError) {
      // Published already: answering an error would invite a second publish. Left INPROGRESS, the claim lapses at
      // its expiry and the other path could publish again; so try a few times. A lost claim is not ours to mark.
      if (attempt >= attempts || completeError instanceof ConditionalCheckFailedException)
        return { outcome: 'published', completeError };
      await sleep(Math.floor(random() * COMPLETE_BACKOFF_MS * 2 ** (attempt - 1)));
    }
  }
}
