import { IncomingHttpHeaders, request as httpRequest } from 'node:http';
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

export function sendHttp(x: HttpExchange): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    let url: URL;
    try {
      url = new URL(x.url);
    } catch {
      reject(new Error(`not a URL: ${x.url.slice(0, 200)}`));
      return;
    }
    const send =
      url.protocol === 'https:' ? httpsRequest : url.protocol === 'http:' ? httpRequest : undefined;
    if (!send) {
      reject(new Error(`unsupported protocol ${url.protocol}`));
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
