import { closeSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  ClaimRequest,
  ClaimResult,
  IdempotencyStore,
  STATUS_COMPLETED,
  STATUS_IN_PROGRESS,
} from '../../lambda/shared/idempotency';
import { PollerState, PollerStateStore } from '../../lambda/poller/state';

/**
 * `listen`'s memory in one JSON file: the claims (what was forwarded, with the same semantics as the DynamoDB
 * store) and the poller's state, so a restart forwards nothing twice. Written whole and atomically (rename) after
 * every change; a lock file keeps a second `listen` off the same state.
 */

interface Claim {
  status: string;
  token: string;
  expiration: number;
  inProgressExpiry?: number;
  deliveryId: string;
  payloadHash: string;
}

interface FileContents {
  v: 1;
  claims: Record<string, Claim>;
  poller: PollerState;
}

export class FileStore implements IdempotencyStore, PollerStateStore {
  private data: FileContents;

  constructor(readonly path: string) {
    let data: FileContents = { v: 1, claims: {}, poller: {} };
    try {
      const parsed = JSON.parse(readFileSync(path, 'utf8')) as FileContents;
      if (parsed?.v === 1 && parsed.claims && parsed.poller) data = parsed;
      else throw new Error(`${path} is not a together-webhooks listen state file (v1)`);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    this.data = data;
  }

  async claim(req: ClaimRequest): Promise<ClaimResult> {
    const now = req.nowMs;
    const existing = this.data.claims[req.id];
    const free =
      !existing ||
      existing.expiration < Math.floor(now / 1000) ||
      (existing.status === STATUS_IN_PROGRESS && (existing.inProgressExpiry ?? 0) < now);
    if (!free) {
      return {
        claimed: false,
        existing: {
          status: existing.status,
          inProgressExpiryMs: existing.inProgressExpiry,
          expirationSeconds: existing.expiration,
          deliveryId: existing.deliveryId,
          payloadHash: existing.payloadHash,
        },
      };
    }
    // Forget what is past its retention, by the same clock the claims use.
    for (const [id, claim] of Object.entries(this.data.claims))
      if (claim.expiration < Math.floor(now / 1000)) delete this.data.claims[id];
    this.data.claims[req.id] = {
      status: STATUS_IN_PROGRESS,
      token: req.token,
      expiration: Math.floor(now / 1000) + req.retentionSeconds,
      inProgressExpiry: now + req.inProgressMs,
      deliveryId: req.deliveryId,
      payloadHash: req.payloadHash,
    };
    this.write();
    return { claimed: true };
  }

  async complete(req: ClaimRequest): Promise<void> {
    const claim = this.data.claims[req.id];
    if (!claim || claim.token !== req.token) throw new Error(`claim ${req.id} is no longer ours`);
    claim.status = STATUS_COMPLETED;
    claim.expiration = Math.floor(req.nowMs / 1000) + req.retentionSeconds;
    delete claim.inProgressExpiry;
    this.write();
  }

  async release(req: ClaimRequest): Promise<void> {
    const claim = this.data.claims[req.id];
    if (claim?.token === req.token && claim.status === STATUS_IN_PROGRESS) {
      delete this.data.claims[req.id];
      this.write();
    }
  }

  async acquireLease(holder: string): Promise<boolean> {
    const lock = `${this.path}.lock`;
    mkdirSync(dirname(this.path), { recursive: true });
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(lock, 'wx');
        writeFileSync(fd, `${process.pid} ${holder}`);
        closeSync(fd);
        return true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const pid = Number(readFileSync(lock, 'utf8').split(' ')[0]);
        if (pid !== process.pid && isAlive(pid)) return false;
        unlinkSync(lock); // left by a process that is gone (or by us, after a crash in this process)
      }
    }
    return false;
  }

  async releaseLease(holder: string): Promise<void> {
    const lock = `${this.path}.lock`;
    try {
      if (readFileSync(lock, 'utf8').endsWith(` ${holder}`)) unlinkSync(lock);
    } catch {
      // already gone
    }
  }

  async load(): Promise<PollerState> {
    return JSON.parse(JSON.stringify(this.data.poller)) as PollerState;
  }

  async save(state: PollerState): Promise<void> {
    this.data.poller = JSON.parse(JSON.stringify(state)) as PollerState;
    this.write();
  }

  private write(): void {
    mkdirSync(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.data), { mode: 0o600 });
    renameSync(tmp, this.path);
  }
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
