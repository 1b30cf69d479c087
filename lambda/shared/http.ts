import { IncomingHttpHeaders, IncomingMessage, request as httpRequest } from 'node:http';
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

export function sendHttp(x: HttpExchange): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    let url: URL;
    let send: typeof httpRequest;
    try {
      ({ url, send } = target(x.url));
    } catch (err) {
      reject(err);
      return;
    }
    let settled = false;
    const headers: Record<string, string> = { ...x.headers };
    if (x.body !== undefined) headers['content-length'] = String(Buffer.byteLength(x.body));
    const req = send(url, { method: x.method, headers });
    const finish = (err: Error | undefined, answer?: HttpAnswer) => {
      if (settled) return;
      settled = true;
      clearTimeout(whole);
      clearTimeout(connecting);
      if (err) {
        req.destroy();
        reject(err);
      } else resolve(answer!);
    };
    const whole = setTimeout(
      () => finish(new HttpTimeoutError(`no complete answer within ${x.timeoutMs} ms`)),
      x.timeoutMs,
    );
    const connecting = setTimeout(
      () => finish(new HttpTimeoutError(`no connection within ${x.connectTimeoutMs} ms`)),
      x.connectTimeoutMs,
    );
    req.on('socket', (socket) => {
      // A kept-alive socket is connected already.
      if (!socket.connecting) clearTimeout(connecting);
      else
        socket.once(url.protocol === 'https:' ? 'secureConnect' : 'connect', () => clearTimeout(connecting));
    });
    req.on('error', (err) => finish(err));
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let bytes = 0;
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        if (bytes > x.maxResponseBytes) {
          finish(new Error(`answer larger than ${x.maxResponseBytes} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      res.on('error', (err) => finish(err));
      res.on('close', () => {
        if (!res.complete) finish(new Error('the connection closed before the whole answer came'));
      });
      res.on('end', () =>
        finish(undefined, {
          status: res.statusCode ?? 0,
          headers: toHeaders(res.headers),
          text: Buffer.concat(chunks).toString('utf8'),
        }),
      );
    });
    req.end(x.body);
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
    let url: URL;
    let send: typeof httpRequest;
    try {
      ({ url, send } = target(x.url));
    } catch (err) {
      reject(err);
      return;
    }
    const req = send(url, { method: x.method, headers: { ...x.headers } });
    let res: IncomingMessage | undefined;
    let failure: Error | undefined;
    let over = false;
    let received = 0;
    let idle: NodeJS.Timeout | undefined;
    const stopTimers = () => {
      clearTimeout(whole);
      clearTimeout(connecting);
      clearTimeout(idle);
    };
    const fail = (err: Error) => {
      if (over) return;
      over = true;
      failure = err;
      stopTimers();
      if (!res) reject(err);
      // Wakes a reader waiting for the next chunk, with this error.
      res?.destroy(err);
      req.destroy();
    };
    const armIdle = (waitingFor: string) => {
      clearTimeout(idle);
      idle = setTimeout(
        () =>
          fail(new HttpTimeoutError(`no bytes for ${x.idleTimeoutMs} ms while waiting for ${waitingFor}`)),
        x.idleTimeoutMs,
      );
    };
    const whole = setTimeout(
      () => fail(new HttpTimeoutError(`no complete answer within ${x.timeoutMs} ms`)),
      x.timeoutMs,
    );
    const connecting = setTimeout(
      () => fail(new HttpTimeoutError(`no connection within ${x.connectTimeoutMs} ms`)),
      x.connectTimeoutMs,
    );
    req.on('socket', (socket) => {
      const connected = () => {
        clearTimeout(connecting);
        if (!res && !over) armIdle('the answer');
      };
      if (!socket.connecting) connected();
      else socket.once(url.protocol === 'https:' ? 'secureConnect' : 'connect', connected);
    });
    const premature = (cause?: unknown) =>
      new Error(`the connection closed before the whole answer came (${received} bytes in)`, { cause });
    // A socket failure once the body is flowing is, to the reader, a body cut short.
    req.on('error', (err) => fail(res && !res.complete ? premature(err) : err));
    req.on('response', (response) => {
      res = response;
      clearTimeout(idle);
      // Without a listener an 'error' would crash the process; the reader learns of it from `failure`.
      response.on('error', (err) => fail(response.complete ? err : premature(err)));
      const done = () => {
        over = true;
        stopTimers();
      };
      async function* chunks(): AsyncGenerator<Buffer> {
        const it = response[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
        try {
          for (;;) {
            if (failure) throw failure;
            armIdle('the next bytes');
            let next: IteratorResult<Buffer>;
            try {
              next = await it.next();
            } catch (err) {
              throw failure ?? (response.complete ? err : premature(err));
            } finally {
              clearTimeout(idle);
            }
            if (failure) throw failure;
            if (next.done) {
              if (!response.complete) throw premature();
              done();
              return;
            }
            received += next.value.length;
            yield next.value;
          }
        } finally {
          // The reader stopped early, or the body failed: let go of the socket.
          if (!over || failure) {
            over = true;
            stopTimers();
            response.destroy();
            req.destroy();
          }
        }
      }
      resolve({
        status: response.statusCode ?? 0,
        headers: toHeaders(response.headers),
        body: { [Symbol.asyncIterator]: () => chunks() },
        async text(maxBytes: number) {
          const parts: Buffer[] = [];
          let bytes = 0;
          try {
            for await (const chunk of chunks()) {
              parts.push(chunk);
              bytes += chunk.length;
              if (bytes >= maxBytes) break;
            }
          } catch (err) {
            if (parts.length === 0) throw err;
          }
          return Buffer.concat(parts).subarray(0, maxBytes).toString('utf8');
        },
        destroy() {
          if (over && !failure) return;
          over = true;
          stopTimers();
          response.destroy();
          req.destroy();
        },
      });
    });
    req.end();
  });
}
