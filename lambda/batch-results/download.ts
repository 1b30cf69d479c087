import type { HttpStream, HttpStreamExchange } from '../shared/http';
import { errorDetail } from '../shared/together-api';

/**
 * Downloading a Together file, streamed: only from `<base>/files/<id>/content` of the configured API, so the API
 * key never goes to another host whatever an event names.
 */

/** A file's bytes as they come; `close` lets go of the connection early (harmless once it is over). */
export interface FileDownload {
  readonly body: AsyncIterable<Uint8Array>;
  close(): void;
}

/** Starts the download of a Together file; throws when Together does not answer 2xx. */
export type OpenFile = (fileId: string, deadlineMs: number) => Promise<FileDownload>;

/** Together answered a file download with a non-2xx status. */
export class TogetherFileError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'TogetherFileError';
  }
}

/** A file id we put in a URL path: one plain segment. */
export function checkFileId(id: string, field: string): string {
  // eslint-disable-next-line no-control-regex
  if (id.length > 256 || /[\u0000-\u001f\u007f/\\]/.test(id) || id === '.' || id === '..') {
    throw new Error(`data.${field} is not a usable file id: ${JSON.stringify(id.slice(0, 80))}`);
  }
  return id;
}

/** `<base>/files/<id>/content`. */
export function fileContentUrl(baseUrl: string, fileId: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/files/${encodeURIComponent(fileId)}/content`;
}

/**
 * The file id in `url` when it is exactly `<base>/files/<id>/content` (same scheme, host, port and path prefix, no
 * query, fragment or credentials); undefined otherwise.
 */
export function fileIdFromUrl(url: string, baseUrl: string): string | undefined {
  let u: URL;
  let base: URL;
  try {
    u = new URL(url);
    base = new URL(baseUrl);
  } catch {
    return undefined;
  }
  if (u.origin !== base.origin || u.username || u.password || u.search || u.hash) return undefined;
  // Against the raw text too: URL parsing resolves `..` and drops a bare `?`, which the match must not hide.
  if (url.includes('?') || url.includes('#') || /\/\.\.?(\/|$)/.test(url)) return undefined;
  const prefix = `${base.pathname.replace(/\/+$/, '')}/files/`;
  if (!u.pathname.startsWith(prefix) || !u.pathname.endsWith('/content')) return undefined;
  const segment = u.pathname.slice(prefix.length, -'/content'.length);
  if (segment === '' || segment.includes('/')) return undefined;
  let id: string;
  try {
    id = decodeURIComponent(segment);
  } catch {
    return undefined;
  }
  return id;
}

export interface TogetherFileOptions {
  readonly baseUrl: string;
  readonly apiKey: () => Promise<string>;
  readonly stream: (x: HttpStreamExchange) => Promise<HttpStream>;
  readonly now: () => number;
  /** @default 5000 */
  readonly connectTimeoutMs?: number;
  /** Silence from Together while we wait for bytes. @default 30000 */
  readonly idleTimeoutMs?: number;
  /** Together refused the key (401/403): a cached key should be read again. */
  readonly onKeyRefused?: () => void;
}

const MAX_ERROR_BODY_BYTES = 64 * 1024;

/** Downloads `GET <base>/files/<id>/content` with the key, streamed. */
export function togetherFileOpener(o: TogetherFileOptions): OpenFile {
  return async (fileId, deadlineMs) => {
    // After the key: reading it takes time out of the download's, never out of the reserve for finishing.
    const apiKey = await o.apiKey();
    const timeoutMs = deadlineMs - o.now();
    if (timeoutMs <= 0) throw new Error(`no time left to download file ${fileId}`);
    const res = await o.stream({
      url: fileContentUrl(o.baseUrl, fileId),
      method: 'GET',
      headers: { authorization: `Bearer ${apiKey}`, accept: '*/*' },
      connectTimeoutMs: Math.min(timeoutMs, o.connectTimeoutMs ?? 5_000),
      idleTimeoutMs: Math.min(timeoutMs, o.idleTimeoutMs ?? 30_000),
      timeoutMs,
    });
    if (res.status >= 200 && res.status < 300) return { body: res.body, close: () => res.destroy() };
    if (res.status === 401 || res.status === 403) o.onKeyRefused?.();
    let text = '';
    try {
      text = await res.text(MAX_ERROR_BODY_BYTES);
    } catch {
      // The status alone still says what happened.
    } finally {
      res.destroy();
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    const why = errorDetail(json, res.status).message.split(apiKey).join('[redacted]').slice(0, 500);
    throw new TogetherFileError(
      res.status,
      `GET /files/${fileId}/content answered HTTP ${res.status}: ${why}` +
        (res.status >= 300 && res.status < 400 ? ' (redirects are not followed)' : ''),
    );
  };
}
