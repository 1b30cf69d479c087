import { AddressInfo, createServer as createTcpServer, Server as TcpServer } from 'node:net';
import { createServer, Server } from 'node:http';
import { HttpTimeoutError, sendHttp } from '../../../lambda/shared/http';

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
