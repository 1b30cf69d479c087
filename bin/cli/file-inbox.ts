import { mkdirSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { basename, join } from 'node:path';
import { AttributeValue } from '@aws-sdk/client-dynamodb';
import { TrackedEntry, trackedKey, TrackRequest, TrackResult } from '../../lib/track';
import { InboxContents, readEntry, TrackInbox } from '../../lambda/poller/tracked';

/**
 * `listen`'s tracking inbox: a folder beside its state file (`<state>.track/`), one file per tracked operation,
 * named by the sha256 of its inbox key (any key accepted fits a file name) and holding the key itself. Creating one
 * with `wx` is atomic and refuses an existing file: as the DynamoDB inbox's `if_not_exists`, a second `track` of
 * the same id changes nothing, and `track` run while `listen` polls never loses an entry (listen rewrites its state
 * file whole, so the inbox is not in it).
 */

/** At most this many entries are read: as the DynamoDB inbox is bounded by its item. */
const MAX_ENTRIES = 10_000;

export const inboxDir = (statePath: string) => `${statePath}.track`;

const fileOf = (key: string) => `${createHash('sha256').update(key).digest('hex')}.json`;

/** What `read` calls a file that is not an entry: `remove` deletes that file. No inbox key starts so. */
const FILE_PREFIX = 'file:';

export class FileTrackInbox implements TrackInbox {
  private readonly dir: string;

  constructor(statePath: string) {
    this.dir = inboxDir(statePath);
  }

  add(request: TrackRequest, nowMs: number): TrackResult {
    const key = trackedKey(request);
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const value = { key, kind: request.kind, id: request.id, model: request.model, tracked_at: nowMs };
    try {
      writeFileSync(join(this.dir, fileOf(key)), JSON.stringify(value), { flag: 'wx', mode: 0o600 });
      return { key, added: true };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return { key, added: false };
      throw err;
    }
  }

  /**
   * Every entry; a file that is JSON but not an entry (null, a field missing or wrong, a key not its name's) is
   * named in `unreadable` (`file:<name>`), so the poller reports and removes it. One that is not JSON is skipped: it
   * may be a `track` being written, or removed meanwhile.
   */
  async read(): Promise<InboxContents> {
    const entries = new Map<string, TrackedEntry>();
    const unreadable: string[] = [];
    let names: string[];
    try {
      names = readdirSync(this.dir).filter((n) => n.endsWith('.json'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { entries, unreadable };
      throw err;
    }
    for (const name of names.slice(0, MAX_ENTRIES)) {
      let raw: unknown;
      try {
        raw = JSON.parse(readFileSync(join(this.dir, name), 'utf8'));
      } catch {
        continue; // being written, removed meanwhile, or not ours
      }
      const entry = fileEntry(raw);
      if (entry && fileOf(entry.key) === name) entries.set(entry.key, entry);
      else unreadable.push(`${FILE_PREFIX}${name}`);
    }
    return { entries, unreadable };
  }

  async remove(key: string): Promise<void> {
    const name = key.startsWith(FILE_PREFIX) ? basename(key.slice(FILE_PREFIX.length)) : fileOf(key);
    try {
      unlinkSync(join(this.dir, name));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
}

/** A file's content as an entry, checked as the DynamoDB inbox's are; undefined for anything else. */
function fileEntry(raw: unknown): TrackedEntry | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const r = raw as Record<string, unknown>;
  if (typeof r.key !== 'string') return undefined;
  const text = (v: unknown) => (typeof v === 'string' ? { S: v } : undefined);
  const m: Record<string, AttributeValue> = {};
  for (const [field, value] of [
    ['kind', text(r.kind)],
    ['id', text(r.id)],
    ['model', text(r.model)],
    ['tracked_at', typeof r.tracked_at === 'number' ? { N: String(r.tracked_at) } : undefined],
  ] as const)
    if (value) m[field] = value;
  return readEntry(r.key, { M: m });
}
