import { PollApi, RequestFailed } from '../api';

/** Small readers shared by the sources: Together's answers are checked field by field, never trusted whole. */

/** What a reader of Together's answers needs of the poll: its time (an object: `.map(reader)` cannot pass an index). */
export interface ReadAt {
  readonly now: number;
}

/**
 * Together's API is younger than this: an earlier time is a placeholder (epoch 0, Go's zero time 0001-01-01) or
 * junk (a spec-driven mock's 1890s), never when something happened.
 */
export const EARLIEST_TIME_MS = Date.UTC(2020, 0, 1);
/** How far ahead of the poller's clock Together's may run; later than that has not happened yet. */
export const CLOCK_SKEW_MS = 15 * 60_000;
/** A deadline further ahead than this is not one Together set (a batch's is 24 h by default). */
export const MAX_DEADLINE_AHEAD_MS = 366 * 24 * 3600_000;

// Date.parse alone is too lenient: V8 reads "ut 2" as 2001-02-01 and rolls 2026-02-30 over into March.
const ISO_8601 =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)([Zz]|[+-]\d{2}(?::?\d{2})?)?)?$/;
/** A full time with its zone: kept as Together wrote it. */
const ZONED = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/;

function parseIso(value: unknown): number {
  if (typeof value !== 'string') return NaN;
  const m = ISO_8601.exec(value);
  if (!m) return NaN;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  if (date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) return NaN;
  // A time without a zone is UTC, as Together's servers write it, whatever this machine's zone is.
  return m[4] !== undefined && m[5] === undefined
    ? Date.parse(`${m[1]}-${m[2]}-${m[3]}T${m[4]}Z`)
    : Date.parse(value);
}

/** A time this poller itself could have seen: a state value from an earlier version may be epoch 0 or 1890. */
export const isRealTime = (ms: unknown, now: number): ms is number =>
  typeof ms === 'number' && ms >= EARLIEST_TIME_MS && ms <= now + CLOCK_SKEW_MS;

/**
 * Epoch ms of when something happened by Together's account (updated_at, completed_at, an event's created_at).
 * NaN, read as unknown, when absent, unreadable or impossible (before EARLIEST_TIME_MS or ahead of `now` by more
 * than the clock skew). Never after `now`: a stall cannot have started in the future.
 */
export function pastTime(value: unknown, now: number): number {
  const ms = parseIso(value);
  return isRealTime(ms, now) ? Math.min(ms, now) : NaN;
}

/** Epoch ms of a deadline Together set (a batch's job_deadline); NaN when absent, unreadable or absurd. */
export function deadlineTime(value: unknown, now: number): number {
  const ms = parseIso(value);
  return ms >= EARLIEST_TIME_MS && ms <= now + MAX_DEADLINE_AHEAD_MS ? ms : NaN;
}

/**
 * The same past time as an event carries it: Together's own text when it is a full ISO 8601 time with its zone
 * (outcome keys stay as they were), else its UTC ISO form; undefined when unknown, so no event carries a made-up
 * time.
 */
export function eventTime(value: unknown, now: number): string | undefined {
  const ms = pastTime(value, now);
  if (Number.isNaN(ms)) return undefined;
  return typeof value === 'string' && ZONED.test(value) && parseIso(value) <= now ? value : iso(ms);
}

export const iso = (ms: number): string => new Date(ms).toISOString();

/**
 * One job by id (`GET <collection>/<id>`): undefined when Together no longer knows it (404), else the answer read as
 * that job; an answer that is another job, or none, is a failure that says what came instead.
 */
export async function getById<J extends { readonly id: string }>(
  ctx: ReadAt & { readonly api: PollApi },
  collection: string,
  id: string,
  read: (answer: unknown, at: ReadAt) => J | undefined,
  what: string,
): Promise<J | undefined> {
  const path = `${collection}/${encodeURIComponent(id)}`;
  const answer = await ctx.api.get(path, { value: undefined });
  if (answer === undefined) return undefined;
  const found = read(answer, ctx);
  if (!found || found.id !== id) throw notThatJob(path, found, what);
  return found;
}

/** A GET by id answered with something else than that job: the failure says what came instead. */
export function notThatJob(
  path: string,
  found: { readonly id: string } | undefined,
  what: string,
): RequestFailed {
  return new RequestFailed(
    found
      ? `GET ${path}: answered with another job (${JSON.stringify(found.id).slice(0, 100)})`
      : `GET ${path}: the answer is no ${what}`,
  );
}

/** Longest error text carried in an event: the whole entry must stay under EventBridge's 256 KB. */
export const MAX_ERROR_MESSAGE = 4_000;
