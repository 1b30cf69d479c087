import { main } from '../../bin/cli';
import { dev } from '../../bin/cli/dev';
import { Io } from '../../bin/cli/io';
import { parseArgs } from '../../bin/cli/args';
import { COMMANDS } from '../../bin/cli/commands';
import { FakeTogether } from '../support/fake-together';
import { video } from '../support/together-fixtures';

/**
 * `dev` with TOGETHER_API_KEY follows its own inbox: `track` with the flags its banner prints reaches it. dev runs
 * on the real clock (its own), so the fake's answers are dated by it too; nothing here uses the fixture clock.
 */

const together = new FakeTogether();
beforeAll(() => together.start());
afterAll(() => together.stop());

test('track, with the flags dev prints, hands a video to dev; its poller follows it to the bus', async () => {
  together.jobs.videos = [video('vid-dev', 'completed', { at: Date.now() - 1000 })];
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = {
    out: (line) => out.push(line),
    err: (line) => err.push(line),
    readBody: async () => Buffer.alloc(0),
    env: {
      TOGETHER_API_KEY: together.apiKey,
      TOGETHER_API_BASE_URL: together.baseUrl,
      TOGETHER_WEBHOOK_SECRET: 's',
    },
  };
  const stop = new AbortController();
  const running = dev(parseArgs(['--port', '0', '--interval', '1'], COMMANDS.dev.spec), io, {
    signal: stop.signal,
  });
  try {
    const wait = async (check: () => boolean) => {
      for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 25));
    };
    await wait(() => err.some((l) => l.includes('track one:')));
    const line = err.find((l) => l.includes('track one:'))!;
    const flags = /--table (\S+) --scope (\S+) --endpoint (\S+)/.exec(line)!;
    expect(flags[2]).toBe('dev');
    const printed: string[] = [];
    const code = await main(
      ['track', 'video', 'vid-dev', '--table', flags[1], '--scope', flags[2], '--endpoint', flags[3]],
      {
        ...io,
        out: (l) => printed.push(l),
      },
    );
    expect([code, printed]).toEqual([0, ['tracked video:vid-dev']]);
    await wait(() => out.some((l) => l.includes('video.completed:vid-dev')));
    const routed = out.map(
      (l) => JSON.parse(l) as { event: { 'detail-type': string; detail: { data: unknown } } },
    );
    expect(routed.map((r) => r.event['detail-type'])).toEqual(['video.completed']);
    expect(routed[0].event.detail.data).toMatchObject({
      video_id: 'vid-dev',
      video_url: 'https://api.together.ai/shrt/vid-dev',
    });
  } finally {
    stop.abort();
    await running;
  }
}, 30_000);
