import { AddressInfo, createServer as createTcpServer, Server as TcpServer } from 'node:net';
import { createServer, Server } from 'node:http';
import { HttpTimeoutError, openHttpStream, sendHttp } from '../../../lambda/shared/http';

/** The transport under the Together client: its two timeouts, its size cap, and resets, on loopback. */

let http: Server;
let httpUrl: string;
let silentTls: TcpServer;
let silentTlsUrl: string;
const sockets = new Set<import('node:net').Socket>();
const timers: NodeJS.Timeout[] = [];

beforeAll(async () => {
  http = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/slow') {
      timers.push(setTimeout(() => res.end('late'), 2_000));
      return;
    }
    if (url.pathname === '/big') {
      res.end('x'.repeat(10_000));
      return;
    }
    if (url.pathname === '/trickle') {
      // A byte every 50 ms: never idle for long, but slower than a short whole-exchange timeout.
      res.writeHead(200, { 'content-length': '100' });
      const tick = setInterval(() => res.write('x'), 50);
      timers.push(tick);
      res.on('close', () => clearInterval(tick));
      return;
    }
    if (url.pathname === '/reset') {
      res.writeHead(200, { 'content-length': '100' });
      res.write('partial');
      setTimeout(() => req.socket.destroy(), 20);
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      res.writeHead(201, { 'x-echo': req.headers['x-test'] ?? '', 'set-cookie': ['a=1', 'b=2'] });
      res.end(`${req.method} ${Buffer.concat(chunks).toString()}`);
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  httpUrl = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  // Takes the TCP connection and never speaks TLS: the handshake, part of connecting, never ends.
  silentTls = createTcpServer((socket) => sockets.add(socket));
  await new Promise<void>((resolve) => silentTls.listen(0, '127.0.0.1', resolve));
  silentTlsUrl = `https://127.0.0.1:${(silentTls.address() as AddressInfo).port}/`;
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  for (const t of timers) clearTimeout(t);
  http.closeAllConnections();
  await new Promise((resolve) => http.close(resolve));
  await new Promise((resolve) => silentTls.close(resolve));
});

const exchange = (url: string, extra: Partial<Parameters<typeof sendHttp>[0]> = {}) =>
  sendHttp({
    url,
    method: 'GET',
    headers: {},
    connectTimeoutMs: 500,
    timeoutMs: 1_000,
    maxResponseBytes: 1_000,
    ...extra,
  });

test('sends the method, headers and body; answers status, headers and text', async () => {
  const answer = await exchange(`${httpUrl}/echo`, {
    method: 'POST',
    headers: { 'x-test': 'yes' },
    body: '{"a":"é"}',
  });
  expect(answer.status).toBe(201);
  expect(answer.text).toBe('POST {"a":"é"}');
  expect(answer.headers.get('x-echo')).toBe('yes');
  expect(answer.headers.get('set-cookie')).toBe('a=1, b=2');
});

test('a connection that never completes (TLS never answered) ends at the connect timeout', async () => {
  const started = Date.now();
  await expect(exchange(silentTlsUrl, { connectTimeoutMs: 200, timeoutMs: 5_000 })).rejects.toThrow(
    new HttpTimeoutError('no connection within 200 ms'),
  );
  expect(Date.now() - started).toBeLessThan(4_000);
});

test('an answer slower than the request timeout is abandoned', async () => {
  await expect(exchange(`${httpUrl}/slow`, { timeoutMs: 300 })).rejects.toThrow(
    'no complete answer within 300 ms',
  );
});

test('an answer over the size cap is abandoned, not buffered', async () => {
  await expect(exchange(`${httpUrl}/big`, { maxResponseBytes: 1_000 })).rejects.toThrow(
    'answer larger than 1000 bytes',
  );
});

test('a connection reset mid-answer is an error, not a short answer', async () => {
  await expect(exchange(`${httpUrl}/reset`)).rejects.toThrow();
});

test('a refused connection and an unsupported protocol are errors', async () => {
  await expect(exchange('http://127.0.0.1:9/')).rejects.toThrow(/ECONNREFUSED/);
  await expect(exchange('ftp://127.0.0.1/')).rejects.toThrow('unsupported protocol ftp:');
});

describe('sendHttp: what the Together client relies on', () => {
  test('a reset mid-answer is the socket reset (ECONNRESET), not a short answer', async () => {
    await expect(exchange(`${httpUrl}/reset`)).rejects.toMatchObject({ code: 'ECONNRESET' });
  });

  test('a kept-alive connection serves the next exchange without tripping the connect timeout', async () => {
    for (let i = 0; i < 3; i++) {
      const answer = await exchange(`${httpUrl}/echo`, { connectTimeoutMs: 50 });
      expect(answer.status).toBe(201);
    }
  });
});

describe('openHttpStream', () => {
  const open = (url: string, extra: Partial<Parameters<typeof openHttpStream>[0]> = {}) =>
    openHttpStream({
      url,
      method: 'GET',
      headers: {},
      connectTimeoutMs: 500,
      idleTimeoutMs: 200,
      timeoutMs: 5_000,
      ...extra,
    });
  const readAll = async (body: AsyncIterable<Buffer>) => {
    let bytes = 0;
    for await (const chunk of body) bytes += chunk.length;
    return bytes;
  };

  test('resolves at the headers; the body reads whole', async () => {
    const echo = await open(`${httpUrl}/echo`, { headers: { 'x-test': 'yes' } });
    expect(echo.status).toBe(201);
    expect(echo.headers.get('x-echo')).toBe('yes');
    expect(await echo.text(1_000)).toBe('GET ');
    const res = await open(`${httpUrl}/big`);
    expect(await readAll(res.body)).toBe(10_000);
    res.destroy(); // harmless once over
  });

  test('text() gives at most maxBytes of the body', async () => {
    const res = await open(`${httpUrl}/big`);
    expect(await res.text(25)).toBe('x'.repeat(25));
  });

  test('a server silent before its headers ends at the idle timeout', async () => {
    await expect(open(`${httpUrl}/slow`)).rejects.toThrow(
      new HttpTimeoutError('no bytes for 200 ms while waiting for the answer'),
    );
  });

  test('a body slower than the whole-exchange timeout is abandoned, however it is paced', async () => {
    const res = await open(`${httpUrl}/trickle`, { timeoutMs: 300 });
    await expect(readAll(res.body)).rejects.toThrow(new HttpTimeoutError('no complete answer within 300 ms'));
  });

  test('a body cut short says how much came', async () => {
    const res = await open(`${httpUrl}/reset`);
    await expect(readAll(res.body)).rejects.toThrow(
      'the connection closed before the whole answer came (7 bytes in)',
    );
  });

  test('a connection that never completes ends at the connect timeout', async () => {
    await expect(open(silentTlsUrl, { connectTimeoutMs: 200 })).rejects.toThrow(
      new HttpTimeoutError('no connection within 200 ms'),
    );
  });

  test('a reader that stops early lets go of the exchange', async () => {
    const res = await open(`${httpUrl}/trickle`);
    for await (const chunk of res.body) {
      expect(chunk.length).toBeGreaterThan(0);
      break;
    }
    res.destroy();
    // Reading again after letting go fails at once rather than hanging.
    await expect(readAll(res.body)).rejects.toThrow();
  });

  test('an unsupported protocol is refused before anything is sent', async () => {
    await expect(open('ftp://127.0.0.1/')).rejects.toThrow('unsupported protocol ftp:');
    await expect(open('not a url')).rejects.toThrow('not a URL: not a url');
  });
});
