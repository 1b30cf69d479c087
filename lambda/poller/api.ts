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
  /** Called on 401/403 before the poll stops (the once-per-incident alert), with Together's words, redacted. */
  readonly onKeyRefused: (status: number, message: string) => Promise<void>;
}

export class PollApi {
  /** Requests sent this poll. */
  requests = 0;
  /** Requests answered with success this poll. */
  succeeded = 0;

  constructor(private readonly o: PollApiOptions) {}

  /** GETs `path` below the base URL. `notFound`: what a 404 means here (otherwise a 404 is a failure). */
  async get(path: string, notFound?: { value: unknown }): Promise<unknown> {
    const remaining = this.o.workDeadlineMs - this.o.clock.now();
    if (remaining <= 0) throw new StopPoll('out_of_time', 'out of time; the next poll continues');
    this.requests++;
    let res: ApiResponse;
    try {
      res = await togetherRequest({
        baseUrl: this.o.baseUrl,
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
    // Together's words go to logs and alerts: never with the key in them, should an answer echo it.
    const said = errorDetail(res.json, res.status).message;
    const message = oneLine(this.o.apiKey ? said.split(this.o.apiKey).join('[API key]') : said);
    if (res.status === 401 || res.status === 403) {
      await this.o.onKeyRefused(res.status, message);
      throw new StopPoll(
        'auth',
        `GET ${path}: Together rejected the API key (HTTP ${res.status}): ${message}`,
      );
    }
    if (res.status === 429) {
      const remainingCalls = res.headers.get('x-ratelimit-remaining');
      throw new StopPoll(
        'rate_limited',
        `GET ${path}: rate limited by Together (HTTP 429${remainingCalls !== null ? `, remaining ${remainingCalls}` : ''}): ${message}`,
      );
    }
    throw new RequestFailed(`GET ${path}: HTTP ${res.status}: ${message}`);
  }

  private ok(value: unknown): unknown {
    this.succeeded++;
    return value;
  }
}
