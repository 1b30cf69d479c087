import { capture } from '../support/cli';

/** The command table: help, dispatch, and each command's usage errors (exit 2) with the fix named. */

describe('help and usage errors', () => {
  test('no command: the list of commands, exit 2; --help: the same, exit 0; each command has its own', async () => {
    const c = capture();
    expect(await c.run()).toBe(2);
    expect(c.out.join('\n')).toMatch(/dev .*\n\s+send .*\n\s+sign .*\n\s+verify .*\n\s+listen /);
    expect(await c.run('--help')).toBe(0);
    for (const command of ['dev', 'send', 'sign', 'verify', 'listen']) {
      const h = capture();
      expect(await h.run(command, '--help')).toBe(0);
      expect(h.out.join('\n')).toContain(`together-webhooks ${command}`);
    }
  });

  test.each([
    [['nope'], /unknown command "nope"/],
    [
      ['send', 'fine_tune.complete', '--url', 'http://127.0.0.1:1/', '--secret', 's'],
      /unknown event type "fine_tune.complete"; one of: fine_tune.completed, /,
    ],
    [['send', 'batch.done', '--secret', 's'], /--url is required: where to POST/],
    [
      ['send', 'batch.done', '--url', 'http://127.0.0.1:1/'],
      /--secret is required \(or TOGETHER_WEBHOOK_SECRET\)/,
    ],
    [
      ['send', 'batch.done', '--url', 'http://example.com/hook', '--secret', 's'],
      /--url must be https \(http only for 127\.0\.0\.1 or localhost\)/,
    ],
    [
      ['send', 'batch.done', '--url', 'http://127.0.0.1:1/', '--secret', 's', '--repeat', '0'],
      /--repeat must be a whole number from 1 to 1000, got "0"/,
    ],
    [
      ['send', 'batch.done', '--url', 'http://127.0.0.1:1/', '--secret', 's', '--data', 'oops'],
      /--data must be key=value, got "oops"/,
    ],
    [
      ['sign', '--secret', 's', '--scheme', 'md5'],
      /--scheme must be together-hmac or standard-webhooks, got "md5"/,
    ],
    [['sign', '--bogus'], /unknown option --bogus/],
    [['listen'], /TOGETHER_API_KEY is not set: export your Together API key/],
  ])('%j exits 2 and names the fix', async (argv, message) => {
    const c = capture();
    expect(await c.run(...argv)).toBe(2);
    expect(c.err.join('\n')).toMatch(message);
  });

  test('an unreachable --url exits 1 and asks whether the receiver runs', async () => {
    const c = capture();
    expect(await c.run('send', 'batch.done', '--url', 'http://127.0.0.1:9/hook', '--secret', 's')).toBe(1);
    expect(c.err.join('\n')).toMatch(
      /could not reach http:\/\/127\.0\.0\.1:9\/hook: ECONNREFUSED\. Is the receiver running/,
    );
  });
});
