import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import { gunzipSync, gzipSync } from 'node:zlib';
import { CLAIM_SCOPE_PATTERN, pollerStatePrefix } from '../../lib/claim-keys';
import { JOB_SOURCES, JobSourceKey } from './sources';

/**
 * The poller's memory, kept in the dedupe table beside the claims. Every key is `poller#<scope>#...`, where the
 * scope names the construct (stable across deploys), so two pollers can share one table; no outcome claim can take
 * such a key (those start with `o#`: lib/claim-keys.ts). One item per source, so sources stay independent and each
 * item stays far below DynamoDB's 400 KB.
 */

export const STATE_VERSION = 2;
/** Past this, a state item is said to near DynamoDB's 400 KB item limit. */
export const STATE_WARN_BYTES = 300 * 1024;

/** A job seen unfinished (or finished but not yet delivered): followed until its terminal state is published. */
export interface FollowedJob {
  /** The status Together reported last. */
  status: string;
  /** Epoch ms this poller first saw it. */
  seen: number;
  /** Epoch ms of the last visit that read its progress (events). */
  visited?: number;
  /** Last checkpoint step published. */
  step?: number;
  /** Epoch ms of the last change seen: status, `updated_at` or a new event. */
  changed?: number;
  /** The `changed` value whose stall was published: one `fine_tune.stalled` per episode. */
  stalled?: number;
  /** It finished, but its terminal state is not delivered yet. */
  finished?: boolean;
  /** Failed attempts in a row (requests for it, or delivering it). */
  failures?: number;
  /** Failed attempts at publishing its terminal state, counted from when it was first seen finished. */
  finishFailures?: number;
  /** The last failure, for the log. */
  lastError?: string;
  /**
   * An endpoint's start ended in this state (STARTED, ERROR) and its event is not delivered yet; a cluster's state
   * whose transition was delivered, or its baseline (sources/clusters.ts).
   */
  endedAs?: string;
  /**
   * A deployment's change not yet published: the `since` that names its outcome (when the poller first saw it change,
   * or the `updated_at` of a change between two polls), kept so every retry names it the same way.
   */
  since?: string;
  /** A digest of a deployment's definition (image, command, resources, ...) when its last outcome was published. */
  definition?: string;
}

export interface JobSourceState {
  v: number;
  /** Epoch ms: outcomes before it were history when this poller started (first-run lookback). */
  since: number;
  /** Epoch ms: a finished job never followed and dated before it was handled already, or is history. */
  horizon: number;
  /** Epoch ms of the last listing that worked (undefined: none yet, the next one sets the baseline). */
  listed?: number;
  /** Followed jobs by id. */
  open: Record<string, FollowedJob>;
  /**
   * Finished jobs delivered (or taken as history) at or after the horizon: id -> the time judged by (forgotten once
   * the horizon passes it), or, for one Together gives no time for, minus when it was last listed (forgotten a week
   * after it stopped being listed).
   */
  done: Record<string, number>;
}

export interface WatchedModel {
  /** Epoch ms it was first listed. A model never listed cannot disappear. */
  listed?: number;
  /** Epoch ms of the first poll it was missing from, in the current episode. */
  missingSince?: number;
  /** The `missingSince` whose deprecation was published. */
  published?: number;
}

export interface ModelsState {
  v: number;
  models: Record<string, WatchedModel>;
}

export interface PollHealth {
  v: number;
  /** An open incident of Together refusing the API key: alerted once, closed by the first poll that works. */
  authIncident?: { openedAt: string; status: number };
}

/** One part per job source (sources/index.ts: `fineTunes`, `batches`, ...), then the watched models and the health. */
export interface PollerState extends Partial<Record<JobSourceKey, JobSourceState>> {
  models?: ModelsState;
  health?: PollHealth;
}

export type StatePart = keyof PollerState;
/** Each part is one item, named by its source's `item` (`fine-tunes`), or `models` and `health`. */
const PARTS: readonly StatePart[] = [...JOB_SOURCES.map((s) => s.key), 'models', 'health'];
const PART_KEYS = Object.fromEntries([
  ...JOB_SOURCES.map((s) => [s.key, s.item]),
  ['models', 'models'],
  ['health', 'health'],
]) as Record<StatePart, string>;

export interface PollerStateStore {
  /** True when this poll may run: no other poll holds an unexpired lease. */
  acquireLease(holder: string, nowMs: number, untilMs: number): Promise<boolean>;
  releaseLease(holder: string): Promise<void>;
  load(): Promise<PollerState>;
  /** Writes the parts that differ from what was loaded or last saved. */
  save(state: PollerState): Promise<void>;
}

/** The item keys of one poller's state: scope `abc` gives `poller#abc#lease`, `poller#abc#fine-tunes`, ... */
export function stateKey(scope: string, part: StatePart | 'lease'): string {
  return `${pollerStatePrefix(scope)}${part === 'lease' ? 'lease' : PART_KEYS[part]}`;
}

export class DynamoPollerStateStore implements PollerStateStore {
  private readonly saved = new Map<StatePart, string>();

  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    private readonly scope: string,
    /** Told when a stored part cannot be read (it then starts afresh) or nears DynamoDB's item limit. */
    private readonly warn: (part: StatePart, why: string) => void = () => undefined,
  ) {
    if (!CLAIM_SCOPE_PATTERN.test(scope)) throw new Error(`poller state scope is not a safe key: "${scope}"`);
  }

  async acquireLease(holder: string, nowMs: number, untilMs: number): Promise<boolean> {
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: {
            id: { S: stateKey(this.scope, 'lease') },
            holder: { S: holder },
            lease_until: { N: String(untilMs) },
            // Swept by TTL if a poller dies holding it; the condition below does not wait for that.
            expiration: { N: String(Math.ceil(untilMs / 1000) + 3600) },
          },
          ConditionExpression: 'attribute_not_exists(id) OR lease_until < :now',
          ExpressionAttributeValues: { ':now': { N: String(nowMs) } },
        }),
      );
      return true;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return false;
      throw err;
    }
  }

  async releaseLease(holder: string): Promise<void> {
    try {
      await this.client.send(
        new DeleteItemCommand({
          TableName: this.tableName,
          Key: { id: { S: stateKey(this.scope, 'lease') } },
          ConditionExpression: 'holder = :holder',
          ExpressionAttributeValues: { ':holder': { S: holder } },
        }),
      );
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
    }
  }

  async load(): Promise<PollerState> {
    const state: PollerState = {};
    this.saved.clear();
    await Promise.all(
      PARTS.map(async (part) => {
        const out = await this.client.send(
          new GetItemCommand({
            TableName: this.tableName,
            Key: { id: { S: stateKey(this.scope, part) } },
            ConsistentRead: true,
          }),
        );
        const raw = out.Item?.state?.B;
        if (!raw) return;
        let json: string;
        let value: { v?: unknown };
        try {
          json = gunzipSync(raw).toString('utf8');
          value = JSON.parse(json) as { v?: unknown };
        } catch (err) {
          this.warn(part, `not gzipped JSON (${(err as Error).message})`);
          return;
        }
        if (value?.v !== STATE_VERSION) {
          this.warn(part, `version ${String(value?.v)}, this poller reads ${STATE_VERSION}`);
          return;
        }
        this.saved.set(part, json);
        (state as Record<string, unknown>)[part] = value;
      }),
    );
    return state;
  }

  async save(state: PollerState): Promise<void> {
    await Promise.all(
      PARTS.map(async (part) => {
        const value = state[part];
        if (!value) return;
        const json = JSON.stringify(value);
        if (this.saved.get(part) === json) return;
        const packed = gzipSync(json);
        if (packed.length > STATE_WARN_BYTES) {
          this.warn(
            part,
            `the ${part} state is ${Math.round(packed.length / 1024)} KB of DynamoDB's 400 KB item limit: ` +
              'most likely finished jobs Together lists with no time at all',
          );
        }
        await this.client.send(
          new PutItemCommand({
            TableName: this.tableName,
            Item: {
              id: { S: stateKey(this.scope, part) },
              state: { B: packed },
              v: { N: String(STATE_VERSION) },
            },
          }),
        );
        this.saved.set(part, json);
      }),
    );
  }
}
