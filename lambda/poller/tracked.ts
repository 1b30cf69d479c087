import { AttributeValue, DynamoDBClient, GetItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { trackInboxKey } from '../../lib/claim-keys';
import { checkTrackRequest, TrackedEntry, trackedKey, TrackKind } from '../../lib/track';
import { errorName } from '../shared/log';
import { RequestFailed } from './api';
import type { JobSourceState } from './state';
import type { JobSource, ListedJob, Listing, PollContext } from './tracker';

/**
 * Operations Together cannot list (videos, queued jobs), followed from the ids handed in to the poller's tracking
 * inbox (lib/track.ts writes it). The inbox is read once a poll, the first time a tracked source asks; what the
 * poller learns while following (visits, failures) stays in its own state parts, never in the inbox, so its
 * whole-item state saves cannot overwrite what writers add. An entry leaves the inbox when its outcome is
 * delivered, Together no longer knows it (404), or it expired.
 */

/** What one read of the inbox finds. */
export interface InboxContents {
  /** Every entry, by its attribute name. */
  readonly entries: Map<string, TrackedEntry>;
  /** The names of what the poller cannot read as an entry (no writer of ours makes one): removed, a few a poll. */
  readonly unreadable: readonly string[];
}

export interface TrackInbox {
  /** Every entry, and what is not one; a consistent read. */
  read(): Promise<InboxContents>;
  /** Removes one entry; removing one that is gone already is no error. */
  remove(key: string): Promise<void>;
}

/** An entry as stored, checked; undefined for anything else (no writer of ours makes one). */
export function readEntry(key: string, value: AttributeValue | undefined): TrackedEntry | undefined {
  const m = value?.M;
  if (!m) return undefined;
  const trackedAt = Number(m.tracked_at?.N);
  try {
    const request = checkTrackRequest({ kind: m.kind?.S, id: m.id?.S, model: m.model?.S });
    if (trackedKey(request) !== key || !Number.isFinite(trackedAt)) return undefined;
    return { ...request, key, trackedAt };
  } catch {
    return undefined;
  }
}

export class DynamoTrackInbox implements TrackInbox {
  private readonly itemKey: string;

  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    scope: string,
  ) {
    this.itemKey = trackInboxKey(scope);
  }

  async read(): Promise<InboxContents> {
    const out = await this.client.send(
      new GetItemCommand({
        TableName: this.tableName,
        Key: { id: { S: this.itemKey } },
        ConsistentRead: true,
      }),
    );
    const entries = new Map<string, TrackedEntry>();
    const unreadable: string[] = [];
    // Bounded by the item: 400 KB at most.
    for (const [key, value] of Object.entries(out.Item ?? {})) {
      if (key === 'id') continue;
      const entry = readEntry(key, value);
      if (entry) entries.set(key, entry);
      else unreadable.push(key);
    }
    return { entries, unreadable };
  }

  async remove(key: string): Promise<void> {
    await this.client.send(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: { id: { S: this.itemKey } },
        UpdateExpression: 'REMOVE #a',
        ExpressionAttributeNames: { '#a': key },
      }),
    );
  }
}

/** Expired entries removed per source and poll: a day's worth expiring at once must not take a poll's time. */
export const MAX_EXPIRED_PER_POLL = 50;

/** One poll's view of the inbox: read once, on first use, shared by the tracked sources. */
export class InboxReader {
  private entries?: Promise<InboxContents>;
  private cleaned = false;

  /**
   * @param expires whether this view removes expired entries: the scheduled poll's does; a fast-follow re-check's
   * does not (it skips them), so one invocation removes at most `MAX_EXPIRED_PER_POLL` of a source.
   */
  constructor(
    private readonly inbox: TrackInbox | undefined,
    readonly expires = true,
  ) {}

  async of(kind: TrackKind, ctx: PollContext): Promise<TrackedEntry[]> {
    if (!this.inbox) throw new RequestFailed('tracking is on, but this poller has no tracking inbox');
    this.entries ??= this.inbox.read().catch((err: unknown) => {
      throw new RequestFailed(`the tracking inbox could not be read: ${errorName(err)}`);
    });
    const { entries, unreadable } = await this.entries;
    if (this.expires && !this.cleaned) {
      this.cleaned = true;
      await this.removeUnreadable(ctx, unreadable);
    }
    return [...entries.values()].filter((e) => e.kind === kind);
  }

  /**
   * What no writer of ours makes (another version's spelling, a grantee's mistake) would never expire and would take
   * the inbox's room for good: removed with a warning, at most `MAX_EXPIRED_PER_POLL` a poll, as expired entries are.
   */
  private async removeUnreadable(ctx: PollContext, names: readonly string[]): Promise<void> {
    for (const key of names.slice(0, MAX_EXPIRED_PER_POLL)) {
      ctx.log({
        level: 'WARN',
        message: 'unreadable tracking entry: removed, no event',
        key: key.slice(0, 300),
      });
      try {
        await this.inbox!.remove(key);
      } catch (err) {
        // Left in the inbox: the next poll tries again.
        ctx.log({
          level: 'WARN',
          message: 'could not remove an unreadable tracking entry',
          error: errorName(err),
        });
      }
    }
  }

  async remove(key: string): Promise<void> {
    await this.inbox?.remove(key);
  }
}

/**
 * A source with no listing: its followed jobs are exactly the inbox's entries of its kind, keyed by their inbox
 * attribute (`video:<id>`), so the tracker visits each by `get`, round robin within its budget.
 */
export abstract class TrackedSource<J extends ListedJob> implements JobSource<J> {
  abstract readonly name: string;
  protected abstract readonly kind: TrackKind;
  private readonly entries = new Map<string, TrackedEntry>();

  constructor(
    private readonly inbox: InboxReader,
    private readonly expiryMs: number,
  ) {}

  abstract get(ctx: PollContext, key: string): Promise<J | undefined>;
  abstract finish(ctx: PollContext, job: J): Promise<void>;

  /** Nothing to list: every job of this source is handed in. */
  async list(): Promise<Listing<J>> {
    return { jobs: [] };
  }

  /**
   * The inbox's entries of this kind, less the expired ones: removed with a warning and no event, at most
   * `MAX_EXPIRED_PER_POLL` a poll (one request each); the rest are skipped until a later poll removes them. A
   * fast-follow re-check (an inbox view that `expires` not) skips them all: only the scheduled poll removes them.
   */
  async handedIn(ctx: PollContext, state: JobSourceState): Promise<string[]> {
    const keep: string[] = [];
    let expired = 0;
    for (const entry of await this.inbox.of(this.kind, ctx)) {
      // One Together reported finished but not yet delivered is kept until it is: its outcome happened.
      if (ctx.now - entry.trackedAt >= this.expiryMs && !state.open[entry.key]?.finished) {
        if (this.inbox.expires && expired++ < MAX_EXPIRED_PER_POLL)
          await this.expire(ctx, entry, state.open[entry.key]?.status);
        continue;
      }
      this.entries.set(entry.key, entry);
      keep.push(entry.key);
    }
    return keep;
  }

  async forget(_ctx: PollContext, key: string): Promise<void> {
    await this.inbox.remove(key);
  }

  /** The inbox entry of a followed job: what to ask Together for. */
  protected entry(key: string): TrackedEntry {
    const entry = this.entries.get(key);
    if (!entry) throw new RequestFailed(`${key} is not in the tracking inbox`);
    return entry;
  }

  private async expire(ctx: PollContext, entry: TrackedEntry, status: string | undefined): Promise<void> {
    ctx.log({
      level: 'WARN',
      message: 'tracked operation expired before it finished: no longer followed, no event',
      source: this.name,
      key: entry.key,
      trackedAt: new Date(entry.trackedAt).toISOString(),
      status: status ?? 'never seen',
    });
    try {
      await this.inbox.remove(entry.key);
    } catch (err) {
      // Left in the inbox: the next poll expires it again.
      ctx.log({
        level: 'WARN',
        message: 'could not remove an expired tracked operation',
        key: entry.key,
        error: errorName(err),
      });
    }
  }
}
