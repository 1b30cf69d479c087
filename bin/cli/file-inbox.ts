import { mkdirSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TrackedEntry, trackedKey, TrackRequest, TrackResult } from '../../lib/track';
import { InboxContents, readEntry, TrackInbox } from '../../lambda/poller/tracked';

/**
 * `listen`'s tracking inbox: a folder beside its state file (`<state>.track/`), one file per tracked operation,
 * named by its inbox key. Creating one with `wx` is atomic and refuses an existing file: as the DynamoDB inbox's
 * `if_not_exists`, a second `track` of the same id changes nothing, and `track` run while `listen` polls never
 * loses an entry (listen rewrites its state file whole, so the inbox is not in it).
 */

/** At most this many entries are read: as the DynamoDB inbox is bounded by its item. */
const MAX_ENTRIES = 10_000;

export const inboxDir = (statePath: string) => `${statePath}.track`;

const fileOf = (key: string) => `${Buffer.from(key).toString('base64url')}.json`;

export class FileTrackInbox implements TrackInbox {
  private readonly dir: string;

  constructor(statePath: string) {
    this.dir = inboxDir(statePath);
  }

  add(request: TrackRequest, nowMs: number): TrackResult {
    const key = trackedKey(request);
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const value = { kind: request.kind, id: request.id, model: request.model, tracked_at: nowMs };
    try {
      writeFileSync(join(this.dir, fileOf(key)), JSON.stringify(value), { flag: 'wx', mode: 0o600 });
      return { key, added: true };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return { key, added: false };
      throw err;
    }
  }

  async read(): Promise<InboxContents> {
    const entries = new Map<string, TrackedEntry>();
    let names: string[];
    try {
      names = readdirSync(this.dir).filter((n) => n.endsWith('.json'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { entries, unreadable: [] };
      throw err;
    }
    for (const name of names.slice(0, MAX_ENTRIES)) {
      const key = Buffer.from(name.slice(0, -'.json'.length), 'base64url').toString('utf8');
      let raw: Record<string, unknown>;
      try {
        raw = JSON.parse(readFileSync(join(this.dir, name), 'utf8')) as Record<string, unknown>;
      } catch {
        continue; // removed meanwhile, or not ours
      }
      const entry = readEntry(key, {
        M: {
          kind: { S: String(raw.kind) },
          id: { S: String(raw.id) },
          ...(typeof raw.model === 'string' ? { model: { S: raw.model } } : {}),
          tracked_at: { N: String(raw.tracked_at) },
        },
      });
      if (entry) entries.set(key, entry);
    }
    return { entries, unreadable: [] };
  }

  async remove(key: string): Promise<void> {
    try {
      unlinkSync(join(this.dir, fileOf(key)));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
}
