import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { ListingOptions, PollApi, PollApiOptions, RequestFailed, StopPoll } from '../../../lambda/poller/api';
import { realClock } from '../../../lambda/shared/together-api';

/**
 * PollApi.list, the streamed read of GET /fine-tunes, against a server on 127.0.0.1 that answers however a test
 * says: bodies cut short, stalled, malformed, too large; error answers. Every failure is a RequestFailed with a
 * one-line reason (or a StopPoll for a refused key or a rate limit); never a shorter listing.
 */

const KEY = 'tgp_listing_key_0123456789';
let handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.end();
let server: Server;
let baseUrl: string;
const timers: NodeJS.Timeout[] = [];

beforeAll(async () => {
  server = createServer((req, res) => handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
});
afterEach(() => timers.splice(0).forEach(clearTimeout));
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const refusals: number[] = [];
function api(extra: Partial<PollApiOptions> = {}): PollApi {
  return new PollApi({
    baseUrl,
    apiKey: KEY,
    clock: realClock,
    workDeadlineMs: Date.now() + 20_000,
    connectTimeoutMs: 1_000,
    requestTimeoutMs: 300,
    listingTimeoutMs: 2_000,
    onKeyRefused: async (status) => void refusals.push(status),
    ...extra,
  });
}

const ids: ListingOptions<string> = {
  key: 'data',
  pick: (item) => (item as { id?: string }).id,
  noun: 'fine-tunes',
  tooLarge: 'delete the fine-tune jobs you no longer need',
};
const listing = (n: number) =>
  JSON.stringify({ data: Array.from({ length: n }, (_, i) => ({ id: `ft-${i}`, status: 'completed' })) });

/** Answers with `body` in pieces of `size` bytes, one per event-loop turn. */
function sendInPieces(res: ServerResponse, body: string, size = 50, headers: Record<string, string> = {}) {
  res.writeHead(200, { 'content-type': 'application/json', ...headers });
  const bytes = Buffer.from(body);
  let at = 0;
  const next = () => {
    if (at >= bytes.length) return void res.end();
    res.write(bytes.subarray(at, (at += size)));
    timers.push(setTimeout(next, 1));
  };
  next();
}

async function failure(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected the listing to fail');
}

test('a listing streamed in small pieces is read whole, with what pick keeps, in order; one request', async () => {
  let asked: IncomingMessage | undefined;
  handler = (req, res) => {
    asked = req;
    sendInPieces(res, listing(300), 37);
  };
  const a = api();
  const got = await a.list('/fine-tunes', ids);
  expect(got).toEqual(Array.from({ length: 300 }, (_, i) => `ft-${i}`));
  expect(asked?.url).toBe('/v1/fine-tunes');
  expect(asked?.headers.authorization).toBe(`Bearer ${KEY}`);
  expect({ requests: a.requests, succeeded: a.succeeded }).toEqual({ requests: 1, succeeded: 1 });
});

test('a body cut short (the connection closes mid-listing) fails, naming how far it got', async () => {
  handler = (req, res) => {
    const body = listing(100);
    res.writeHead(200, { 'content-length': String(body.length) });
    res.write(body.slice(0, 1_000));
    timers.push(setTimeout(() => req.socket.destroy(), 20));
  };
  const err = await failure(api().list('/fine-tunes', ids));
  expect(err).toBeInstanceOf(RequestFailed);
  expect(err.message).toMatch(
    /^GET \/fine-tunes: the answer broke off after 1000 bytes \(.*\); none of the \d+ fine-tunes read before it is used$/,
  );
});

test('a complete answer whose JSON stops early fails the same way: never a shorter listing', async () => {
  handler = (_req, res) => sendInPieces(res, listing(50).slice(0, -2));
  const err = await failure(api().list('/fine-tunes', ids));
  expect(err.message).toMatch(
    /^GET \/fine-tunes: malformed JSON \(the JSON ends early, after \d+ bytes\); none of the 50/,
  );
});

test('malformed halfway: a RequestFailed naming where, none of the items before it used', async () => {
  handler = (_req, res) => sendInPieces(res, listing(40).replace('{"id":"ft-20"', '{"id":"ft-20",,'));
  const err = await failure(api().list('/fine-tunes', ids));
  expect(err).toBeInstanceOf(RequestFailed);
  expect(err.message).toMatch(
    /^GET \/fine-tunes: malformed JSON \(item 21 of "data" \(ending near byte \d+\) is not valid JSON: .*\); none of the 20 fine-tunes read before it is used$/,
  );
  expect(err.message).not.toMatch(/\n/);
});

test.each<[string, string]>([
  ['{"data":{"id":"ft-1"}}', 'GET /fine-tunes: unexpected answer ("data" is not an array)'],
  ['{"object":"list"}', 'GET /fine-tunes: unexpected answer (no "data" member)'],
  ['[{"id":"ft-1"}]', 'GET /fine-tunes: unexpected answer (the answer is not a JSON object)'],
  ['', 'GET /fine-tunes: malformed JSON (empty answer); none of the 0 fine-tunes read before it is used'],
])("an answer that is not the spec's listing: %j", async (body, message) => {
  handler = (_req, res) => res.end(body);
  const err = await failure(api().list('/fine-tunes', ids));
  expect(err).toBeInstanceOf(RequestFailed);
  expect(err.message).toBe(message);
});

test('a server that stops sending mid-body is given up after the request timeout (300 ms here)', async () => {
  handler = (_req, res) => {
    res.writeHead(200);
    res.write('{"data":[{"id":"ft-1"},');
  };
  const started = Date.now();
  const err = await failure(api().list('/fine-tunes', ids));
  expect(Date.now() - started).toBeLessThan(1_900);
  expect(err.message).toMatch(
    /^GET \/fine-tunes: the answer broke off after 23 bytes \(HttpTimeoutError: no bytes for 300 ms/,
  );
});

test('a listing still flowing at the whole-exchange timeout says what to do: more memory is more CPU', async () => {
  handler = (_req, res) => sendInPieces(res, listing(5_000), 20);
  const err = await failure(api({ listingTimeoutMs: 400 }).list('/fine-tunes', ids));
  expect(err.message).toMatch(
    /HttpTimeoutError: no complete answer within 400 ms\); none of the \d+ fine-tunes read before it is used: Lambda gives CPU in proportion to memory, so raise the poller's memorySize$/,
  );
});

test('no connection: the connect timeout, as for every request', async () => {
  const err = await failure(
    api({ baseUrl: 'http://127.0.0.1:9/v1', connectTimeoutMs: 200 }).list('/fine-tunes', ids),
  );
  expect(err).toBeInstanceOf(RequestFailed);
  expect(err.message).toMatch(/^GET \/fine-tunes got no answer from Together \(/);
});

test('larger than the byte cap: fails naming the cap, what was read and what to do', async () => {
  handler = (_req, res) => sendInPieces(res, listing(200), 1_000);
  const err = await failure(api({ maxListingBytes: 4_000 }).list('/fine-tunes', ids));
  expect(err.message).toMatch(
    /^GET \/fine-tunes: the answer is larger than 4000 bytes, the most the poller reads \(\d+ fine-tunes read by then\): delete the fine-tune jobs you no longer need$/,
  );
});

test('more jobs than this memory holds: fails naming the count and both ways out', async () => {
  handler = (_req, res) => sendInPieces(res, listing(200), 1_000);
  const err = await failure(api({ maxListedItems: 150 }).list('/fine-tunes', ids));
  expect(err.message).toBe(
    "GET /fine-tunes lists more than 150 fine-tunes, the most this poller holds in its memory: raise the poller's " +
      'memorySize, or delete the fine-tune jobs you no longer need',
  );
  // Exactly at the cap is fine.
  expect(await api({ maxListedItems: 200 }).list('/fine-tunes', ids)).toHaveLength(200);
});

describe('error answers are sorted as for every other request', () => {
  const answer = (status: number, body: string, headers: Record<string, string> = {}) =>
    (handler = (_req, res) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(body);
    });

  test('401: the key alert, then the poll stops; the key is never repeated', async () => {
    refusals.length = 0;
    answer(
      401,
      JSON.stringify({ error: { message: `Invalid API key ${KEY}`, type: 'invalid_request_error' } }),
    );
    const err = await failure(api().list('/fine-tunes', ids));
    expect(err).toBeInstanceOf(StopPoll);
    expect(err).toMatchObject({
      kind: 'auth',
      message: 'GET /fine-tunes: Together rejected the API key (HTTP 401): Invalid API key [API key]',
    });
    expect(refusals).toEqual([401]);
  });

  test('429: the poll stops, rate limited', async () => {
    answer(429, JSON.stringify({ error: { message: 'slow down' } }), { 'x-ratelimit-remaining': '0' });
    const err = await failure(api().list('/fine-tunes', ids));
    expect(err).toMatchObject({
      kind: 'rate_limited',
      message: 'GET /fine-tunes: rate limited by Together (HTTP 429, remaining 0): slow down',
    });
  });

  test("500: a RequestFailed with Together's words", async () => {
    answer(500, JSON.stringify({ error: { message: 'internal error', type: 'server_error' } }));
    const err = await failure(api().list('/fine-tunes', ids));
    expect(err).toBeInstanceOf(RequestFailed);
    expect(err.message).toBe('GET /fine-tunes: HTTP 500: internal error');
  });

  test('out of time before it starts: no request', async () => {
    const a = api({ workDeadlineMs: Date.now() - 1 });
    const err = await failure(a.list('/fine-tunes', ids));
    expect(err).toMatchObject({ kind: 'out_of_time' });
    expect(a.requests).toBe(0);
  });
});
