import { ChildProcess, spawn } from 'node:child_process';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';

/**
 * Prism's dynamic mock of an OpenAPI description (`prism mock -d`), from node_modules/.bin, on 127.0.0.1 at a free
 * port: every answer a random, spec-valid body. It reads only the local file and listens only on loopback, so it
 * needs no network. Started in its own process group, so `stop()` (and, should jest die first, process exit) ends
 * it and only it.
 */

const ROOT = join(__dirname, '..', '..');
/** Together's own API description, beside the repository (../shared). */
export const TOGETHER_SPEC = join(ROOT, '..', 'shared', 'together', 'openapi.yaml');

export interface PrismMock {
  readonly baseUrl: string;
  /** The last lines Prism printed (for a failure message). */
  output(): string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The HTTP status of one GET, or undefined when nothing answers yet. */
function status(url: string, headers: Record<string, string>): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = request(url, { headers, timeout: 2_000 }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
    req.end();
  });
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

/**
 * Starts Prism on `spec` and resolves once it answers `probe` (with `headers`) with 200. Prism takes ~10 s to read
 * Together's 14,000-line description; it gets `startTimeoutMs`. A port taken between finding and binding it is
 * retried on another.
 */
export async function startPrism(
  spec: string,
  opts: { probe: string; headers?: Record<string, string>; startTimeoutMs?: number },
): Promise<PrismMock> {
  const deadline = Date.now() + (opts.startTimeoutMs ?? 45_000);
  let lastOutput = '';
  for (let attempt = 1; attempt <= 3; attempt++) {
    const port = await freePort();
    const child = spawn(
      join(ROOT, 'node_modules', '.bin', 'prism'),
      // Only what stops it is printed: it otherwise logs every liberty its own answers take with the spec.
      ['mock', '--dynamic', '--verboseLevel', 'fatal', '--host', '127.0.0.1', '--port', String(port), spec],
      {
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, SCARF_ANALYTICS: 'false' },
      },
    );
    // Kept for the error, should it not start.
    let output = '';
    const keep = (chunk: Buffer) => (output = (output + chunk.toString('utf8')).slice(-8_000));
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const onExit = () => killGroup(child, 'SIGKILL');
    process.once('exit', onExit);
    const stop = async () => {
      process.removeListener('exit', onExit);
      killGroup(child, 'SIGTERM');
      const timer = setTimeout(() => killGroup(child, 'SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    };
    const baseUrl = `http://127.0.0.1:${port}`;
    while (Date.now() < deadline && child.exitCode === null && child.signalCode === null) {
      if ((await status(baseUrl + opts.probe, opts.headers ?? {})) === 200)
        return { baseUrl, output: () => output, stop };
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    await stop();
    lastOutput = output;
    if (Date.now() >= deadline) break;
  }
  throw new Error(`Prism did not start on ${spec}:\n${lastOutput.slice(-2_000)}`);
}
