import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { fileIdFromUrl } from '../../../lambda/batch-results/download';
import { batchDone, batchResultsHarness } from '../../support/batch-results-harness';

/** The batch.done that asks for a collection: only a usable one is read, and its output_url only on the API. */

const h = batchResultsHarness();
const { together, s3, logs, run, published, claim, fileRequests } = h;

describe('output_url', () => {
  let evil: Server;
  let evilBase = '';
  const evilRequests: string[] = [];
  beforeAll(async () => {
    evil = createServer((req, res) => {
      evilRequests.push(`${req.method} ${req.url} ${req.headers.authorization ?? ''}`);
      res.end('{}');
    });
    await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', resolve));
    evilBase = `http://127.0.0.1:${(evil.address() as AddressInfo).port}/v1`;
  });
  afterAll(async () => {
    evil.closeAllConnections();
    await new Promise((resolve) => evil.close(resolve));
  });

  test('pointing at another host is refused before any request: the key goes nowhere', async () => {
    together.jobs.files.set('file-x', 'x\n');
    const event = batchDone('batch-evil', { output_url: `${evilBase}/files/file-x/content` });

    await expect(run(event)).rejects.toThrow(
      /refusing output_url .* only .*\/files\/<id>\/content is followed/,
    );
    expect(evilRequests).toEqual([]);
    expect(together.requests).toEqual([]);
    expect(s3.mock.calls()).toHaveLength(0);
    expect(published()).toHaveLength(0);
    expect(await claim('batch-evil')).toBeUndefined();
    expect(logs).toContainEqual(
      expect.objectContaining({
        level: 'ERROR',
        error: expect.stringMatching(/RefusedUrlError: .*refusing output_url/),
      }),
    );
  });

  test('only the exact <base>/files/<id>/content is read as a file id', () => {
    const base = 'https://api.together.xyz/v1';
    const cases: Array<[string, string | undefined]> = [
      [`${base}/files/file-9a8b7c/content`, 'file-9a8b7c'],
      ['https://api.together.xyz:443/v1/files/file-1/content', 'file-1'],
      [`${base}/files/file%2D1/content`, 'file-1'],
      [`${base}/files/file-1/content?redirect=https://evil.example`, undefined],
      [`${base}/files/file-1/content?`, undefined],
      [`${base}/files/file-1/content#x`, undefined],
      [`${base}/files/a/b/content`, undefined],
      [`${base}/files//content`, undefined],
      [`${base}/files/file-1/content/`, undefined],
      [`${base}/files/../files/file-1/content`, undefined],
      ['https://api.together.xyz/v2/files/file-1/content', undefined],
      ['https://api.together.xyz/files/file-1/content', undefined],
      ['http://api.together.xyz/v1/files/file-1/content', undefined],
      ['https://api.together.xyz.evil.example/v1/files/file-1/content', undefined],
      ['https://evil.example/v1/files/file-1/content', undefined],
      ['https://user:pw@api.together.xyz/v1/files/file-1/content', undefined],
      ['https://api.together.xyz:8443/v1/files/file-1/content', undefined],
      ['not a url', undefined],
    ];
    expect(cases.map(([url]) => [url, fileIdFromUrl(url, base)])).toEqual(cases);
    expect(fileIdFromUrl(`${base}/files/f/content`, `${base}/`)).toBe('f');
  });

  test('a file id beside the URL wins: the URL is not followed at all', async () => {
    together.jobs.files.set('file-id-wins', '{"usage":{"total_tokens":3}}\n');
    await run(
      batchDone('batch-both', {
        output_file_id: 'file-id-wins',
        output_url: `${evilBase}/files/other/content`,
      }),
    );
    expect(evilRequests).toEqual([]);
    expect(fileRequests().map((r) => r.path)).toEqual(['/v1/files/file-id-wins/content']);
    expect(published().map((e) => e.detail.data.total_tokens)).toEqual([3]);
  });
});

test('events it cannot use are refused clearly; a batch with no files is logged and left alone', async () => {
  await expect(
    run({ 'detail-type': 'batch.collected', detail: { data: { batch_id: 'b' } } }),
  ).rejects.toThrow('expected a batch.done event, got detail-type batch.collected');
  await expect(run(batchDone('', {}))).rejects.toThrow('batch.done without a non-empty string data.batch_id');
  await expect(run({ ...batchDone('b', {}), detail: { data: { batch_id: 42 } } })).rejects.toThrow(
    'non-empty string data.batch_id',
  );
  await expect(run(batchDone('batch-dots', { output_file_id: '..' }))).rejects.toThrow(
    /not a usable file id/,
  );

  expect(await run(batchDone('batch-empty', { status: 'CANCELLED', output_file_id: null }))).toEqual({
    outcome: 'nothing_to_collect',
    batchId: 'batch-empty',
  });
  expect(logs).toContainEqual(
    expect.objectContaining({
      batch_id: 'batch-empty',
      message: expect.stringMatching(/nothing to collect/),
    }),
  );
  expect(together.requests).toEqual([]);
  expect(s3.mock.calls()).toHaveLength(0);
  expect(published()).toHaveLength(0);
  expect(await claim('batch-empty')).toBeUndefined();
});
