import { Server } from 'node:http';
import { AddressInfo } from 'node:net';
import type { LocalDynamo } from '../../test/support/dynalite';

/** The server side of the memory benchmarks (bench/support/batch-server.ts, poller-memory-server.ts). */

/** Listens on a free loopback port; resolves with `http://127.0.0.1:<port>`. */
export async function listenOnLoopback(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Sends `ready` to the forking process, and stops the server and dynalite when it says `stop`. */
export function serveUntilStopped(server: Server, dynamo: LocalDynamo, ready: object): void {
  process.on('message', async (m: { cmd: 'stop' }) => {
    if (m.cmd !== 'stop') return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await dynamo.stop();
    process.exit(0);
  });
  process.send!(ready);
}
