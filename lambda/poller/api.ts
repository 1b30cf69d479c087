import { HttpStream, HttpTimeoutError, openHttpStream } from '../shared/http';
import { JsonArrayItems, JsonItemsError } from '../shared/json-items';
import { ApiClock, ApiResponse, errorDetail, togetherRequest } from '../shared/together-api';

/**
 * The poller's view of Together: GETs with explicit timeouts, no retries within a poll (the next poll is the
 * retry), and every failure sorted into one of two kinds. A `RequestFailed` costs only the job or source that
 * needed the answer (a poll is bounded by its deadline and its visits, not by counting failures, so many failing
 * jobs cannot starve the rest); a `StopPoll` ends the poll: a refused key or a rate limit applies to every request.
 */

export type StopKind = 'auth' | 'rate_limited' | 'out_of_time' | 'delivery' | 'internal';

/** Longest failure text kept for a log line or an alert. */
export const MAX_REASON = 300;

/** A text on one line, bounded: Together's words (or a job id) may span lines, and a log line is one line. */
export function oneLine(text: string, max = MAX_REASON): string {
  return (
    text
      // eslint-disable-next-line no-control-regex
      .replace(/[\s\u0000-\u001f\u007f]+/g, ' ')
      .trim()
      .slice(0, max)
  );
}

export class StopPoll extends Error {
  constructor(
    readonly kind: StopKind,
    reason: string,
  ) {
    super(oneLine(reason));
    this.name = 'StopPoll';
  }
}

export class RequestFailed extends Error {
  constructor(message: string) {
    super(oneLine(message));
    this.name = 'RequestFailed';
  }
}

export interface PollApiOptions {
  readonly baseUrl: string;
  readonly apiKey: string;
  readonly clock: ApiClock;
  /** No request starts after it, and none runs past it. */
  readonly workDeadlineMs: number;
  readonly connectTimeoutMs: number;
  readonly requestTimeoutMs: number;
  /** A streamed listing's whole exchange (the silence between its chunks is still `requestTimeoutMs` at most). */
  readonly listingTimeoutMs?: number;
  /** A streamed listing larger than this fails: it is never held, but reading it takes time. */
  readonly maxListingBytes?: number;
  /**
   * A streamed listing with more items than this fails: each is kept (a few fields of it) for the whole poll, so
   * this is what bounds the poll's memory. The adapter sets it from the function's memory.
   */
  readonly maxListedItems?: number;
  /** Called on 401/403 before the poll stops (the once-per-incident alert), with Together's words, redacted. */
  readonly onKeyRefused: (status: number, message: string) => Promise<void>;
}

/** Until the last byte of a streamed listing: reading a large account's listing takes seconds of CPU. */
export const DEFAULT_LISTING_TIMEOUT_MS = 30_000;
/** Never held, so not a memory bound: a bound on time, and on a server that never stops sending. */
export const DEFAULT_MAX_LISTING_BYTES = 1024 * 1024 * 1024;
/** One job of a listing, its events included. */
const DEFAULT_MAX_ITEM_BYTES = 16 * 1024 * 1024;
/** What is read of an error answer. */
const MAX_ERROR_BODY_BYTES = 64 * 1024;

const size = (bytes: number) =>
  bytes >= 1024 * 1024 ? `${Math.round((bytes / 1024 / 1024) * 10) / 10} MiB` : `${bytes} bytes`;

/** Duck-typed: errors from Node's own modules may come from another realm (test runners), failing instanceof. */
function describe(err: unknown): string {
  const e = err as { name?: unknown; message?: unknown; code?: unknown } | undefined;
  return e && typeof e.message === 'string'
    ? `${String(e.name ?? 'Error')}: ${e.message || String(e.code ?? '')}`
    : String(err);
}

export interface ListingOptions<T> {
  /** The member of the answer's object that holds the items, e.g. `data`. */
  readonly key: string;
  /** What to keep of one item; undefined drops it. Called once per item, in order. */
  readonly pick: (item: unknown) => T | undefined;
  /** What the items are, in messages: `fine-tunes`. */
  readonly noun: string;
  /** What to do when the listing is larger than the poller reads. */
  readonly tooLarge: string;
  /** One item larger than this fails the listing. @default 16 MiB */
  readonly maxItemBytes?: number;
}

export class PollApi {
  /** Requests sent this poll. */
  requests = 0;
  /** Requests answered with success this poll. */
  succeeded = 0;

  constructor(private readonly o: PollApiOptions) {}

  /**
   * GETs `path` below the base URL (or `baseUrl`, for an operation Together serves elsewhere: its v2 API).
   * `notFound`: what a 404 means here (otherwise a 404 is a failure).
   */
  async get(path: string, notFound?: { value: unknown }, baseUrl = this.o.baseUrl): Promise<unknown> {
    const remaining = this.o.workDeadlineMs - this.o.clock.now();
    if (remaining <= 0) throw new StopPoll('out_of_time', 'out of time; the next poll continues');
    this.requests++;
    let res: ApiResponse;
    try {
      res = await togetherRequest({
        baseUrl,
        apiKey: this.o.apiKey,
        method: 'GET',
        path,
        deadlineMs: this.o.workDeadlineMs,
        maxAttempts: 1,
        clock: this.o.clock,
        connectTimeoutMs: this.o.connectTimeoutMs,
        timeoutMs: this.o.requestTimeoutMs,
      });
    } catch (err) {
      // TogetherUnreachableError: its message names the request and why no answer came.
      throw new RequestFailed(err instanceof Error ? err.message : `GET ${path}: ${String(err)}`);
    }
    if (res.status >= 200 && res.status < 300) return this.ok(res.json);
    if (res.status === 404 && notFound) return this.ok(notFound.value);
    return this.refused(path, res.status, res.headers, res.json);
  }

  /**
   * GETs a listing `{"<key>": [item, ...]}` and reads its items as they stream in: only `pick(item)` of each is
   * kept, never the answer's text or its whole parsed tree, so an account with many jobs does not need the memory
   * to hold its listing whole. The listing is returned only once the whole answer was read and was valid JSON: one
   * that breaks off, or turns malformed halfway, is a `RequestFailed`, never a shorter listing.
   */
  async list<T>(path: string, o: ListingOptions<T>): Promise<T[]> {
    const remaining = this.o.workDeadlineMs - this.o.clock.now();
    if (remaining <= 0) throw new StopPoll('out_of_time', 'out of time; the next poll continues');
    this.requests++;
    const res = await this.openListing(
      path,
      Math.min(remaining, this.o.listingTimeoutMs ?? DEFAULT_LISTING_TIMEOUT_MS),
    );
    try {
      if (res.status < 200 || res.status >= 300) return await this.refusedListing(path, res);
      return this.ok(await this.readItems(path, res, o)) as T[];
    } finally {
      res.destroy();
    }
  }

  private async openListing(path: string, timeoutMs: number): Promise<HttpStream> {
    try {
      return await openHttpStream({
        url: this.o.baseUrl.replace(/\/+$/, '') + path,
        method: 'GET',
        headers: { authorization: `Bearer ${this.o.apiKey}`, accept: 'application/json' },
        connectTimeoutMs: Math.min(timeoutMs, this.o.connectTimeoutMs),
        idleTimeoutMs: Math.min(timeoutMs, this.o.requestTimeoutMs),
        timeoutMs,
      });
    } catch (err) {
      throw new RequestFailed(`GET ${path} got no answer from Together (${describe(err)})`);
    }
  }

  /** A listing answered with an error status: what it says, read to a bound, sorted as any other refusal. */
  private async refusedListing(path: string, res: HttpStream): Promise<never> {
    let text = '';
    try {
      text = await res.text(MAX_ERROR_BODY_BYTES);
    } catch {
      // The status alone still says what happened.
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return this.refused(path, res.status, res.headers, json);
  }

  /** The items of the answer, each picked as it streams in, within the bounds on bytes and items. */
  private async readItems<T>(path: string, res: HttpStream, o: ListingOptions<T>): Promise<T[]> {
    const maxBytes = this.o.maxListingBytes ?? DEFAULT_MAX_LISTING_BYTES;
    const maxItems = this.o.maxListedItems ?? Infinity;
    const items: T[] = [];
    const reader = new JsonArrayItems({
      key: o.key,
      maxItemBytes: o.maxItemBytes ?? DEFAULT_MAX_ITEM_BYTES,
      onItem: (item) => {
        const picked = o.pick(item);
        if (picked === undefined) return;
        if (items.length >= maxItems) {
          throw new RequestFailed(
            `GET ${path} lists more than ${maxItems} ${o.noun}, the most this poller holds in its memory: ` +
              `raise the poller's memorySize, or ${o.tooLarge}`,
          );
        }
        items.push(picked);
      },
    });
    try {
      for await (const chunk of res.body) {
        if (reader.bytes + chunk.length > maxBytes) {
          throw new RequestFailed(
            `GET ${path}: the answer is larger than ${size(maxBytes)}, the most the poller reads ` +
              `(${reader.items} ${o.noun} read by then): ${o.tooLarge}`,
          );
        }
        reader.push(chunk);
      }
      reader.end();
    } catch (err) {
      throw listingFailure(path, err, reader, o.noun);
    }
    return items;
  }

  /** A status that is not the answer: sorted into what stops the poll and what costs only this request. */
  private async refused(path: string, status: number, headers: Headers, json: unknown): Promise<never> {
    // Together's words go to logs and alerts: never with the key in them, should an answer echo it.
    const said = errorDetail(json, status).message;
    const message = oneLine(this.o.apiKey ? said.split(this.o.apiKey).join('[API key]') : said);
    if (status === 401 || status === 403) {
      await this.o.onKeyRefused(status, message);
      throw new StopPoll('auth', `GET ${path}: Together rejected the API key (HTTP ${status}): ${message}`);
    }
    if (status === 429) {
      const remainingCalls = headers.get('x-ratelimit-remaining');
      throw new StopPoll(
        'rate_limited',
        `GET ${path}: rate limited by Together (HTTP 429${remainingCalls !== null ? `, remaining ${remainingCalls}` : ''}): ${message}`,
      );
    }
    throw new RequestFailed(`GET ${path}: HTTP ${status}: ${message}`);
  }

  private ok(value: unknown): unknown {
    this.succeeded++;
    return value;
  }
}

/** Why a listing could not be read whole: none of what was read before the failure is used. */
function listingFailure(path: string, err: unknown, reader: JsonArrayItems, noun: string): RequestFailed {
  if (err instanceof RequestFailed) return err;
  if (err instanceof JsonItemsError) {
    const why =
      err.kind === 'shape'
        ? `unexpected answer (${err.message})`
        : `${err.kind === 'size' ? 'unexpected answer' : 'malformed JSON'} (${err.message}); ` +
          `none of the ${reader.items} ${noun} read before it is used`;
    return new RequestFailed(`GET ${path}: ${why}`);
  }
  // The whole exchange's timeout, with bytes flowing: the listing is read at the speed of our CPU.
  const slow =
    err instanceof HttpTimeoutError && reader.bytes > 0
      ? ": Lambda gives CPU in proportion to memory, so raise the poller's memorySize"
      : '';
  return new RequestFailed(
    `GET ${path}: the answer broke off after ${reader.bytes} bytes (${describe(err)}); ` +
      `none of the ${reader.items} ${noun} read before it is used${slow}`,
  );
}
