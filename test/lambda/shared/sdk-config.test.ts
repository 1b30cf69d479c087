import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { AddressInfo, createServer, Server, Socket } from 'node:net';
import { join } from 'node:path';
import { sdkClientConfig, worstCaseMs } from '../../../lambda/shared/sdk-config';

/** Every AWS SDK client a handler creates has explicit connection and request timeouts, and they hold. */

let silent: Server;
let endpoint: string;
const sockets = new Set<Socket>();

beforeAll(async () => {
  // Accepts the connection, reads the request, never answers: a hung AWS endpoint.
  silent = createServer((socket) => {
    sockets.add(socket);
    socket.on('data', () => undefined);
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((resolve) => silent.close(resolve));
});

test('a hung endpoint costs at most the configured attempts times the request timeout', async () => {
  const limits = { connectionTimeoutMs: 200, requestTimeoutMs: 300, maxAttempts: 2 };
  const client = new DynamoDBClient({
    ...sdkClientConfig(limits),
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  const started = Date.now();
  await expect(
    client.send(new GetItemCommand({ TableName: 'table', Key: { id: { S: 'x' } } })),
  ).rejects.toThrow(/timed out|timeout/i);
  const took = Date.now() - started;
  expect(took).toBeGreaterThanOrEqual(limits.maxAttempts * limits.requestTimeoutMs - 50);
  expect(took).toBeLessThan(worstCaseMs(limits) + 1_000);
  client.destroy();
});

test('every SDK client in the handlers is created with explicit limits', () => {
  const files = (dir: string): string[] =>
    readdirSync(dir).flatMap((f) => {
      const path = join(dir, f);
      return statSync(path).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : [];
    });
  const root = join(__dirname, '..', '..', '..');
  const clients = [...files(join(root, 'lambda')), ...files(join(root, 'bin', 'handlers'))].flatMap((file) =>
    [...readFileSync(file, 'utf8').matchAll(/new (\w+Client)\(([^)]*)\)/g)].map((m) => ({
      at: `${file.slice(root.length + 1)}: ${m[1]}`,
      limited: m[2].trim().startsWith('sdkClientConfig('),
    })),
  );
  expect(clients.length).toBeGreaterThanOrEqual(9);
  expect(clients.filter((c) => !c.limited)).toEqual([]);
});
