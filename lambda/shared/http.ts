import { ClientRequest, IncomingHttpHeaders, IncomingMessage, request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

/**
 * One HTTP exchange over node:http(s), with the two timeouts fetch cannot set apart: connecting (TLS included)
 * and the whole exchange (answer body included). Node's global agents keep connections alive, so a poll's many
 * requests to one host share a few sockets.
 */

export interface HttpExchange {
  readonly url: string;
  readonly method: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
  /** Until the socket is connected and, for https, the TLS handshake done. */
  readonly connectTimeoutMs: number;
  /** Until the last byte of the answer. */
  readonly timeoutMs: number;
  /** A larger answer is abandoned: a broken or hostile server cannot exhaust memory. */
  readonly maxResponseBytes: number;
}

export interface HttpAnswer {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
}

/** No connection or no complete answer in time. */
export class HttpTimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HttpTimeoutError';
  }
}

/** The URL and the module that speaks its protocol; throws on anything but an http(s) URL. */
function target(raw: string): { url: URL; send: typeof httpRequest } {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`not a URL: ${raw.slice(0, 200)}`);
  }
  const send = url.protocol === 'https:' ? httpsRequest : url.protocol === 'http:' ? httpRequest : undefined;
  if (!send) throw new Error(`unsupported protocol ${url.protocol}`);
  return { url, send };
}

/** What every exchange is given: where, how, and the connect and whole-exchange timeouts. */
interface ExchangeSetup {
  readonly url: string;
  readonly method: string;
  readonly connectTimeoutMs: number;
  readonly timeoutMs: number;
}

/**
 * One request in flight, written once for both kinds of exchange: the connect and whole-exchange timers (and the
 * idle timer, when there is one), the socket wiring that ends the connect timer, and the one failure that ends the
 * exchange (rejecting the caller's promise if it is still waiting, waking a reader waiting for the body).
 */
class Exchange {
  readonly req: ClientRequest;
  res: IncomingMessage | undefined;
  failure: Error | undefined;
  /** Failed, complete or let go: nothing more is done. */
  over = false;
  /** Bytes of the body so far. */
  received = 0;
  private readonly whole: NodeJS.Timeout;
  private readonly connecting: NodeJS.Timeout;
  private idle: NodeJS.Timeout | undefined;

  /** Throws on anything but an http(s) URL, before sending anything. */
  constructor(
    x: ExchangeSetup,
    headers: Record<string, string>,
    private readonly idleTimeoutMs: number | undefined,
    private readonly onFailure: (err: Error) => void,
  ) {
    const { url, send } = target(x.url);
    this.req = send(url, { method: x.method, headers });
    this.whole = setTimeout(
      () => this.fail(new HttpTimeoutError(`no complete answer within ${x.timeoutMs} ms`)),
      x.timeoutMs,
    );
    this.connecting = setTimeout(
      () => this.fail(new HttpTimeoutError(`no connection within ${x.connectTimeoutMs} ms`)),
      x.connectTimeoutMs,
    );
    this.req.on('socket', (socket) => {
      const connected = () => {
        clearTimeout(this.connecting);
        if (!this.res && !this.over) this.armIdle('the answer');
      };
      // A kept-alive socket is connected already.
      if (!socket.connecting) connected();
      else socket.once(url.protocol === 'https:' ? 'secureConnect' : 'connect', connected);
    });
  }

  /** The status line and headers came. */
  answered(res: IncomingMessage): void {
    this.res = res;
    clearTimeout(this.idle);
  }

  /** Waits for the server for no longer than the idle timeout, if there is one. */
  armIdle(waitingFor: string): void {
    if (this.idleTimeoutMs === undefined) return;
    const ms = this.idleTimeoutMs;
    clearTimeout(this.idle);
    this.idle = setTimeout(
      () => this.fail(new HttpTimeoutError(`no bytes for ${ms} ms while waiting for ${waitingFor}`)),
      ms,
    );
  }

  stopIdle(): void {
    clearTimeout(this.idle);
  }

  fail(err: Error): void {
    if (this.over) return;
    this.over = true;
    this.failure = err;
    this.stopTimers();
    this.onFailure(err);
    // Wakes a reader waiting for the next chunk, with this error.
    this.res?.destroy(err);
    this.req.destroy();
  }

  /** The whole answer came. */
  complete(): void {
    this.over = true;
    this.stopTimers();
  }

  /** Ends the exchange now, letting go of the socket. */
  release(): void {
    this.over = true;
    this.stopTimers();
    this.res?.destroy();
    this.req.destroy();
  }

  private stopTimers(): void {
    clearTimeout(this.whole);
    clearTimeout(this.connecting);
    clearTimeout(this.idle);
  }
}

export function sendHttp(x: HttpExchange): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...x.headers };
    if (x.body !== undefined) headers['content-length'] = String(Buffer.byteLength(x.body));
    const exchange = new Exchange(x, headers, undefined, reject);
    exchange.req.on('error', (err) => exchange.fail(err));
    exchange.req.on('response', (res) => {
      exchange.answered(res);
      collectAnswer(exchange, res, x.maxResponseBytes, resolve);
    });
    exchange.req.end(x.body);
  });
}

/** Holds the answer's body as it comes, at most `maxBytes` of it, and resolves with the whole answer. */
function collectAnswer(
  exchange: Exchange,
  res: IncomingMessage,
  maxBytes: number,
  resolve: (answer: HttpAnswer) => void,
): void {
  const chunks: Buffer[] = [];
  res.on('data', (chunk: Buffer) => {
    exchange.received += chunk.length;
    if (exchange.received > maxBytes) {
      exchange.fail(new Error(`answer larger than ${maxBytes} bytes`));
      return;
    }
    chunks.push(chunk);
  });
  res.on('error', (err) => exchange.fail(err));
  res.on('close', () => {
    if (!res.complete) exchange.fail(new Error('the connection closed before the whole answer came'));
  });
  res.on('end', () => {
    if (exchange.over) return;
    exchange.complete();
    resolve({
      status: res.statusCode ?? 0,
      headers: toHeaders(res.headers),
      text: Buffer.concat(chunks).toString('utf8'),
    });
  });
}

function toHeaders(raw: IncomingHttpHeaders): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
  }
  return headers;
}

export interface HttpStreamExchange {
  readonly url: string;
  readonly method: string;
  readonly headers: Readonly<Record<string, string>>;
  /** Until the socket is connected and, for https, the TLS handshake done. */
  readonly connectTimeoutMs: number;
  /**
   * The most the server may stay silent while we wait for it (for the headers, or for the next body chunk the
   * reader asks for). Not counted while the reader holds back: a paused body is our doing, not the server's.
   */
  readonly idleTimeoutMs: number;
  /** Until the last byte of the body, however it is paced. */
  readonly timeoutMs: number;
}

export interface HttpStream {
  readonly status: number;
  readonly headers: Headers;
  /**
   * The body's bytes as they come, read once. The server is read only as fast as this is iterated, so a reader
   * that awaits between chunks pauses the download (TCP backpressure) instead of buffering it. Throws on a
   * timeout or when the connection ends before the whole body came.
   */
  readonly body: AsyncIterable<Buffer>;
  /** The body as UTF-8 text, at most `maxBytes` of it (for an error answer); ends the exchange. */
  text(maxBytes: number): Promise<string>;
  /** Ends the exchange now; harmless when it is over. */
  destroy(): void;
}

/**
 * One exchange whose answer body is streamed rather than held: resolves at the status line and headers, with the
 * connect, idle and whole-exchange timeouts still running over the body. Nothing follows redirects.
 */
export function openHttpStream(x: HttpStreamExchange): Promise<HttpStream> {
  return new Promise((resolve, reject) => {
    const exchange = new Exchange(x, { ...x.headers }, x.idleTimeoutMs, reject);
    // A socket failure once the body is flowing is, to the reader, a body cut short.
    exchange.req.on('error', (err) =>
      exchange.fail(exchange.res && !exchange.res.complete ? premature(exchange, err) : err),
    );
    exchange.req.on('response', (response) => {
      exchange.answered(response);
      // Without a listener an 'error' would crash the process; the reader learns of it from `failure`.
      response.on('error', (err) => exchange.fail(response.complete ? err : premature(exchange, err)));
      resolve(streamOf(exchange, response));
    });
    exchange.req.end();
  });
}

function premature(exchange: Exchange, cause?: unknown): Error {
  return new Error(`the connection closed before the whole answer came (${exchange.received} bytes in)`, {
    cause,
  });
}

/** The answer as the reader sees it: status and headers now, the body as it is read. */
function streamOf(exchange: Exchange, response: IncomingMessage): HttpStream {
  const chunks = () => bodyChunks(exchange, response);
  return {
    status: response.statusCode ?? 0,
    headers: toHeaders(response.headers),
    body: { [Symbol.asyncIterator]: chunks },
    text: (maxBytes: number) => readText(chunks(), maxBytes),
    destroy() {
      if (exchange.over && !exchange.failure) return;
      exchange.release();
    },
  };
}

/** The body's chunks, each waited for no longer than the idle timeout; lets go of the socket when it stops. */
async function* bodyChunks(exchange: Exchange, response: IncomingMessage): AsyncGenerator<Buffer> {
  const it = response[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  try {
    for (;;) {
      if (exchange.failure) throw exchange.failure;
      exchange.armIdle('the next bytes');
      let next: IteratorResult<Buffer>;
      try {
        next = await it.next();
      } catch (err) {
        throw exchange.failure ?? (response.complete ? err : premature(exchange, err));
      } finally {
        exchange.stopIdle();
      }
      if (exchange.failure) throw exchange.failure;
      if (next.done) {
        if (!response.complete) throw premature(exchange);
        exchange.complete();
        return;
      }
      exchange.received += next.value.length;
      yield next.value;
    }
  } finally {
    // The reader stopped early, or the body failed: let go of the socket.
    if (!exchange.over || exchange.failure) exchange.release();
  }
}

/** At most `maxBytes` of the body as UTF-8 (for an error answer); what came before a failure, if anything did. */
async function readText(chunks: AsyncIterable<Buffer>, maxBytes: number): Promise<string> {
  const parts: Buffer[] = [];
  let bytes = 0;
  try {
    for await (const chunk of chunks) {
      parts.push(chunk);
      bytes += chunk.length;
      if (bytes >= maxBytes) break;
    }
  } catch (err) {
    if (parts.length === 0) throw err;
  }
  return Buffer.concat(parts).subarray(0, maxBytes).toString('utf8');
}
