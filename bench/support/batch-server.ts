/**
 * The batch results benchmark's other side, in its own process: the generated batch files held in memory and
 * served as Together serves them (`GET /v1/files/<id>/content` with the key), and dynalite for the recipe's claims.
 * Kept out of bench/batch-results.ts on purpose: Linux starts a child's `maxRSS` at its parent's RSS at the fork,
 * so the process that forks the measured copies must stay small. Driven over IPC.
 */
import { createServer } from 'node:http';
import { PART_BYTES } from '../../lambda/batch-results/s3-writer';
import { batchOutput } from '../../test/support/batch-results-fixtures';
import { startDynalite } from '../../test/support/dynalite';
import { listenOnLoopback, serveUntilStopped } from './serve';

export interface ServedFile {
  readonly id: string;
  readonly bytes: number;
  readonly lines: number;
  readonly totalTokens: number;
}

export interface ServerReady {
  readonly baseUrl: string;
  readonly apiKey: string;
  readonly dynamoEndpoint: string;
  readonly table: string;
  readonly partBytes: number;
  readonly files: Record<string, ServedFile>;
}

const MiB = 1024 * 1024;

async function main() {
  const apiKey = 'bench-together-key';
  const sizes = (process.env.SIZES_MIB ?? '64,256').split(',').map(Number);
  const bodies = new Map<string, Buffer>();
  const files: Record<string, ServedFile> = {};
  const add = (id: string, mib: number, seed: number) => {
    const generated = batchOutput(mib * MiB, seed);
    bodies.set(id, Buffer.from(generated.text, 'utf8'));
    files[id] = {
      id,
      bytes: generated.bytes,
      lines: generated.expected.lines,
      totalTokens: generated.expected.total,
    };
  };
  add('file-warm', 1, 99);
  sizes.forEach((mib, i) => add(`file-${mib}mib`, mib, i + 1));

  const server = createServer((req, res) => {
    const m = /^\/v1\/files\/([^/]+)\/content$/.exec(req.url ?? '');
    const body = m ? bodies.get(decodeURIComponent(m[1])) : undefined;
    if (req.headers.authorization !== `Bearer ${apiKey}`) {
      res.writeHead(401).end();
      return;
    }
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    // Written without a copy; the socket takes it only as fast as the reader reads (TCP backpressure).
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
    res.end(body);
  });
  const base = await listenOnLoopback(server);
  const dynamo = await startDynalite();
  const ready: ServerReady = {
    baseUrl: `${base}/v1`,
    apiKey,
    dynamoEndpoint: dynamo.endpoint,
    table: await dynamo.createTable('bench-batch'),
    partBytes: PART_BYTES,
    files,
  };
  serveUntilStopped(server, dynamo, ready);
}

void main().catch((err) => {
  console.error(err);
  process.exit(1);
});
