import { fineTune, fineTuneEvent, HOUR, iso, MINUTE } from './together-fixtures';

/**
 * A large account's `GET /fine-tunes` (FinetuneTruncatedList), each job with its events embedded as the spec allows
 * (FinetuneResponseTruncated.events, FineTuneEvent): 3 to 20 events a job, about 4 KB a job in JSON. Deterministic
 * for a seed. Shared by the poller memory benchmark and the tests that read large listings.
 *
 * Most jobs finished long ago (history for a first poll's 1 h lookback); `recent` completed within the lookback;
 * `running` still training, their events all older than the lookback.
 */
export interface ListingSpec {
  readonly total: number;
  /** Epoch ms of the poll that will read it. */
  readonly now: number;
  readonly seed?: number;
  /** How many are running (the first ones). @default 1% of total, at least 1 */
  readonly running?: number;
  /** How many completed within the last hour (right after the running ones). @default 10 */
  readonly recent?: number;
}

export interface ListingFacts {
  readonly running: string[];
  readonly recent: string[];
  /** Jobs by status. */
  readonly statuses: Record<string, number>;
}

/** mulberry32: small, fast, deterministic. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const LIFECYCLE = [
  'job_pending',
  'job_start',
  'model_downloading',
  'model_download_complete',
  'training_data_downloading',
  'training_data_download_complete',
  'wandb_init',
  'training_start',
];
const ENDING = ['training_complete', 'model_uploading', 'model_upload_complete', 'job_complete'];

export function fineTuneId(i: number): string {
  return `ft-${String(i).padStart(8, '0')}-4b5a-4697-8877-665544332211`;
}

/** The jobs one at a time, so a caller can serialise them without holding them all. */
export function* fineTuneListing(spec: ListingSpec): Generator<Record<string, unknown>> {
  const rnd = random(spec.seed ?? 1);
  const running = spec.running ?? Math.max(1, Math.round(spec.total / 100));
  const recent = spec.recent ?? 10;
  for (let i = 0; i < spec.total; i++) {
    const id = fineTuneId(i);
    const count = 3 + Math.floor(rnd() * 18); // 3..20
    let status: string;
    let end: number;
    if (i < running) {
      status = 'running';
      end = spec.now - 2 * HOUR;
    } else if (i < running + recent) {
      status = 'completed';
      end = spec.now - (5 + (i % 50)) * MINUTE;
    } else {
      const r = rnd();
      status = r < 0.9 ? 'completed' : r < 0.97 ? 'error' : 'cancelled';
      end = spec.now - 2 * HOUR - Math.floor(rnd() * 30 * 24) * HOUR;
    }
    const started = end - count * 10 * MINUTE;
    const events: Array<Record<string, unknown>> = [];
    let step = 0;
    for (let e = 0; e < count; e++) {
      const at = started + e * 10 * MINUTE;
      const last = e === count - 1;
      let type: string;
      if (e < Math.min(LIFECYCLE.length, count - 2)) type = LIFECYCLE[e];
      else if (last && status === 'error') type = 'job_error';
      else if (last && status === 'cancelled') type = 'cancel_requested';
      else if (status === 'completed' && count - e <= ENDING.length && e >= LIFECYCLE.length)
        type = ENDING[ENDING.length - (count - e)];
      else type = 'checkpoint_save';
      if (type === 'checkpoint_save') step += 10 + Math.floor(rnd() * 40);
      events.push(
        fineTuneEvent(type, at, {
          step: type === 'checkpoint_save' ? step : undefined,
          level: type === 'job_error' ? 'error' : 'info',
          message:
            type === 'job_error'
              ? `Training data contains invalid JSONL on line ${1 + Math.floor(rnd() * 5000)}`
              : type === 'checkpoint_save'
                ? `Checkpoint saved at step ${step}: s3://together/checkpoints/${id}/${step}`
                : undefined,
        }),
      );
    }
    yield fineTune(id, status, status === 'running' ? spec.now - 5 * MINUTE : end, {
      created_at: iso(started - MINUTE),
      n_checkpoints: 3,
      total_price: 1500 + (i % 1000),
      token_count: 850_000 + i,
      user_id: 'user_789xyz012',
      owner_address: 'user@example.com',
      wandb_project_name: 'acme-finetunes',
      events,
    });
  }
}

/** The whole answer body, serialised a job at a time (a 100,000-job listing is ~430 MB: never one string). */
export function fineTuneListingBody(spec: ListingSpec): { body: Buffer; facts: ListingFacts } {
  const parts: Buffer[] = [Buffer.from('{"data":[')];
  const facts: ListingFacts = { running: [], recent: [], statuses: {} };
  const running = spec.running ?? Math.max(1, Math.round(spec.total / 100));
  const recent = spec.recent ?? 10;
  let i = 0;
  for (const job of fineTuneListing(spec)) {
    parts.push(Buffer.from((i > 0 ? ',' : '') + JSON.stringify(job)));
    const status = job.status as string;
    facts.statuses[status] = (facts.statuses[status] ?? 0) + 1;
    if (i < running) facts.running.push(job.id as string);
    else if (i < running + recent) facts.recent.push(job.id as string);
    i++;
  }
  parts.push(Buffer.from(']}'));
  return { body: Buffer.concat(parts), facts };
}
