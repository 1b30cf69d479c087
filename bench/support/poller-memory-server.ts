/**
 * The poller memory benchmark's other side, in its own process: large `GET /fine-tunes` listings held as Buffers and
 * served over loopback at zero latency, one per base path (`/<listing>/v1/...`), the few other requests a poll makes
 * (`/batches`, `/fine-tunes/{id}/metrics`, ...), and dynalite for claims and state. Kept out of the forking process
 * on purpose: Linux starts a child's `maxRSS` at its parent's RSS at the fork. Driven over IPC.
 */
import { createServer } from 'node:http';
import { startDynalite } from '../../test/support/dynalite';
import { fineTuneListingBody } from '../../test/support/fine-tune-listing';
import { listenOnLoopback, serveUntilStopped } from './serve';

export interface ServedListing {
  /** Base URL of this listing's Together, e.g. http://127.0.0.1:1234/n50000/v1. */
  readonly baseUrl: string;
  readonly jobs: number;
  readonly bytes: number;
  readonly running: number;
  readonly recent: number;
}

export interface MemoryServerReady {
  readonly apiKey: string;
  readonly dynamoEndpoint: string;
  /** Epoch ms the listings are dated for: the measured poll's clock. */
  readonly now: number;
  readonly listings: Record<string, ServedListing>;
}

async function main() {
  const apiKey = 'bench-together-key';
  const sizes = (process.env.SIZES ?? '10000,50000,100000').split(',').map(Number);
  const now = Date.now();
  const bodies = new Map<string, Buffer>();
  const listings: Record<string, ServedListing> = {};
  const server = createServer((req, res) => {
    if (req.headers.authorization !== `Bearer ${apiKey}`) {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end('{"error":{"message":"Invalid API key provided","type":"invalid_request_error"}}');
      return;
    }
    const m = /^\/([^/]+)\/v1(\/.*)$/.exec(req.url ?? '');
    const body = m ? bodies.get(m[1]) : undefined;
    const path = m?.[2] ?? '';
    const json = (status: number, text: string | Buffer) => {
      res.writeHead(status, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(text),
      });
      res.end(text);
    };
    // Written without a copy; the socket takes it only as fast as the poller reads (TCP backpressure).
    if (body && path === '/fine-tunes') json(200, body);
    else if (path === '/batches' || path === '/models') json(200, '[]');
    else if (/^\/fine-tunes\/[^/]+\/metrics$/.test(path)) json(200, '{"metrics":[]}');
    else if (/^\/fine-tunes\/[^/]+\/events$/.test(path)) json(200, '{"data":[]}');
    else json(404, '{"error":{"message":"not found","type":"invalid_request_error"}}');
  });
  const base = await listenOnLoopback(server);
  const add = (name: string, total: number, seed: number) => {
    const running = Math.max(1, Math.round(total / 100));
    const recent = 10;
    const { body } = fineTuneListingBody({ total, now, seed, running, recent });
    bodies.set(name, body);
    listings[name] = { baseUrl: `${base}/${name}/v1`, jobs: total, bytes: body.length, running, recent };
  };
  add('warm', 200, 99);
  sizes.forEach((n, i) => add(`n${n}`, n, i + 1));
  const dynamo = await startDynalite();
  const ready: MemoryServerReady = { apiKey, dynamoEndpoint: dynamo.endpoint, now, listings };
  serveUntilStopped(server, dynamo, ready);
}

void main().catch((err) => {
  console.error(err);
  process.exit(1);
});
