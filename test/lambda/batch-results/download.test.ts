import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { togetherFileOpener } from '../../../lambda/batch-results/download';
import { HttpTimeoutError, openHttpStream } from '../../../lambda/shared/http';
import { batchOutput } from '../../support/batch-results-fixtures';
import { batchDone, batchResultsHarness } from '../../support/batch-results-harness';
import { TOGETHER_ERROR } from '../../support/fake-together';

/** Downloading a Together file: its deadline, Together's refusals (the key never shown), the stream it reads. */

const h = batchResultsHarness();
const { together, s3, logs, deps, run, key, sameBytes, published, claim } = h;

describe('time: nothing runs past the function', () => {
  test('the time spent reading the key counts against the download deadline', async () => {
    let clock = 1_000_000;
    let timeoutMs = 0;
    const open = togetherFileOpener({
      baseUrl: 'https://api.together.xyz/v1',
      now: () => clock,
      apiKey: async () => {
        clock += 15_000; // a slow GetSecretValue, within its limits
        return 'k';
      },
      stream: async (x) => {
        timeoutMs = x.timeoutMs;
        return {
          status: 200,
          headers: new Headers(),
          body: (async function* () {})(),
          text: async () => '',
          destroy: () => undefined,
        };
      },
    });
    const deadline = clock + 20_000;
    await open('file-1', deadline);
    expect(clock + timeoutMs).toBeLessThanOrEqual(deadline);
    clock = deadline;
    await expect(open('file-1', deadline + 10_000)).rejects.toThrow('no time left to download file file-1');
  });
});

test("Together answers 500: the handler throws with Together's message, the claim is released, a retry publishes once", async () => {
  const small = batchOutput(32 * 1024, 5);
  together.jobs.files.set('file-5', small.text);
  together.script('GET', /^\/v1\/files\/file-5\/content$/, {
    status: 500,
    body: TOGETHER_ERROR('The server had an error while processing your request', 'server_error'),
  });
  const event = batchDone('batch-5', { output_file_id: 'file-5' });

  const err = await run(event).then(
    () => undefined,
    (e: Error) => e,
  );
  expect(err?.message).toMatch(/HTTP 500: The server had an error while processing your request/);
  expect(err?.message).toMatch(/the claim is released/);
  expect(err?.message).not.toContain(together.apiKey);
  expect(s3.mock.calls()).toHaveLength(0);
  expect(published()).toHaveLength(0);
  expect(await claim('batch-5')).toBeUndefined();

  expect((await run(event)).outcome).toBe('published');
  expect(published()).toHaveLength(1);
  expect(sameBytes(key('batch-5', 'output.jsonl'), small.text)).toBe(true);
});

test('a refused API key: Together says why, the key is not in the error, and the cached key is dropped', async () => {
  together.jobs.files.set('file-k', 'x\n');
  let dropped = 0;
  const wrongKey = 'tgp_wrong_key_never_in_logs';
  const d = deps({
    openFile: togetherFileOpener({
      baseUrl: together.baseUrl,
      apiKey: async () => wrongKey,
      stream: openHttpStream,
      now: Date.now,
      onKeyRefused: () => dropped++,
    }),
  });
  const err = await run(batchDone('batch-k', { output_file_id: 'file-k' }), d).catch((e: Error) => e);
  expect(String(err)).toMatch(/HTTP 401: Invalid API key provided/);
  expect(String(err)).not.toContain(wrongKey);
  expect(JSON.stringify(logs)).not.toContain(wrongKey);
  expect(dropped).toBe(1);
  // Not ours: the afterEach check of the key does not apply to this deliberately wrong one.
  together.requests.length = 0;
  together.answers.length = 0;
});

describe('openHttpStream', () => {
  let server: Server;
  let base = '';
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/stall') {
        res.writeHead(200, { 'content-length': '100' });
        res.write('some');
        return; // and nothing more
      }
      res.end('a'.repeat(300_000));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  const open = (path: string) =>
    openHttpStream({
      url: `${base}${path}`,
      method: 'GET',
      headers: {},
      connectTimeoutMs: 1_000,
      idleTimeoutMs: 100,
      timeoutMs: 10_000,
    });

  test('a server that goes silent mid-body ends at the idle timeout', async () => {
    const res = await open('/stall');
    const read = async () => {
      for await (const chunk of res.body) void chunk;
    };
    await expect(read()).rejects.toThrow(
      new HttpTimeoutError('no bytes for 100 ms while waiting for the next bytes'),
    );
  });

  test('a reader that holds back longer than the idle timeout is not timed out: the pause is ours', async () => {
    const res = await open('/full');
    let bytes = 0;
    for await (const chunk of res.body) {
      bytes += chunk.length;
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
    expect(bytes).toBe(300_000);
  });
});
